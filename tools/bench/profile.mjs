// Where a CPU build's frame goes, per wasm function, in V8 (node runs the same engine as
// Chrome): times frames of `runTensor` under V8's sampling profiler and prints each function's
// share of the samples. Kernel work starts here: a share out of line with a function's work
// points at code V8 runs badly (issue 21: a `memory.copy` per 1x1 tile, 7 % of a frame).
//
//   node tools/bench/profile.mjs [--pkg pkg] [--frames 200] [--top 12] WEIGHTS
//
// `--pkg`: a web-target build's folder (pkg/, pkg-relaxed/: relaxed SIMD is switched on for
// it). Prints the median frame, then `share function` lines, biggest first, for the timed
// frames only.
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

const SIDE = 224;

/** Loads the build, warms up, then times `frames` frames under the profiler: the median ms and
 *  the profile of those frames only (not the load, not the warm-up). */
async function profileFrames(pkg, weights, frames) {
  // Node has relaxed SIMD behind a flag; it must be set before the module compiles.
  if (/relaxed/.test(pkg)) setFlagsFromString('--experimental-wasm-relaxed-simd');
  const mod = await import(pathToFileURL(join(pkg, 'shufflenet_web.js')).href);
  await mod.default({ module_or_path: readFileSync(join(pkg, 'shufflenet_web_bg.wasm')) });
  const engine = await mod.Engine.create('cpu');
  await engine.loadBytes(readFileSync(weights));
  const input = new Float32Array(3 * SIDE * SIDE).map((_, i) => Math.sin(i));
  for (let i = 0; i < 20; i++) await engine.runTensor(input, 1, SIDE, SIDE);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  const ms = [];
  for (let i = 0; i < frames; i++) {
    const start = performance.now();
    await engine.runTensor(input, 1, SIDE, SIDE);
    ms.push(performance.now() - start);
  }
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  ms.sort((a, b) => a - b);
  return { median: ms[ms.length >> 1], profile };
}

/** Self time per function name in a `.cpuprofile`, as shares of all samples, biggest first. */
export function shares(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id).callFrame;
    // Rust's symbols end in a hash (`::h0123...`): one line per function, whatever the build.
    const name = (frame.functionName || frame.url || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '');
    const dt = profile.timeDeltas[i];
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()].map(([name, t]) => ({ name, share: t / total })).sort((a, b) => b.share - a.share);
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      pkg: { type: 'string', default: 'pkg' },
      frames: { type: 'string', default: '200' },
      top: { type: 'string', default: '12' },
    },
  });
  const [weights] = positionals;
  if (!weights) throw new Error('usage: node tools/bench/profile.mjs [--pkg DIR] [--frames N] [--top N] WEIGHTS');
  const [frames, top] = ['frames', 'top'].map((k) => {
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--${k} ${values[k]}: expected a whole number from 1 to 100000`);
    return n;
  });
  const { median, profile } = await profileFrames(resolve(values.pkg), resolve(weights), frames);
  console.log(`median ${median.toFixed(2)} ms a frame`);
  for (const { name, share } of shares(profile).slice(0, top)) {
    console.log(`${(100 * share).toFixed(1).padStart(5)} % ${name}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`profile: ${err.message}`);
    process.exit(1);
  });
}
