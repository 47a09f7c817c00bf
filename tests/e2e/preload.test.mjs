// index.html preloads every module the page's script imports, so a visit fetches them in one
// round trip rather than one per level of imports (docs/startup.md). The list is written by
// hand: this keeps it whole, and free of modules nothing imports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { ROOT } from './support/server.mjs';

/** The www/ modules reachable from `entry` through static imports, as paths from the root. */
function graph(entry, seen = new Set()) {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const source = readFileSync(join(ROOT, entry), 'utf8');
  for (const [, spec] of source.matchAll(/^import\s[^'"]*['"](\.[^'"]+)['"]/gm)) {
    const target = relative(ROOT, join(ROOT, dirname(entry), spec));
    if (target.startsWith('www/')) graph(target, seen);
  }
  return seen;
}

test('index.html preloads exactly the modules the page imports', () => {
  const html = readFileSync(join(ROOT, 'index.html'), 'utf8');
  const preloaded = new Set([...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]));
  const imported = graph('www/app.js');
  assert.ok(imported.size > 5, `found the imports: ${[...imported]}`);
  assert.deepEqual([...preloaded].sort(), [...imported].sort());
});
