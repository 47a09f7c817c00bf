// Benchmark driver (run through ./bench.sh): builds what is needed, serves the repository on
// 127.0.0.1, opens www/bench.html in headless Debian Chromium once per configuration, runs the
// configurations of a width in turns (rounds), and prints one JSON line per configuration to
// stdout. Everything else goes to stderr.
import { parseArgs } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { benchModel, buildPackage, buildThreadsPackage, hasRelaxedSimd, hasSimd, ortVersion } from './bench/assets.mjs';
import { startLoad } from './bench/load.mjs';
import { serve } from './serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BACKENDS = ['cpu-simd128', 'cpu-simd128-t1', 'cpu-simd128-t2', 'cpu-relaxed', 'cpu-relaxed-t1', 'cpu-relaxed-t2', 'cpu-scalar', 'ort-wasm', 'ort-wasm-t2', 'tfjs-wasm', 'tfjs-wasm-t2', 'webgpu', 'ort-webgpu'];
// The peers: ONNX Runtime Web and TensorFlow.js's wasm backend (XNNPACK), checked against ours.
const PEER = /^(ort|tfjs)-/;
// The threaded builds on N threads: 'cpu-simd128-tN' (pkg-threads/), 'cpu-relaxed-tN'
// (pkg-threads-relaxed/).
const THREADED = /^cpu-(simd128|relaxed)-t(\d+)$/;
const THREADED_PACKAGE = { simd128: 'pkg-threads', relaxed: 'pkg-threads-relaxed' };
const PACKAGE_OF = { 'cpu-scalar': 'pkg-scalar', 'cpu-relaxed': 'pkg-relaxed' };
const WIDTHS = ['0.5', '1.0', '1.5', '2.0'];
const DEFAULT_WIDTHS = ['0.5', '1.0', '2.0'];
const GPU = new Set(['webgpu', 'ort-webgpu']);
// V8 tiers wasm up over the first ~40 runs; SwiftShader frames take seconds, so GPU runs are few.
const CPU_DEFAULTS = { runs: 30, warmupRuns: 40, warmupMs: 1000 };
const GPU_DEFAULTS = { runs: 5, warmupRuns: 2, warmupMs: 0 };
// Timed runs per round on the CPU by default. A shared VM slows down for a second or so at a
// time; rounds much shorter than that spread each slow spell over all configurations alike.
const ROUND_RUNS = 5;
// Warm-up runs in each round after the first: the configurations' pages stay open, V8 tiered
// their code up in the first round, and what the others' rounds took is the caches and the
// threads' wakefulness.
const REWARM_RUNS = 2;
// Beyond this the two engines are not running the same network and the timings compare nothing.
const MAX_REL_DIFF = 1e-3;
// A hung page (a lost GPU device, say) fails its configuration instead of the whole run.
const CONFIG_TIMEOUT_S = 900;
const CHROMIUM = process.env.CHROME_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  // WebGPU headless on SwiftShader (also the adapter ORT's WebGPU EP gets); with
  // BENCH_ADAPTER=hardware, on the machine's GPU instead (see docs/performance.md, "On a real GPU").
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  ...(process.env.BENCH_ADAPTER === 'hardware'
    ? ['--ignore-gpu-blocklist']
    : ['--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader']),
];
// BENCH_HEADED=1: a visible window (some drivers give headless Chrome no hardware adapter).
const HEADLESS = !process.env.BENCH_HEADED;

const USAGE = `usage: ./bench.sh [--backend NAME]... [--width W]... [--batch B] [--runs N] [--rounds R] [--warmup N] [--seed S] [--kernels SET] [--load N] [--tutorial] [--roofline] [--no-build]
  --backend  ${BACKENDS.join(' | ')} (repeat or comma-separate; default: all)
             ort-*: ONNX Runtime Web; tfjs-wasm, tfjs-wasm-t2: TensorFlow.js's wasm backend on 1 and 2
             threads (the network built from tf ops, BatchNorm folded); their logits are checked against ours
  --width    ${WIDTHS.join(' | ')} (repeat or comma-separate; default: ${DEFAULT_WIDTHS.join(', ')})
  --batch    images per run (default 1)
  --runs     timed runs (default ${CPU_DEFAULTS.runs} on the CPU backends, ${GPU_DEFAULTS.runs} on the WebGPU ones)
  --rounds   rounds the runs are split into (default: rounds of ${ROUND_RUNS} runs on the CPU backends, 1 on the WebGPU
             ones): each round runs every configuration of a width in turn, each in its own page, so a
             machine that slows down or speeds up during the run weighs on all of them alike
  --warmup   untimed runs first (default ${CPU_DEFAULTS.warmupRuns} and at least ${CPU_DEFAULTS.warmupMs} ms on the CPU, ${GPU_DEFAULTS.warmupRuns} on WebGPU;
             later rounds: up to ${REWARM_RUNS})
  --seed     seed of the random weights and input (default 0)
  --kernels  WebGPU kernel set: auto | hardware | software (default auto: software on SwiftShader)
  --load     N extra busy processes, one core each, running from before the first configuration
             to the end (default 0); every JSON line carries "load": N
  --tutorial the tutorial's network (issue 11) at each width, 5 classes, instead of torchvision's
             (our backends only: the ONNX export is torchvision's)
  --no-build use pkg/, pkg-threads/, pkg-threads-relaxed/, pkg-relaxed/ and pkg-scalar/ as they are instead of rebuilding them
  --roofline our CPU lines add this build's peak multiply-add rate and read bandwidth (one thread)
             and each stage's achieved rate against them (docs/performance.md, "Roofline")
  --guidelines the paper's Tables 1 to 4 (the Guidelines lab, docs/guidelines.md) on cpu-simd128 and
             webgpu (or the --backend given), one JSON line per table
  --scales   with --guidelines: the paper's width scales to run (1, 2, 4; default 1)`;

// The Guidelines lab's backends: ours on the page's SIMD128 build, and WebGPU.
const LAB_BACKENDS = { 'cpu-simd128': 'cpu', webgpu: 'webgpu' };

function fail(message) {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function list(values, allowed, what) {
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const v of out) if (!allowed.includes(v)) fail(`unknown ${what} "${v}"`);
  return [...new Set(out)];
}

function positiveInt(value, what, min = 1) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${what} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        backend: { type: 'string', multiple: true },
        width: { type: 'string', multiple: true },
        batch: { type: 'string' },
        runs: { type: 'string' },
        rounds: { type: 'string' },
        warmup: { type: 'string' },
        seed: { type: 'string' },
        kernels: { type: 'string' },
        load: { type: 'string' },
        roofline: { type: 'boolean' },
        'no-build': { type: 'boolean' },
        tutorial: { type: 'boolean' },
        guidelines: { type: 'boolean' },
        scales: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    fail(e.message);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const tutorial = Boolean(parsed.tutorial);
  const ours = BACKENDS.filter((b) => !PEER.test(b));
  const backends = parsed.backend ? list(parsed.backend, BACKENDS, 'backend') : tutorial ? ours : BACKENDS;
  if (tutorial && !backends.every((b) => ours.includes(b))) fail('--tutorial runs our backends only');
  if (parsed.guidelines && !backends.every((b) => LAB_BACKENDS[b])) fail(`--guidelines runs on ${Object.keys(LAB_BACKENDS).join(' and ')}`);
  return {
    tutorial,
    guidelines: Boolean(parsed.guidelines),
    scales: parsed.scales ? list(parsed.scales, ['1', '2', '4'], 'scale').map(Number) : [1],
    backends: parsed.guidelines && !parsed.backend ? Object.keys(LAB_BACKENDS) : BACKENDS.filter((b) => backends.includes(b)),
    widths: parsed.width ? list(parsed.width, WIDTHS, 'width') : DEFAULT_WIDTHS,
    batch: positiveInt(parsed.batch, 'batch') ?? 1,
    runs: positiveInt(parsed.runs, 'runs'),
    rounds: positiveInt(parsed.rounds, 'rounds'),
    warmup: positiveInt(parsed.warmup, 'warmup', 0),
    seed: positiveInt(parsed.seed, 'seed', 0) ?? 0,
    load: positiveInt(parsed.load, 'load', 0) ?? 0,
    roofline: Boolean(parsed.roofline),
    build: !parsed['no-build'],
    kernels: parsed.kernels ? list([parsed.kernels], ['auto', 'hardware', 'software'], 'kernel set')[0] : undefined,
  };
}

/** Builds the packages the chosen backends load and checks that only pkg/ has SIMD. */
function preparePackages(opts) {
  const needSimdPkg = opts.backends.some((b) => b !== 'cpu-scalar'); // ORT lines compare against it
  const packages = [];
  if (needSimdPkg) packages.push({ dir: join(ROOT, 'pkg'), simd: true });
  if (opts.backends.includes('cpu-scalar')) packages.push({ dir: join(ROOT, 'pkg-scalar'), simd: false });
  if (opts.backends.includes('cpu-relaxed')) packages.push({ dir: join(ROOT, 'pkg-relaxed'), simd: true, relaxed: true });
  for (const simd of ['simd128', 'relaxed']) {
    if (!opts.backends.some((b) => THREADED.exec(b)?.[1] === simd)) continue;
    const relaxed = simd === 'relaxed';
    if (opts.build) buildThreadsPackage(ROOT, relaxed);
    packages.push({ dir: join(ROOT, THREADED_PACKAGE[simd]), simd: true, relaxed, built: true });
  }
  for (const { dir, simd, relaxed, built } of packages) {
    if (opts.build && !built) buildPackage(ROOT, simd, relaxed);
    if (relaxed && hasRelaxedSimd(dir) === false) throw new Error(`${dir} lacks relaxed SIMD instructions`);
    const found = hasSimd(dir);
    if (found === null) {
      process.stderr.write(`bench: wasm-objdump (Debian wabt) not found; not checking ${dir} for SIMD\n`);
    } else if (found !== simd) {
      throw new Error(`${dir} ${found ? 'contains' : 'lacks'} SIMD instructions: its build flags are wrong`);
    } else {
      process.stderr.write(`bench: ${dir} checked: ${simd ? 'has' : 'no'} SIMD instructions\n`);
    }
  }
}

/** The JSON line: the fields in the documented order, then whatever else the page measured. */
function line(cfg, r) {
  const round = (x) =>
    Array.isArray(x) ? x.map(round) : typeof x === 'number' && !Number.isInteger(x) ? Number(x.toPrecision(6)) : x;
  const { median_ms, min_ms, max_ms, stages, wasm_memory_bytes, ...extra } = r;
  const out = {
    backend: cfg.backend,
    width: cfg.width,
    ...(cfg.tutorial && { model: 'tutorial' }),
    load: cfg.load,
    batch: cfg.batch,
    runs: cfg.runs,
    rounds: cfg.rounds,
    median_ms: round(median_ms),
    min_ms: round(min_ms),
    max_ms: round(max_ms),
    stages: stages && Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
    wasm_memory_bytes,
  };
  for (const [k, v] of Object.entries(extra)) out[k] = round(v);
  return JSON.stringify(out);
}

/** A configuration's page: it loads the engine once, then runs round after round. */
class BenchPage {
  constructor(page) {
    this.page = page;
    this.logs = [];
    page.on('console', (m) => this.logs.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.logs.push(`[pageerror] ${e.message}`));
  }

  static async open(browser, url, cfg) {
    const bench = new BenchPage(await browser.newPage());
    try {
      await bench.step(async () => {
        await bench.page.goto(`${url}/www/bench.html`);
        await bench.page.waitForFunction(() => window.benchReady === true);
        await bench.page.evaluate((c) => window.benchOpen(c), cfg);
      });
    } catch (e) {
      await bench.close();
      throw e;
    }
    return bench;
  }

  /** One round; resolves to its median ms. */
  round(round) {
    return this.step(() => this.page.evaluate((r) => window.benchRound(r), round));
  }

  /** The configuration's result over all its rounds. */
  finish() {
    return this.step(() => this.page.evaluate(() => window.benchClose()));
  }

  close() {
    return this.page.close();
  }

  /** Runs `fn`, failing after CONFIG_TIMEOUT_S with the page's last console lines. */
  async step(fn) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result after ${CONFIG_TIMEOUT_S} s`)), CONFIG_TIMEOUT_S * 1000);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (e) {
      const tail = this.logs.slice(-20).join('\n');
      throw new Error(`${e.message.split('\n')[0]}${tail ? `\npage console:\n${tail}` : ''}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs every configuration of one width, round by round, each in its own page, and returns
 * their results (undefined where one failed, after saying why).
 */
async function runWidth(browser, url, configs) {
  const pages = [];
  const results = [];
  const failed = (i, e) => {
    process.stderr.write(`bench: ${configs[i].backend} x${configs[i].width} failed: ${e.message}\n`);
    pages[i]?.close().catch(() => {});
    pages[i] = undefined;
  };
  try {
    for (const [i, cfg] of configs.entries()) {
      await BenchPage.open(browser, url, cfg).then((p) => (pages[i] = p), (e) => failed(i, e));
    }
    for (let round = 0; round < Math.max(...configs.map((c) => c.rounds)); round++) {
      for (const [i, cfg] of configs.entries()) {
        if (!pages[i] || round >= cfg.rounds) continue;
        const runs = roundRuns(cfg, round);
        process.stderr.write(`bench: ${cfg.backend} x${cfg.width} batch ${cfg.batch}, round ${round + 1} of ${cfg.rounds}, ${runs} runs\n`);
        // The first round warms V8's code up; later ones only the caches the others used.
        const warmup = round === 0 ? cfg : { warmupRuns: Math.min(cfg.warmupRuns, REWARM_RUNS), warmupMs: 0 };
        await pages[i].round({ runs, warmupRuns: warmup.warmupRuns, warmupMs: warmup.warmupMs }).catch((e) => failed(i, e));
      }
    }
    for (const [i, page] of pages.entries()) {
      if (page) results[i] = await page.finish().catch((e) => failed(i, e));
    }
  } finally {
    for (const page of pages) await page?.close();
  }
  return results;
}

/**
 * One line per width comparing what ran: ours / ORT at each thread count (below 1: ours is
 * faster) and our speed-up from one thread to two.
 */
function ratios(medians, widths, load) {
  const pairs = {
    'cpu-simd128-t1/ort-wasm': ['cpu-simd128-t1', 'ort-wasm'],
    'cpu-simd128-t2/ort-wasm-t2': ['cpu-simd128-t2', 'ort-wasm-t2'],
    'cpu-simd128-t1/tfjs-wasm': ['cpu-simd128-t1', 'tfjs-wasm'],
    'cpu-simd128-t2/tfjs-wasm-t2': ['cpu-simd128-t2', 'tfjs-wasm-t2'],
    'cpu-simd128/ort-wasm': ['cpu-simd128', 'ort-wasm'],
    'cpu-simd128-t1/cpu-simd128-t2': ['cpu-simd128-t1', 'cpu-simd128-t2'],
    'cpu-simd128-t1/cpu-simd128': ['cpu-simd128-t1', 'cpu-simd128'],
    'cpu-relaxed/cpu-simd128': ['cpu-relaxed', 'cpu-simd128'],
    'cpu-relaxed/ort-wasm': ['cpu-relaxed', 'ort-wasm'],
    'cpu-relaxed-t1/ort-wasm': ['cpu-relaxed-t1', 'ort-wasm'],
    'cpu-relaxed-t2/ort-wasm-t2': ['cpu-relaxed-t2', 'ort-wasm-t2'],
    'cpu-relaxed-t2/tfjs-wasm-t2': ['cpu-relaxed-t2', 'tfjs-wasm-t2'],
    'cpu-relaxed-t1/cpu-relaxed-t2': ['cpu-relaxed-t1', 'cpu-relaxed-t2'],
  };
  const out = [];
  for (const width of widths) {
    const r = { ratios: true, width, load };
    for (const [name, [a, b]] of Object.entries(pairs)) {
      const x = medians[a]?.[width];
      const y = medians[b]?.[width];
      if (x && y) r[name] = Number((x / y).toPrecision(3));
    }
    if (Object.keys(r).length > 3) out.push(r);
  }
  return out;
}

/** `--guidelines`: the four tables on each lab backend, one JSON line each (no markdown). */
async function guidelines(opts, browser, url) {
  let failures = 0;
  for (const backend of opts.backends) {
    const lab = LAB_BACKENDS[backend];
    const runs = opts.runs ?? (lab === 'cpu' ? 7 : 3);
    for (const scale of opts.scales) {
      process.stderr.write(`bench: guidelines on ${backend} at x${scale}, ${runs} runs a row\n`);
      const page = await browser.newPage();
      try {
        await page.goto(`${url}/www/bench.html`);
        await page.waitForFunction(() => window.benchReady === true);
        const tables = await page.evaluate((c) => window.guidelines(c), { backend: lab, runs, scale });
        for (const table of tables) {
          delete table.markdown;
          process.stdout.write(`${JSON.stringify({ guidelines: true, ...table })}\n`);
        }
      } catch (e) {
        failures++;
        process.stderr.write(`bench: guidelines on ${backend} at x${scale} failed: ${e.message.split('\n')[0]}\n`);
      } finally {
        await page.close();
      }
    }
  }
  return failures;
}

/** One configuration of the run: `backend` at `width`, with its defaults. */
function config(opts, models, backend, width) {
  const defaults = GPU.has(backend) ? GPU_DEFAULTS : CPU_DEFAULTS;
  const runs = opts.runs ?? defaults.runs;
  return {
    backend,
    width,
    batch: opts.batch,
    runs,
    // A round times one run at least.
    rounds: GPU.has(backend) ? 1 : Math.min(opts.rounds ?? Math.ceil(runs / ROUND_RUNS), runs),
    warmupRuns: opts.warmup ?? defaults.warmupRuns,
    warmupMs: opts.warmup === undefined ? defaults.warmupMs : 0,
    seed: opts.seed,
    kernels: opts.kernels,
    tutorial: opts.tutorial,
    load: opts.load,
    roofline: opts.roofline,
    pkg: PACKAGE_OF[backend] ?? THREADED_PACKAGE[THREADED.exec(backend)?.[1]] ?? 'pkg',
    threads: Number(THREADED.exec(backend)?.[2] ?? 1),
    weightsUrl: `../${models[width].weights}`,
    onnxUrl: models[width].onnx && `../${models[width].onnx}`,
  };
}

/** Timed runs in round `round`: `cfg.runs` shared out, the earlier rounds taking the remainder. */
function roundRuns(cfg, round) {
  return Math.floor(cfg.runs / cfg.rounds) + (round < cfg.runs % cfg.rounds ? 1 : 0);
}

async function main() {
  const opts = parse(process.argv.slice(2));
  preparePackages(opts);
  if (opts.guidelines) {
    const server = await serve(ROOT);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: HEADLESS, args: CHROMIUM_ARGS });
    try {
      if ((await guidelines(opts, browser, server.url)) > 0) process.exitCode = 1;
    } finally {
      await browser.close();
      await server.close();
    }
    return;
  }
  const models = {};
  const wantOnnx = opts.backends.some((b) => b.startsWith('ort-'));
  for (const w of opts.widths) models[w] = benchModel(ROOT, w, opts.seed, { onnx: wantOnnx, tutorial: opts.tutorial });
  if (wantOnnx) process.stderr.write(`bench: onnxruntime-web ${ortVersion(ROOT)}\n`);

  const server = await serve(ROOT);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: HEADLESS, args: CHROMIUM_ARGS });
  const load = opts.load > 0 ? startLoad(opts.load) : null;
  if (load) process.stderr.write(`bench: --load ${opts.load}: busy processes ${load.pids.join(' ')}\n`);
  let failures = 0;
  const medians = {}; // backend -> width -> median ms, for the ratios
  try {
    for (const width of opts.widths) {
      const configs = opts.backends.map((backend) => config(opts, models, backend, width));
      const results = await runWidth(browser, server.url, configs);
      for (const [i, cfg] of configs.entries()) {
        const result = results[i];
        if (!result) {
          failures++;
          continue;
        }
        process.stdout.write(`${line(cfg, result)}\n`);
        const diff = result.max_rel_diff_vs_ours ?? result.max_rel_diff_vs_cpu;
        if (diff > MAX_REL_DIFF) {
          failures++;
          process.stderr.write(`bench: ${cfg.backend} x${width} failed: logits differ by ${diff} (relative), more than ${MAX_REL_DIFF}\n`);
        } else {
          (medians[cfg.backend] ??= {})[width] = result.median_ms;
        }
      }
    }
  } finally {
    load?.stop();
    await browser.close();
    await server.close();
  }
  for (const r of ratios(medians, opts.widths, opts.load)) process.stdout.write(`${JSON.stringify(r)}\n`);
  if (failures) {
    process.stderr.write(`bench: ${failures} configuration(s) failed\n`);
    process.exit(1);
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(1);
});
