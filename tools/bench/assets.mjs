// What the bench page needs, made on demand: the wasm packages (SIMD and scalar), the seeded
// random weights, and their ONNX export for ONNX Runtime Web. Progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

// The wasm toolchain's variables (KEY=VALUE ..., from tools/setup.sh via bench.sh): on machines
// where rustup cannot add wasm32 they select Debian's toolchain that builds std from source.
const WASM_ENV = Object.fromEntries(
  (process.env.WASM_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

// SIMD instructions as wasm-objdump prints them.
const SIMD_OPS = /\b(v128\.|[if](8x16|16x8|32x4|64x2)\.)/;

function run(cmd, args, { cwd, env = {}, quiet = false } = {}) {
  process.stderr.write(`bench: ${cmd} ${args.join(' ')}\n`);
  const res = spawnSync(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', quiet ? 'pipe' : process.stderr, quiet ? 'pipe' : process.stderr],
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  if (res.error) throw new Error(`${cmd}: ${res.error.message}`);
  return res;
}

function check(res, what) {
  if (res.status !== 0) throw new Error(`${what} failed (exit ${res.status})${res.stderr ? `:\n${res.stderr}` : ''}`);
  return res;
}

/**
 * Builds `pkg/` (simd128, from .cargo/config.toml), `pkg-scalar/` (the target's rustflags
 * replaced by -simd128, so std and the crate are built without SIMD) or, with `relaxed`,
 * `pkg-relaxed/` (+relaxed-simd: fused multiply-adds), each in its own target dir so the
 * builds do not invalidate each other.
 * cargo + wasm-bindgen directly: wasm-pack insists on a wasm32 std in the sysroot, and
 * Debian's toolchain builds std from source instead.
 */
export function buildPackage(root, simd, relaxed = false) {
  const kind = relaxed ? 'relaxed' : simd ? 'simd128' : 'scalar';
  const outDir = { relaxed: 'pkg-relaxed', simd128: 'pkg', scalar: 'pkg-scalar' }[kind];
  const targetDir = join(root, 'target', `bench-${kind}`);
  const features = { relaxed: '+simd128,+relaxed-simd', simd128: null, scalar: '-simd128' }[kind];
  const rustflags = { CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: `-C target-feature=${features}` };
  const env = features ? { ...WASM_ENV, ...rustflags } : WASM_ENV;
  const cargoArgs = ['build', '--lib', '--release', '--target', 'wasm32-unknown-unknown', '--target-dir', targetDir];
  check(run('cargo', cargoArgs, { cwd: root, env }), `cargo build (${outDir})`);
  const wasm = join(targetDir, 'wasm32-unknown-unknown', 'release', 'shufflenet_web.wasm');
  const bindgenArgs = ['--target', 'web', '--out-dir', outDir, '--out-name', 'shufflenet_web', wasm];
  check(run('wasm-bindgen', bindgenArgs, { cwd: root }), `wasm-bindgen (${outDir})`);
}

/**
 * Builds `pkg-threads/` or, with `relaxed`, `pkg-threads-relaxed/`: atomics and shared memory,
 * std rebuilt with them (`-Z build-std`, RUSTC_BOOTSTRAP), with tools/setup.sh's flags
 * (THREADS_RUSTFLAGS or THREADS_RELAXED_RUSTFLAGS, from bench.sh) and target dirs, so
 * `./run.sh`, `./test.sh` and the bench share one build of each.
 */
export function buildThreadsPackage(root, relaxed = false) {
  const [outDir, variable] = relaxed ? ['pkg-threads-relaxed', 'THREADS_RELAXED_RUSTFLAGS'] : ['pkg-threads', 'THREADS_RUSTFLAGS'];
  const flags = process.env[variable];
  if (!flags) throw new Error(`${variable} is not set: run the bench through ./bench.sh`);
  const targetDir = join(root, 'target', relaxed ? 'threads-relaxed' : 'threads');
  const env = { ...WASM_ENV, RUSTC_BOOTSTRAP: '1', CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: flags.split(/\s+/).join(' ') };
  const cargoArgs = ['build', '--lib', '--release', '--target', 'wasm32-unknown-unknown', '-Z', 'build-std=std,panic_abort', '--target-dir', targetDir];
  check(run('cargo', cargoArgs, { cwd: root, env }), `cargo build (${outDir})`);
  const wasm = join(targetDir, 'wasm32-unknown-unknown', 'release', 'shufflenet_web.wasm');
  check(run('wasm-bindgen', ['--target', 'web', '--out-dir', outDir, wasm], { cwd: root }), `wasm-bindgen (${outDir})`);
}

/** Whether the package's wasm holds relaxed SIMD instructions; null without wasm-objdump. */
export function hasRelaxedSimd(pkgDir) {
  const res = spawnSync('wasm-objdump', ['-d', join(pkgDir, 'shufflenet_web_bg.wasm')], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (res.error?.code === 'ENOENT') return null;
  return res.status === 0 && res.stdout.includes('relaxed_madd');
}

/**
 * Whether the package's wasm holds SIMD instructions, by disassembling it with wabt's
 * wasm-objdump; null when wasm-objdump is not installed.
 */
export function hasSimd(pkgDir) {
  const wasm = join(pkgDir, 'shufflenet_web_bg.wasm');
  const res = spawnSync('wasm-objdump', ['-d', wasm], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (res.error?.code === 'ENOENT') return null;
  if (res.status !== 0) throw new Error(`wasm-objdump -d ${wasm} failed:\n${res.stderr}`);
  return res.stdout.split('\n').some((line) => SIMD_OPS.test(line));
}

function newerThan(file, than) {
  return existsSync(file) && statSync(file).mtimeMs >= statSync(than).mtimeMs;
}

/** Writes the weights with the CLI's `random` command, if the CLI has it (`extra`: more
 * arguments, e.g. the tutorial's network). */
function cliRandom(root, width, seed, out, extra = []) {
  const args = ['run', '--release', '--quiet', '--bin', 'shufflenet', '--', 'random', '--width', width, '--seed', `${seed}`, out, ...extra];
  const res = run('cargo', args, { cwd: root, quiet: true });
  if (res.status !== 0 || !existsSync(out)) {
    process.stderr.write(`bench: the CLI could not write ${out}; tools/export_onnx.py generates the same weights\n`);
  }
}

function ensurePythonDeps() {
  const probe = spawnSync('python3', ['-c', 'import torch, torchvision, onnx, safetensors, numpy']);
  if (probe.status === 0) return;
  process.stderr.write('bench: torch/torchvision/onnx missing; installing them with pip (needed only to export ONNX)\n');
  check(
    run('python3', ['-m', 'pip', 'install', 'torch', 'torchvision', 'onnx', 'safetensors', 'numpy']),
    'pip install',
  );
}

/**
 * Seeded random weights for `width` (the CLI's `random` command when it exists, else the
 * bit-identical generator in tools/export_onnx.py) and, if `onnx`, their ONNX export.
 * Returns paths relative to the root, as the page fetches them.
 */
export function benchModel(root, width, seed, { onnx, tutorial = false }) {
  if (tutorial) {
    // The tutorial's network (issue 11): the CLI writes it; there is no ONNX export of it.
    const weights = `bench-results/tutorial_x${width}_seed${seed}.safetensors`;
    mkdirSync(join(root, 'bench-results'), { recursive: true });
    if (!existsSync(join(root, weights))) cliRandom(root, width, seed, join(root, weights), ['--tutorial', '--classes', '5']);
    if (!existsSync(join(root, weights))) throw new Error(`could not write ${weights}`);
    return { weights, onnx: null };
  }
  const base = `bench-results/shufflenetv2_x${width}_seed${seed}`;
  const weights = `${base}.safetensors`;
  const model = `${base}.onnx`;
  const abs = (p) => join(root, p);
  if (!existsSync(abs(weights))) cliRandom(root, width, seed, abs(weights));
  const export_ = !existsSync(abs(weights)) || (onnx && !newerThan(abs(model), abs(weights)));
  if (export_) {
    ensurePythonDeps();
    const script = join(root, 'tools', 'export_onnx.py');
    const args = [script, '--width', width, '--weights', abs(weights), '--out', abs(model), '--seed', `${seed}`];
    check(run('python3', args, { cwd: root }), 'tools/export_onnx.py');
  }
  return { weights, onnx: onnx ? model : null };
}

/** The onnxruntime-web version the page loads, for the record. */
export function ortVersion(root) {
  return JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version;
}
