// The page's address options, read and checked in one place. A value the page cannot use gets
// a sentence saying so and the default, never a dead page (`?width=3.0`, `?backend=bogus`).
// Pure: tests/e2e/query.test.mjs runs it under node.

export const BACKENDS = ['auto', 'webgpu', 'cpu'];
export const SIMD_MODES = ['auto', 'relaxed', '128'];
export const PRECISIONS = ['f16', 'f32'];
// `?threads=N` up to MAX_THREADS; by default the machine's cores up to DEFAULT_MAX_THREADS (more
// hand-overs per layer than that cost more than they bring on 224 x 224 frames).
export const MAX_THREADS = 16;
export const DEFAULT_MAX_THREADS = 8;

/**
 * The options in `params` (a URLSearchParams) for a machine with `cores` logical cores:
 * `{ backend, threads, simd, precision, notes }`, `notes` saying what was refused and why.
 */
export function readOptions(params, cores) {
  const notes = [];
  const pick = (name, allowed, fallback, what) => {
    const raw = params.get(name);
    if (raw === null) return fallback;
    if (allowed.includes(raw)) return raw;
    notes.push(`?${name}=${raw} is not one of ${allowed.join(', ')}: ${what}.`);
    return fallback;
  };
  const backend = pick('backend', BACKENDS, 'auto', 'the backend is chosen automatically');
  const simd = pick('simd', SIMD_MODES, 'auto', "the CPU's SIMD is chosen automatically");
  const precision = pick('precision', PRECISIONS, 'f16', 'the F16 weights load');
  const fallbackThreads = Math.max(1, Math.min(cores || 1, DEFAULT_MAX_THREADS));
  let threads = fallbackThreads;
  const rawThreads = params.get('threads');
  if (rawThreads !== null) {
    const n = /^\d+$/.test(rawThreads) ? Number(rawThreads) : NaN;
    if (n >= 1 && n <= MAX_THREADS) threads = n;
    else notes.push(`?threads=${rawThreads} is not a thread count from 1 to ${MAX_THREADS}: the CPU runs on ${threads}.`);
  }
  return { backend, threads, simd, precision, notes };
}

/**
 * The width to open: `?width=` when the manifest publishes it, else x1.0 (else the first
 * published), with a note when `?width=` was refused. `raw` is null when the address has none.
 */
export function chooseWidth(raw, published) {
  const fallback = published.includes('1.0') ? '1.0' : published[0];
  if (raw === null || published.includes(raw)) return { width: raw ?? fallback, note: null };
  return {
    width: fallback,
    note: `?width=${raw} is not a published width (${published.map((w) => `x${w}`).join(', ')}): x${fallback} opens instead.`,
  };
}
