// Writes brotli (`F.br`) and gzip (`F.gz`) siblings of the text and wasm files under each
// path given, for tools/serve.mjs and static hosts that serve precompressed files (nginx's
// gzip_static/brotli_static, most CDNs). Compressing once at build time lets brotli use its
// best quality, which a server compressing per request could not afford.
//
//   node tools/precompress.mjs PATH...     (files or folders; folders are walked, dotfiles skipped)
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { COMPRESSIBLE } from './serve.mjs';

// Below this a compressed copy saves less than a packet.
const MIN_BYTES = 1024;

function* files(path) {
  // A build that was skipped (pkg-threads/ without its toolchain) leaves nothing to compress.
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) return;
  if (info.isFile()) {
    yield path;
    return;
  }
  for (const name of readdirSync(path)) {
    if (!name.startsWith('.')) yield* files(join(path, name));
  }
}

/** Compresses the files under `paths` whose siblings are missing or older; returns the counts. */
export function precompress(paths) {
  let written = 0;
  let before = 0;
  let after = 0;
  for (const path of paths.flatMap((p) => [...files(resolve(p))])) {
    if (!COMPRESSIBLE.has(extname(path))) continue;
    const info = statSync(path);
    if (info.size < MIN_BYTES) continue;
    const fresh = (ext) => statSync(path + ext, { throwIfNoEntry: false })?.mtimeMs >= info.mtimeMs;
    if (fresh('.br') && fresh('.gz')) continue;
    const data = readFileSync(path);
    const br = brotliCompressSync(data, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    });
    writeFileSync(`${path}.br`, br);
    writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
    written += 1;
    before += data.length;
    after += br.length;
  }
  return { written, before, after };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { written, before, after } = precompress(process.argv.slice(2));
  if (written > 0) console.error(`[precompress] ${written} files: ${before} bytes, ${after} as brotli`);
}
