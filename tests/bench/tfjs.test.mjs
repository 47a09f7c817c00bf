// ./bench.sh's TF.js wasm peer and --load, on the smallest configuration: the peer's logits
// match ours, it reports the threads it engaged, and the busy process is gone afterwards.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WEIGHTS = join(ROOT, 'bench-results', 'shufflenetv2_x0.5_seed0.safetensors');

/** The bench's seeded weights, from the debug CLI test.sh builds (the bench would build a release one). */
function ensureWeights() {
  if (existsSync(WEIGHTS)) return;
  mkdirSync(dirname(WEIGHTS), { recursive: true });
  const cli = join(ROOT, 'target', 'debug', 'shufflenet');
  const res = spawnSync(cli, ['random', '--width', '0.5', '--seed', '0', WEIGHTS], { encoding: 'utf8' });
  assert.equal(res.status, 0, `${cli} random failed: ${res.stderr}`);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('tfjs-wasm under --load 1: logits match ours, threads reported, load stopped', { timeout: 120_000 }, () => {
  ensureWeights();
  const args = ['tools/bench.mjs', '--no-build', '--backend', 'tfjs-wasm', '--width', '0.5', '--runs', '2', '--warmup', '0', '--load', '1'];
  const res = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
  assert.equal(res.status, 0, `bench failed:\n${res.stderr}`);
  const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const tf = lines.find((l) => l.backend === 'tfjs-wasm');
  assert.ok(tf, `no tfjs-wasm line in:\n${res.stdout}`);
  assert.equal(tf.load, 1);
  assert.equal(tf.threads_asked, 1);
  assert.equal(tf.threads_engaged, 1);
  assert.ok(tf.max_rel_diff_vs_ours <= 1e-3, `logits differ by ${tf.max_rel_diff_vs_ours} (relative)`);
  assert.ok(tf.max_abs_diff_vs_ours <= 1e-3 * tf.logits_max_abs, `logits differ by ${tf.max_abs_diff_vs_ours}`);
  assert.ok(tf.median_ms > 0);
  assert.match(tf.tfjs_wasm, /\.wasm$/);

  const pids = /busy processes ([\d ]+)/.exec(res.stderr)?.[1].trim().split(' ').map(Number);
  assert.equal(pids?.length, 1, `no busy process reported:\n${res.stderr}`);
  assert.equal(alive(pids[0]), false, `busy process ${pids[0]} still running`);
});

test('--load rejects a count that is not a whole number', () => {
  const res = spawnSync(process.execPath, ['tools/bench.mjs', '--load', '1.5'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /--load must be an integer >= 0/);
});
