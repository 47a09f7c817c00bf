// `?backend=auto`: which backend runs frames, by measurement, not by the adapter's presence
// (a software WebGPU adapter, or a small integrated GPU at x0.5, can be far slower than the
// CPU). The page starts on the CPU, builds WebGPU beside it, times a few frames on each and
// keeps WebGPU only when it is clearly faster; the choice is remembered per adapter, width and
// CPU build, so a return visit starts on the winner without measuring again (for a week: drivers
// and browsers change). Pure: node tests it.

/** Frames timed on each backend before deciding. */
export const FRAMES = 3;
/** WebGPU must take at most this share of the CPU's time: a margin against noise (no flapping). */
export const SWITCH_RATIO = 0.8;
/** A first WebGPU frame this many times slower than the CPU's decides at once. */
export const GIVE_UP_RATIO = 5;
/** A remembered choice older than this is measured again. */
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const STORAGE_PREFIX = 'shufflenet-backend:';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Whether to time another WebGPU frame, given the CPU's median and the WebGPU times so far. */
export function keepTiming(cpuMs, gpuTimes) {
  if (gpuTimes.length >= FRAMES) return false;
  return !(gpuTimes.length > 0 && gpuTimes[0] > GIVE_UP_RATIO * cpuMs);
}

/** `{ backend: 'webgpu' | 'cpu', cpuMs, gpuMs }` from the frames timed on each. */
export function decide(cpuTimes, gpuTimes) {
  const cpuMs = median(cpuTimes);
  const gpuMs = median(gpuTimes);
  return { backend: gpuMs <= SWITCH_RATIO * cpuMs ? 'webgpu' : 'cpu', cpuMs, gpuMs };
}

/** What the badge's note says about a choice: "9.8 ms here vs WebGPU 1,620 ms". */
export function reason({ backend, cpuMs, gpuMs }) {
  const ms = (x) => `${x.toLocaleString('en-US', { maximumFractionDigits: x < 100 ? 1 : 0 })} ms`;
  return backend === 'webgpu'
    ? `WebGPU · ${ms(gpuMs)} here vs CPU ${ms(cpuMs)}`
    : `CPU · ${ms(cpuMs)} here vs WebGPU ${ms(gpuMs)}`;
}

/**
 * The key of a remembered choice: the adapter (as the page describes it), the width and the CPU
 * build it was measured against (e.g. "cpu-simd128 x2": one thread or a build without threads is
 * another contest).
 */
export const choiceKey = (adapter, width, cpu) => `${STORAGE_PREFIX}${adapter}|x${width}|${cpu}`;

/**
 * A remembered choice `{ backend, cpuMs, gpuMs, at }`, or null: none, older than `MAX_AGE_MS` at
 * `now`, or storage unavailable or corrupt (any of which means: measure again).
 */
export function recall(storage, key, now) {
  try {
    const c = JSON.parse(storage?.getItem(key) ?? 'null');
    const valid = c && (c.backend === 'webgpu' || c.backend === 'cpu') && c.cpuMs > 0 && c.gpuMs > 0;
    return valid && c.at <= now && now - c.at < MAX_AGE_MS ? c : null;
  } catch {
    return null;
  }
}

/** Keeps `choice` (from `decide`) as measured at `now` (ms since the epoch). */
export function remember(storage, key, choice, now) {
  try {
    storage?.setItem(key, JSON.stringify({ ...choice, at: now }));
  } catch {
    // Storage full or refused: the next visit measures again.
  }
}
