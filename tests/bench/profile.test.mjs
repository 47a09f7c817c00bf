// tools/bench/profile.mjs: the share of each wasm function in a CPU build's frames, in node's V8.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shares } from '../../tools/bench/profile.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOL = join(ROOT, 'tools', 'bench', 'profile.mjs');
const WEIGHTS = join(process.env.WEIGHTS_DIR ?? join(ROOT, 'weights'), 'shufflenetv2_x0.5.safetensors');

test('shares adds each function self time across its nodes, biggest first', () => {
  const frame = (functionName) => ({ functionName, url: '' });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('a::tile::h0123456789abcdef') },
      { id: 3, callFrame: frame('a::tile::hfedcba9876543210') },
      { id: 4, callFrame: frame('b::run') },
    ],
    samples: [2, 3, 4, 2],
    timeDeltas: [10, 20, 10, 0],
  };
  assert.deepEqual(shares(profile), [
    { name: 'a::tile', share: 0.75 },
    { name: 'b::run', share: 0.25 },
  ]);
});

test('profiles pkg/ frames and names its kernels', () => {
  // ./test.sh builds both first.
  assert.ok(existsSync(join(ROOT, 'pkg', 'shufflenet_web_bg.wasm')), 'pkg/ is not built');
  assert.ok(existsSync(WEIGHTS), `${WEIGHTS} is missing`);
  const run = spawnSync(process.execPath, [TOOL, '--pkg', join(ROOT, 'pkg'), '--frames', '20', '--top', '40', WEIGHTS], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const [first, ...rows] = run.stdout.trim().split('\n');
  assert.match(first, /^median \d+\.\d\d ms a frame$/);
  const names = rows.map((r) => r.match(/^ *\d+\.\d % (.+)$/)?.[1]);
  assert.ok(names.every(Boolean), run.stdout);
  // The 1x1 kernel's register tile does most of the multiply-adds.
  assert.ok(names.includes('shufflenet_web::cpu::fast::pointwise::Pointwise::tile'), run.stdout);
});

test('a missing build is a clear error', () => {
  const run = spawnSync(process.execPath, [TOOL, '--pkg', join(ROOT, 'no-such-pkg'), WEIGHTS], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^profile: .*no-such-pkg/);
});

test('a frame count that is not a whole number is refused before anything runs', () => {
  for (const frames of ['abc', '0', '2.5']) {
    const run = spawnSync(process.execPath, [TOOL, '--frames', frames, WEIGHTS], { encoding: 'utf8' });
    assert.equal(run.status, 1, frames);
    assert.match(run.stderr, new RegExp(`^profile: --frames ${frames.replace('.', '\\.')}: expected a whole number`), run.stderr);
  }
});
