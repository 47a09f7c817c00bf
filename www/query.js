// The page's address options, read and checked in one place. A value the page cannot use gets
// a sentence saying so and the default, never a dead page (`?width=3.0`, `?backend=bogus`).
// Pure: tests/e2e/query.test.mjs runs it under node.

export const BACKENDS = ['auto', 'webgpu', 'cpu'];
export const SIMD_MODES = ['auto', 'relaxed', '128'];
export const PRECISIONS = ['f16', 'f32'];

/**
 * The options in `params` (a URLSearchParams): `{ backend, threads, simd, precision, notes }`,
 * `notes` saying what was refused and why. `threads` is the count asked for, or null for the
 * engine's default (the crate caps both: `startCpuThreads`).
 */
export function readOptions(params) {
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
  /** @type {number | null} */
  let threads = null;
  const rawThreads = params.get('threads');
  if (rawThreads !== null) {
    const n = /^\d{1,4}$/.test(rawThreads) ? Number(rawThreads) : 0;
    if (n >= 1) threads = n;
    else notes.push(`?threads=${rawThreads} is not a thread count: the CPU runs on as many threads as the engine picks for this machine.`);
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
