// Benchmark driver (run through ./bench.sh): builds what is needed, serves the repository on
// 127.0.0.1, runs www/bench.html in headless Debian Chromium once per configuration, and prints
// one JSON line per configuration to stdout. Everything else goes to stderr.
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

const USAGE = `usage: ./bench.sh [--backend NAME]... [--width W]... [--batch B] [--runs N] [--warmup N] [--seed S] [--kernels SET] [--load N] [--tutorial] [--roofline] [--no-build]
  --backend  ${BACKENDS.join(' | ')} (repeat or comma-separate; default: all)
             ort-*: ONNX Runtime Web; tfjs-wasm, tfjs-wasm-t2: TensorFlow.js's wasm backend on 1 and 2
             threads (the network built from tf ops, BatchNorm folded); their logits are checked against ours
  --width    ${WIDTHS.join(' | ')} (repeat or comma-separate; default: ${DEFAULT_WIDTHS.join(', ')})
  --batch    images per run (default 1)
  --runs     timed runs (default ${CPU_DEFAULTS.runs} on the CPU backends, ${GPU_DEFAULTS.runs} on the WebGPU ones)
  --warmup   untimed runs first (default ${CPU_DEFAULTS.warmupRuns} and at least ${CPU_DEFAULTS.warmupMs} ms on the CPU, ${GPU_DEFAULTS.warmupRuns} on WebGPU)
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
  const round = (x) => (typeof x === 'number' && !Number.isInteger(x) ? Number(x.toPrecision(6)) : x);
  const { median_ms, min_ms, max_ms, stages, wasm_memory_bytes, ...extra } = r;
  const out = {
    backend: cfg.backend,
    width: cfg.width,
    ...(cfg.tutorial && { model: 'tutorial' }),
    load: cfg.load,
    batch: cfg.batch,
    runs: cfg.runs,
    median_ms: round(median_ms),
    min_ms: round(min_ms),
    max_ms: round(max_ms),
    stages: stages && Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
    wasm_memory_bytes,
  };
  for (const [k, v] of Object.entries(extra)) out[k] = round(v);
  return JSON.stringify(out);
}

async function runOne(browser, url, cfg) {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(`${url}/www/bench.html`);
    await page.waitForFunction(() => window.benchReady === true);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result after ${CONFIG_TIMEOUT_S} s`)), CONFIG_TIMEOUT_S * 1000);
    });
    try {
      return await Promise.race([page.evaluate((c) => window.bench(c), cfg), timeout]);
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    const tail = logs.slice(-20).join('\n');
    throw new Error(`${e.message.split('\n')[0]}${tail ? `\npage console:\n${tail}` : ''}`, { cause: e });
  } finally {
    await page.close();
  }
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
    for (const backend of opts.backends) {
      const defaults = GPU.has(backend) ? GPU_DEFAULTS : CPU_DEFAULTS;
      for (const width of opts.widths) {
        const cfg = {
          backend,
          width,
          batch: opts.batch,
          runs: opts.runs ?? defaults.runs,
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
        process.stderr.write(`bench: ${backend} x${width} batch ${cfg.batch}, ${cfg.runs} runs\n`);
        try {
          const result = await runOne(browser, server.url, cfg);
          process.stdout.write(`${line(cfg, result)}\n`);
          (medians[backend] ??= {})[width] = result.median_ms;
          const diff = result.max_rel_diff_vs_ours ?? result.max_rel_diff_vs_cpu;
          if (diff > MAX_REL_DIFF) throw new Error(`logits differ by ${diff} (relative), more than ${MAX_REL_DIFF}`);
        } catch (e) {
          failures++;
          process.stderr.write(`bench: ${backend} x${width} failed: ${e.message}\n`);
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
