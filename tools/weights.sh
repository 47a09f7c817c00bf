#!/usr/bin/env bash
# Fills $WEIGHTS_DIR (default weights/) with one safetensors file per width and manifest.json.
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
  {
    echo '{"widths": {'
    sep=
    for w in 0.5 1.0 1.5 2.0; do
      printf '%s  "%s": {"url": "weights/shufflenetv2_x%s.safetensors", "trained": %s, "sha256": "%s"}' \
        "$sep" "$w" "$w" "${TRAINED[$w]}" "$(sha256 "$DIR/shufflenetv2_x$w.safetensors")"
      sep=$',\n'
    done
    printf '\n}'
    if [ -f "$DIR/model.safetensors" ]; then
      printf ',\n"model": {"url": "weights/model.safetensors", "name": "%s", "sha256": "%s"}' \
        "$(cat "$DIR/model.name" 2>/dev/null || echo model)" "$(sha256 "$DIR/model.safetensors")"
    fi
    printf '}\n'
  } > "$DIR/manifest.json"
}

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
      "$CLI" convert "$IN" "$DIR/shufflenetv2_x$width.safetensors" "${labels[@]}"
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
  out="$DIR/shufflenetv2_x$w.safetensors"
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
  rm -f "$tmp"
done

write_manifest
