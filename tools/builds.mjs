// Writes builds.json: the SHA-256 of each wasm build's module and wasm, which the engine
// (www/engine-host.js) loads as `?v=<hash>` URLs. tools/serve.mjs answers those `immutable`,
// so a reload takes them from the browser's cache without a round trip (docs/startup.md). The
// snippets a module imports (pkg-threads/' CPU pool worker script, which each pool worker also
// runs) get the same treatment inside the module first, and the module is hashed after.
// Without builds.json (an old export) the engine loads the plain URLs.
//
//   node tools/builds.mjs [ROOT]     (run.sh, bench.sh and tools/export.mjs run it)
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGES = ['pkg', 'pkg-threads', 'pkg-threads-relaxed', 'pkg-relaxed'];
const FILES = ['shufflenet_web.js', 'shufflenet_web_bg.wasm'];
// wasm-bindgen's import of a snippet, with the version this tool gave it last time, if any.
const SNIPPET_IMPORT = /(['"])\.\/(snippets\/[^'"?]+\.js)(?:\?v=[0-9a-f]+)?\1/g;

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The module with each snippet import naming its content; written only when that changes. */
function versionSnippets(dir) {
  const path = join(dir, 'shufflenet_web.js');
  const source = readFileSync(path, 'utf8');
  const versioned = source.replace(SNIPPET_IMPORT, (whole, quote, snippet) => {
    const file = join(dir, snippet);
    return existsSync(file) ? `${quote}./${snippet}?v=${sha256(file).slice(0, 16)}${quote}` : whole;
  });
  if (versioned !== source) writeFileSync(path, versioned);
}

/** Writes ROOT/builds.json for the builds under ROOT; returns what it wrote. */
export function writeBuilds(root) {
  const builds = {};
  for (const pkg of PACKAGES) {
    const dir = join(root, pkg);
    // A build that was skipped (no toolchain for it): the page falls back without it.
    if (!FILES.every((f) => existsSync(join(dir, f)))) continue;
    versionSnippets(dir);
    builds[pkg] = Object.fromEntries(FILES.map((f) => [f, sha256(join(dir, f))]));
  }
  writeFileSync(join(root, 'builds.json'), `${JSON.stringify(builds, null, 1)}\n`);
  return builds;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeBuilds(resolve(process.argv[2] ?? '.'));
}
