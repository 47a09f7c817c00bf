// ./bench.sh's TF.js wasm peer, --load and --rounds, on the smallest configuration: the peer's
// logits match ours, it reports the threads it engaged, the configurations take turns round by
// round and each comes out as one line, and the busy process is gone afterwards.
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

test('tfjs-wasm under --load 1 in rounds: logits match ours, threads reported, rounds interleaved, load stopped', { timeout: 180_000 }, () => {
  ensureWeights();
  const args = ['tools/bench.mjs', '--no-build', '--backend', 'cpu-simd128,tfjs-wasm', '--width', '0.5', '--runs', '3', '--rounds', '2', '--warmup', '0', '--load', '1'];
  const res = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
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

  // Three runs in two rounds (2 then 1), each round running both backends in turn, merged into one line each.
  const rounds = [...res.stderr.matchAll(/bench: (\S+) x0\.5 batch 1, round (\d) of 2, (\d) runs/g)].map((m) => m.slice(1).join(' '));
  assert.deepEqual(rounds, ['cpu-simd128 1 2', 'tfjs-wasm 1 2', 'cpu-simd128 2 1', 'tfjs-wasm 2 1']);
  for (const l of lines.filter((l) => !l.ratios)) {
    assert.equal(l.runs, 3);
    assert.equal(l.rounds, 2);
    assert.equal(l.samples_ms, undefined, 'the runs themselves stay out of the line');
    assert.ok(l.min_ms <= l.median_ms && l.median_ms <= l.max_ms, JSON.stringify(l));
    assert.equal(l.round_medians_ms.length, 2, JSON.stringify(l));
    for (const m of l.round_medians_ms) assert.ok(l.min_ms <= m && m <= l.max_ms, JSON.stringify(l));
  }
  const ours = lines.find((l) => l.backend === 'cpu-simd128');
  assert.deepEqual(Object.keys(ours.stages), ['stem', 'stage2', 'stage3', 'stage4', 'head']);

  const pids = /busy processes ([\d ]+)/.exec(res.stderr)?.[1].trim().split(' ').map(Number);
  assert.equal(pids?.length, 1, `no busy process reported:\n${res.stderr}`);
  assert.equal(alive(pids[0]), false, `busy process ${pids[0]} still running`);
});

test('--load rejects a count that is not a whole number', () => {
  const res = spawnSync(process.execPath, ['tools/bench.mjs', '--load', '1.5'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /--load must be an integer >= 0/);
});
