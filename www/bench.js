// The benchmark page: one configuration per page load, driven by tools/bench.mjs through
// `window.benchOpen(config)`, then `window.benchRound(...)` once per round, then
// `window.benchClose()` for the line. Runs our engine (pkg/, a threaded or relaxed build, pkg-scalar/), ONNX Runtime Web or
// TensorFlow.js's wasm backend on the same seeded input and returns timings; the peers' logits
// are checked against ours on that input.
import { tfjsRunner } from './bench-tfjs.js';

const ORT_DIST = '../node_modules/onnxruntime-web/dist/';
const SIDE = 224;

// ORT's wasm build prints its profiler's events with a console.log it binds when it loads, so
// the tap goes in before ORT is imported; it records while `lines` is an array.
const consoleTap = { lines: null };
const consoleLog = console.log.bind(console);
console.log = (...args) => (consoleTap.lines ? consoleTap.lines.push(args.join(' ')) : consoleLog(...args));

/** Deterministic input in [-2, 2] (about the range of normalised images), N x 3 x 224 x 224. */
function seededInput(batch, seed) {
  let s = seed >>> 0;
  const next = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const data = new Float32Array(batch * 3 * SIDE * SIDE);
  for (let i = 0; i < data.length; i++) data[i] = next() * 4 - 2;
  return data;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** max |got - want| / max |want|: the error relative to the logits' scale. */
function maxRelDiff(got, want) {
  if (got.length !== want.length) throw new Error(`logit counts differ: ${got.length} vs ${want.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

/** Warm up for at least `warmupRuns` runs and `warmupMs`, then time `runs` runs. */
async function timeRuns(runOnce, { runs, warmupRuns, warmupMs }) {
  const start = performance.now();
  let warmup = 0;
  while (warmup < warmupRuns || performance.now() - start < warmupMs) {
    await runOnce();
    warmup++;
  }
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const result = await runOnce();
    samples.push({ ms: performance.now() - t0, result });
  }
  return { warmup, samples };
}

/** The rounds' runs as one: their warm-up runs, samples, median, min, max and last result. */
function summary(rounds) {
  const samples = rounds.flatMap((r) => r.samples);
  const ms = samples.map((s) => s.ms);
  return {
    warmup: rounds.reduce((n, r) => n + r.warmup, 0),
    median_ms: median(ms),
    min_ms: Math.min(...ms),
    max_ms: Math.max(...ms),
    last: samples[samples.length - 1].result,
    samples,
  };
}

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Our wasm package, initialised, with an engine on `mode` holding the weights. */
async function ourEngine(pkg, mode, weightsUrl, kernels, threads = 1) {
  const mod = await import(`../${pkg}/shufflenet_web.js`);
  await mod.default();
  const engine = await mod.Engine.create(mode);
  if (kernels) engine.setGpuOptions(kernels);
  if (pkg.startsWith('pkg-threads')) {
    const started = await mod.startCpuThreads(threads);
    if (started !== threads) throw new Error(`asked for ${threads} CPU threads, ${started} started`);
    engine.setCpuThreads(threads);
  }
  await engine.loadBytes(await fetchBytes(weightsUrl));
  return { mod, engine };
}

/**
 * `--roofline`: this build's peak multiply-add rate and read bandwidth on one thread, and each
 * stage's achieved rate (from its median time) against them, with its bytes per multiply-add.
 */
function roofline(mod, engine, stages, cfg) {
  const [peak, read] = mod.cpuRoofline(300);
  const costs = engine.stageCosts(SIDE);
  const rows = mod.limits().stages.map((name, i) => {
    const [macs, bytes] = [costs[2 * i], costs[2 * i + 1]];
    const gmacs = (macs * cfg.batch) / (stages[name] * 1e6);
    const perMac = bytes / macs;
    const round = (x) => Number(x.toPrecision(3));
    return [name, { gmacs: round(gmacs), of_peak: round(gmacs / (peak * cfg.threads)), bytes_per_mac: round(perMac),
      attainable_gmacs: round(Math.min(peak, read / perMac)) }];
  });
  return { peak_gmacs: Number(peak.toPrecision(3)), read_gbps: Number(read.toPrecision(3)), stages: Object.fromEntries(rows) };
}

/**
 * Each backend is a bench: `run` runs one frame, `finish(t)` turns the timed runs (`summary`)
 * into the line's fields (stages, the checks against ours) once the rounds are over.
 */
async function benchOurs(cfg, input) {
  const mode = cfg.backend === 'webgpu' ? 'webgpu' : 'cpu';
  const { mod, engine } = await ourEngine(cfg.pkg, mode, cfg.weightsUrl, cfg.kernels, cfg.threads);
  const status = engine.status();
  if (status.backend !== cfg.backend.replace(/-t\d+$/, '')) {
    const why = status.fallbackReason;
    throw new Error(`asked for ${cfg.backend} but the engine runs ${status.backend}${why ? ` (${why})` : ''}`);
  }
  return { run: () => engine.runTensor(input, cfg.batch, SIDE, SIDE), finish: (t) => finishOurs(cfg, input, { mod, engine, mode, status }, t) };
}

async function finishOurs(cfg, input, { mod, engine, mode, status }, t) {
  // The crate's stages, in its order.
  const stages = Object.fromEntries(
    mod.limits().stages.map((s) => [s, median(t.samples.map((x) => x.result.stages[s]))]),
  );
  const out = { ...pick(t), stages, wasm_memory_bytes: mod.wasmMemoryBytes() };
  if (cfg.roofline && mode === 'cpu') out.roofline = roofline(mod, engine, stages, cfg);
  // The fast CPU runs a frame on all its threads or on one, whichever is faster now.
  if (cfg.threads > 1) {
    out.frames_on_threads = {};
    for (const s of t.samples) out.frames_on_threads[s.result.threads] = (out.frames_on_threads[s.result.threads] ?? 0) + 1;
  }
  if (cfg.backend === 'webgpu') {
    out.adapter = status.adapter ?? null;
    // Whatever counters the GPU backend exposes (dispatches, readbacks, bytes per frame).
    Object.assign(out, engine.gpuStats?.() ?? {});
    const cpu = await mod.Engine.create('cpu');
    await cpu.loadBytes(await fetchBytes(cfg.weightsUrl));
    const ref = await cpu.runTensor(input, cfg.batch, SIDE, SIDE);
    out.max_rel_diff_vs_cpu = maxRelDiff(t.last.logits, ref.logits);
  }
  return out;
}

function adapterDescription(info) {
  return [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' / ') || null;
}

async function benchOrt(cfg, input) {
  const ep = cfg.backend === 'ort-webgpu' ? 'webgpu' : 'wasm';
  const ort = await import(ORT_DIST + (ep === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs'));
  ort.env.wasm.wasmPaths = new URL(ORT_DIST, location.href).href;
  // 'ort-wasm-tN' runs N threads (the bench page is cross-origin isolated); others one.
  ort.env.wasm.numThreads = Number(/-t(\d+)$/.exec(cfg.backend)?.[1] ?? 1);
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(cfg.onnxUrl, {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
  });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [cfg.batch, 3, SIDE, SIDE]) };
  const output = session.outputNames[0];
  return { run: async () => (await session.run(feeds))[output].data, finish: (t) => finishOrt(cfg, input, ort, ep, session, feeds, t) };
}

async function finishOrt(cfg, input, ort, ep, session, feeds, t) {
  const out = { ...pick(t), stages: null, wasm_memory_bytes: null };
  if (ep === 'wasm') {
    out.stages = await ortProfiledStages(ort, cfg, feeds);
    out.stages_method = 'ort-profiler';
  }
  // Which ORT runtime actually ran: the wasm binary fetched and the thread count it settled on.
  out.ort_wasm = performance
    .getEntriesByType('resource')
    .map((e) => e.name.split('/').pop())
    .find((name) => name.endsWith('.wasm'));
  out.ort_threads = ort.env.wasm.numThreads;
  if (ep === 'webgpu') out.adapter = adapterDescription((await ort.env.webgpu.device).adapterInfo);
  await session.release();

  // Our logits on the same input, after the timing so they do not disturb it.
  const { engine } = await ourEngine('pkg', 'cpu', cfg.weightsUrl);
  const ours = await engine.runTensor(input, cfg.batch, SIDE, SIDE);
  out.max_rel_diff_vs_ours = maxRelDiff(t.last, ours.logits);
  out.vs_ours_backend = engine.backend();
  return out;
}

/** max |got - want|. */
function maxAbsDiff(got, want) {
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
  return diff;
}

async function benchTfjs(cfg, input) {
  const threads = Number(/-t(\d+)$/.exec(cfg.backend)?.[1] ?? 1);
  const weightsBytes = await fetchBytes(cfg.weightsUrl);
  const tfjs = await tfjsRunner({ threads, weightsBytes, input, batch: cfg.batch, side: SIDE });
  return { run: tfjs.run, finish: (t) => finishTfjs(cfg, input, tfjs, threads, t) };
}

async function finishTfjs(cfg, input, tfjs, threads, t) {
  const out = { ...pick(t), stages: null, wasm_memory_bytes: null };
  out.tfjs_version = tfjs.version;
  out.tfjs_wasm = performance
    .getEntriesByType('resource')
    .map((e) => e.name.split('/').pop())
    .find((name) => name.endsWith('.wasm'));
  out.threads_asked = threads;
  out.threads_engaged = tfjs.threadsEngaged;
  out.cross_origin_isolated = crossOriginIsolated;
  out.hardware_concurrency = tfjs.hardwareConcurrency;
  const { engine } = await ourEngine('pkg', 'cpu', cfg.weightsUrl);
  const ours = await engine.runTensor(input, cfg.batch, SIDE, SIDE);
  out.max_rel_diff_vs_ours = maxRelDiff(t.last, ours.logits);
  // Reported, not bounded: the seeded random weights give logits of about 1e3, where float32's
  // spacing is 1e-4 and summation order alone moves them by 1e-3. The bound is the relative one.
  out.max_abs_diff_vs_ours = maxAbsDiff(t.last, ours.logits);
  out.logits_max_abs = Math.max(...ours.logits.map(Math.abs));
  out.vs_ours_backend = engine.backend();
  return out;
}

/** The stage a node of torchvision's export belongs to, by its scope name ("/stage2/stage2.0/..."). */
function stageOf(node) {
  const scope = node.split('/')[1] ?? '';
  if (scope === 'conv1' || scope === 'maxpool') return 'stem';
  if (/^stage[234]$/.test(scope)) return scope;
  if (scope === 'conv5' || scope === 'fc' || scope.startsWith('ReduceMean')) return 'head';
  throw new Error(`cannot place ORT node "${node}" in a stage`);
}

/**
 * Per-stage kernel time from ORT's own profiler, which the wasm build prints to the console as
 * JSON events. A separate profiled session (after the timed runs, so they carry no profiling
 * cost); its first run is dropped.
 */
async function ortProfiledStages(ort, cfg, feeds) {
  const session = await ort.InferenceSession.create(cfg.onnxUrl, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    enableProfiling: true,
  });
  const lines = [];
  consoleTap.lines = lines;
  try {
    for (let i = 0; i < Math.min(cfg.runs, 10) + 1; i++) await session.run(feeds);
    session.endProfiling();
  } finally {
    consoleTap.lines = null;
    await session.release();
  }
  const events = lines
    .flatMap((l) => l.split('\n'))
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(1);
  if (runs.length === 0) throw new Error('ORT printed no profiling events');
  // Per node, the median over the runs (robust to a run being preempted); summed per stage.
  const perNode = new Map();
  for (const run of runs) {
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      if (e.ts < run.ts || e.ts > run.ts + run.dur) continue;
      if (!perNode.has(e.name)) perNode.set(e.name, []);
      perNode.get(e.name).push(e.dur / 1000);
    }
  }
  const stages = {};
  for (const [node, ms] of perNode) {
    const stage = stageOf(node.slice(0, -'_kernel_time'.length));
    stages[stage] = (stages[stage] ?? 0) + median(ms);
  }
  return stages;
}

function pick(t) {
  return { warmup_runs: t.warmup, median_ms: t.median_ms, min_ms: t.min_ms, max_ms: t.max_ms };
}

// The configuration this page runs: its bench and its rounds so far.
let current = null;

/** Loads `cfg`'s engine and weights; nothing is timed yet. */
window.benchOpen = async (cfg) => {
  const input = seededInput(cfg.batch, cfg.seed);
  const prepare = cfg.backend.startsWith('tfjs-') ? benchTfjs : cfg.backend.startsWith('ort-') ? benchOrt : benchOurs;
  current = { bench: await prepare(cfg, input), rounds: [] };
};

/** One round: warm up, time `runs` runs; returns the round's median ms. */
window.benchRound = async ({ runs, warmupRuns, warmupMs }) => {
  const round = await timeRuns(current.bench.run, { runs, warmupRuns, warmupMs });
  round.median_ms = median(round.samples.map((s) => s.ms));
  current.rounds.push(round);
  return round.median_ms;
};

/** The line's fields over every round's runs, each round's median among them. */
window.benchClose = async () => {
  const { bench, rounds } = current;
  current = null;
  const out = await bench.finish(summary(rounds));
  out.round_medians_ms = rounds.map((r) => r.median_ms);
  return out;
};
/** The Guidelines lab's four tables on `backend` ('cpu' or 'webgpu') at width `scale`, as the page shows them. */
window.guidelines = async ({ backend, runs, scale }) => {
  const mod = await import('../pkg/shufflenet_web.js');
  await mod.default();
  const tables = [];
  for (const table of [1, 2, 3, 4]) tables.push(JSON.parse(await mod.measureGuideline(backend, table, runs, scale)));
  return tables;
};
window.benchReady = true;
