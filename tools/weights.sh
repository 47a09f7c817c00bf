#!/usr/bin/env bash
# Fills $WEIGHTS_DIR (default weights/) with two safetensors files per width, F16 (what the page
# loads: half the bytes; logits within docs/publish.md's figures) and F32 (`.f32.safetensors`,
# `?precision=f32`), and manifest.json. Each URL carries `?v=` and the start of the file's
# SHA-256, which tools/serve.mjs caches as immutable.
#   tools/weights.sh CLI [FILE [LABELS]]
# FILE (a .pth, .mdl or .safetensors) is converted and used for its width; a model of no
# published width (a fine-tune with its own classes) becomes model.safetensors, listed as
# "model" in the manifest, which the page opens first. LABELS (class_indices.json or
# labels.txt) is stored in the converted file as its class names. Otherwise weights/ is
# kept if it has a manifest; else torchvision's pretrained files are downloaded and
# converted; offline (or with SHUFFLENET_OFFLINE=1), seeded random stand-ins are written and
# marked untrained. Downloads are checked against the SHA-256 prefix in their published file
# names (`-5666bf0f80.pth`); the manifest lists each file's full SHA-256, which the page
# checks after download.
set -euo pipefail
CLI="$1" IN="${2:-}" LABELS="${3:-}"
DIR="${WEIGHTS_DIR:-$(dirname "$0")/../weights}"
mkdir -p "$DIR"
# SHUFFLENET_WEIGHTS_URL: another place holding the same files (a mirror; the tests).
BASE="${SHUFFLENET_WEIGHTS_URL:-https://download.pytorch.org/models}"
declare -A URLS=(
  [0.5]=$BASE/shufflenetv2_x0.5-f707e7126e.pth
  [1.0]=$BASE/shufflenetv2_x1-5666bf0f80.pth
  [1.5]=$BASE/shufflenetv2_x1_5-3c479a10.pth
  [2.0]=$BASE/shufflenetv2_x2_0-8be3c8ee.pth
)
declare -A TRAINED=()
log() { printf '\033[1;34m[weights]\033[0m %s\n' "$*" >&2; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Writes manifest.json from TRAINED and the files' hashes.
write_manifest() {
  # A URL naming its content: `?v=` and the SHA-256's first 16 hex digits.
  entry() { local h; h=$(sha256 "$DIR/$1"); printf '"url": "weights/%s?v=%s", "sha256": "%s"' "$1" "${h:0:16}" "$h"; }
  {
    echo '{"widths": {'
    sep=
    for w in 0.5 1.0 1.5 2.0; do
      printf '%s  "%s": {%s, "trained": %s' "$sep" "$w" "$(entry "shufflenetv2_x$w.safetensors")" "${TRAINED[$w]}"
      [ -f "$DIR/shufflenetv2_x$w.f32.safetensors" ] && printf ', "f32": {%s}' "$(entry "shufflenetv2_x$w.f32.safetensors")"
      printf '}'
      sep=$',\n'
    done
    printf '\n}'
    if [ -f "$DIR/model.safetensors" ]; then
      printf ',\n"model": {%s, "name": "%s"}' "$(entry model.safetensors)" \
        "$(cat "$DIR/model.name" 2>/dev/null || echo model)"
    fi
    printf '}\n'
  } > "$DIR/manifest.json"
}

# The page's F16 copy of a width's F32 file.
half() { "$CLI" convert "$DIR/shufflenetv2_x$1.f32.safetensors" "$DIR/shufflenetv2_x$1.safetensors" --f16 >/dev/null; }

# torchvision names each file after the first hex digits of its SHA-256.
matches_published_hash() {
  local file="$1" url="$2" want
  want=$(basename "$url" .pth); want=${want##*-}
  case "$(sha256 "$file")" in
    "$want"*) return 0 ;;
    *) log "$(basename "$url"): SHA-256 $(sha256 "$file") does not start with $want (corrupt or tampered download)"; return 1 ;;
  esac
}

if [ -n "$IN" ]; then
  labels=()
  [ -n "$LABELS" ] && labels=(--labels "$LABELS")
  width=$("$CLI" info "$IN" | awk '/^architecture:/{print $2}' | tr -d x)
  case "$width" in
    0.5|1.0|1.5|2.0)
      "$CLI" convert "$IN" "$DIR/shufflenetv2_x$width.f32.safetensors" "${labels[@]}"
      half "$width"
      rm -f "$DIR/model.safetensors" "$DIR/model.name"
      TRAINED[$width]=true ;;
    *)
      "$CLI" convert "$IN" "$DIR/model.safetensors" "${labels[@]}"
      basename "$IN" | tr -d '"\\' > "$DIR/model.name"
      log "$(basename "$IN"): a custom model, served as weights/model.safetensors" ;;
  esac
elif [ -f "$DIR/manifest.json" ]; then
  if ! grep -q '"sha256"' "$DIR/manifest.json"; then
    log "adding SHA-256s to $DIR/manifest.json"
    for w in 0.5 1.0 1.5 2.0; do
      TRAINED[$w]=false
      grep -q "\"$w\": {[^}]*\"trained\": true" "$DIR/manifest.json" && TRAINED[$w]=true
    done
    write_manifest
  fi
  log "using $DIR as it is (delete its manifest.json to rebuild it)"
  exit 0
fi

for w in 0.5 1.0 1.5 2.0; do
  out="$DIR/shufflenetv2_x$w.f32.safetensors"
  [ -n "${TRAINED[$w]:-}" ] && continue
  tmp=$(mktemp)
  if [ -z "${SHUFFLENET_OFFLINE:-}" ] && curl -fsSL --max-time 120 --connect-timeout 10 -o "$tmp" "${URLS[$w]}" 2>/dev/null &&
     matches_published_hash "$tmp" "${URLS[$w]}" && "$CLI" convert "$tmp" "$out" 2>/dev/null; then
    log "x$w: torchvision's pretrained weights"
    TRAINED[$w]=true
  else
    log "x$w: offline or no valid download, writing seeded random stand-in weights (untrained)"
    "$CLI" random "$out" --width "$w" --seed 0 2>/dev/null
    TRAINED[$w]=false
  fi
  half "$w"
  rm -f "$tmp"
done

write_manifest
