// Writes the page as a static site that works from any host: `./run.sh --export DIR`.
//
//   node tools/export.mjs OUT [WEIGHTS_DIR]
//
// OUT gets index.html, sw.js (cross-origin isolation and offline use where the host sends no
// headers), www/, the runtime files of the three wasm builds and their builds.json,
// examples/embed/, the weights renamed after their SHA-256 (so a host may cache them forever)
// with a manifest pointing at them, brotli and gzip siblings of every text and wasm file, a
// `_headers` file for hosts that read one (Netlify, Cloudflare Pages) and `.nojekyll` for
// GitHub Pages.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGES, writeBuilds } from './builds.mjs';
import { precompress } from './precompress.mjs';
import { SECURITY_HEADERS } from './serve.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// What a wasm build needs at run time: not its .d.ts, package.json or README.
const PACKAGE_FILES = /^(shufflenet_web\.js|shufflenet_web_bg\.wasm|snippets)$/;

/** The `_headers` file: isolation and the CSP everywhere; hash-named weights cached forever. */
function headersFile() {
  const all = Object.entries(SECURITY_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n');
  return `/*\n${all}\n\n/weights/*.safetensors\n  Cache-Control: public, max-age=31536000, immutable\n\n`
    + '/index.html\n  Cache-Control: no-cache\n\n/builds.json\n  Cache-Control: no-cache\n\n'
    + '/weights/manifest.json\n  Cache-Control: no-cache\n';
}

/** Copies the weights the manifest lists, each named after its SHA-256, and a manifest to match. */
function exportWeights(weightsDir, out) {
  const manifest = JSON.parse(readFileSync(join(weightsDir, 'manifest.json'), 'utf8'));
  mkdirSync(join(out, 'weights'), { recursive: true });
  const pin = (entry) => {
    if (!entry?.url) return;
    const name = basename(new URL(entry.url, 'http://x/').pathname);
    const hashed = name.replace(/(\.f32)?\.safetensors$/, (ext) => `-${entry.sha256.slice(0, 16)}${ext}`);
    cpSync(join(weightsDir, name), join(out, 'weights', hashed));
    entry.url = `weights/${hashed}`;
  };
  for (const entry of Object.values(manifest.widths ?? {})) {
    pin(entry);
    pin(entry.f32);
  }
  pin(manifest.model);
  writeFileSync(join(out, 'weights/manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
}

export function exportSite(out, weightsDir = join(ROOT, 'weights')) {
  if (!existsSync(join(ROOT, 'pkg/shufflenet_web.js'))) throw new Error('pkg/ is not built: run ./run.sh (or build_pkg) first');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of ['index.html', 'sw.js']) cpSync(join(ROOT, f), join(out, f));
  const noSiblings = (src) => !/\.(br|gz)$/.test(src);
  cpSync(join(ROOT, 'www'), join(out, 'www'), { recursive: true, filter: noSiblings });
  cpSync(join(ROOT, 'examples/embed'), join(out, 'examples/embed'), { recursive: true, filter: noSiblings });
  for (const pkg of PACKAGES) {
    // A build that was skipped here (no toolchain for it): the page falls back without it.
    if (!existsSync(join(ROOT, pkg))) continue;
    for (const name of readdirSync(join(ROOT, pkg)).filter((n) => PACKAGE_FILES.test(n))) {
      cpSync(join(ROOT, pkg, name), join(out, pkg, name), { recursive: true, filter: noSiblings });
    }
  }
  // Hashed as exported: a host without headers ignores the `?v=`, one that honours them may
  // cache the builds for good.
  writeBuilds(out);
  exportWeights(weightsDir, out);
  writeFileSync(join(out, '_headers'), headersFile());
  writeFileSync(join(out, '.nojekyll'), '');
  return precompress([out]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [out, weightsDir] = process.argv.slice(2);
  if (!out) {
    console.error('usage: node tools/export.mjs OUT [WEIGHTS_DIR]');
    process.exit(2);
  }
  try {
    const { written, before, after } = exportSite(resolve(out), weightsDir && resolve(weightsDir));
    console.error(`[export] ${resolve(out)}: ${written} files precompressed (${before} bytes, ${after} as brotli)`);
  } catch (err) {
    console.error(`[export] ${err.message}`);
    process.exit(1);
  }
}
