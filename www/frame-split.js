// Where a camera frame's time goes, measured in the page (issue 21): capture (the video frame
// as a VideoFrame or an ImageBitmap, main thread), preprocessing (the engine copying, cropping,
// converting and normalizing its pixels), inference (the network's stages), transfer and
// result (the messages to the engine's worker and back, the top five with their names; not
// the wait behind the frame before) and draw (the page's update). Running means; `frame` is the time between two
// classified frames. The page captures, sends and draws while the engine runs the frame before
// (app.js, `loop`), so in a worker the frame is about preprocessing, inference and transfer.

const SMOOTHING = 0.1;
/** Frames whose parts are kept for `medians` (a benchmark's run; older ones are dropped). */
const HISTORY = 4096;
export const PARTS = ['capture', 'preprocessing', 'inference', 'transfer', 'draw'];
const LABELS = {
  capture: 'Capture',
  preprocessing: 'Preprocessing',
  inference: 'Inference',
  transfer: 'Transfer and result',
  draw: 'Draw',
  frame: 'Frame (from one to the next)',
};

export class FrameSplit {
  #mean = {};
  #last = null;
  /** The last `HISTORY` frames' parts, a ring: frame `i` at `i % HISTORY`. */
  #history = [];
  frames = 0;

  reset() {
    this.#mean = {};
    this.#last = null;
    this.#history = [];
    this.frames = 0;
  }

  /**
   * One classified camera frame: `capture`, `roundTrip` (the engine call as the page saw it),
   * `queued` (the part of it spent waiting for the frame before) and `draw` in ms, and the
   * engine's prediction (`totalMs` in its worker, `stages`).
   */
  record({ capture, roundTrip, queued = 0, draw }, p, now = performance.now()) {
    const inference = Object.values(p.stages).reduce((a, b) => a + b, 0);
    const parts = {
      capture,
      preprocessing: Math.max(0, p.totalMs - inference),
      inference,
      transfer: Math.max(0, roundTrip - queued - p.totalMs),
      draw,
    };
    const last = this.#last;
    this.#last = now;
    // From the second frame on, every part and the frame itself average the same frames.
    if (last == null) return;
    parts.frame = now - last;
    for (const [k, v] of Object.entries(parts)) {
      this.#mean[k] = this.#mean[k] == null ? v : this.#mean[k] + SMOOTHING * (v - this.#mean[k]);
    }
    this.#history[this.frames % HISTORY] = parts;
    this.frames++;
  }

  /**
   * Each part's median, and the frame's, over the last `last` frames (at most `HISTORY`, and
   * those since the last reset): what a benchmark compares with the bench's median run, where
   * the running means follow the last dozen frames.
   */
  medians(last = HISTORY) {
    // A count that is not a whole number of frames asks for none (or, if infinite, all).
    const asked = Number.isNaN(last) ? 0 : Math.max(0, Math.floor(last));
    const n = Math.min(asked, this.frames, HISTORY);
    const recent = Array.from({ length: n }, (_, i) => this.#history[(this.frames - 1 - i) % HISTORY]);
    return Object.fromEntries(
      [...PARTS, 'frame'].map((k) => {
        const v = recent.map((p) => p[k]).sort((a, b) => a - b);
        return [k, n === 0 ? null : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2];
      }),
    );
  }

  /** The running means, ms, once two frames were seen. */
  means() {
    return { ...this.#mean };
  }

  /** Rows for the Model details: [label, "x.xx ms", key]. */
  rows(fmtMs) {
    return [...PARTS, 'frame'].filter((k) => this.#mean[k] != null).map((k) => [LABELS[k], fmtMs(this.#mean[k]), k]);
  }
}
