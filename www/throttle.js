// Draws at a bounded rate: the newest of the draws given, at most one per interval.

/**
 * Runs the newest of the draws it is given at most every `ms`: one at once, the rest at the end
 * of each interval. The page gets a camera frame's prediction 150 times a second and more,
 * faster than anyone reads the figures, and each repaint takes a share of the cores the engine
 * runs on (docs/page.md, "Drawing at the camera's rate").
 */
export class Throttle {
  #ms;
  #clock;
  #last = -Infinity;
  #timer = null;
  constructor(ms, clock = () => performance.now()) {
    this.#ms = ms;
    this.#clock = clock;
  }
  run(draw) {
    this.cancel();
    const wait = this.#last + this.#ms - this.#clock();
    if (wait <= 0) {
      this.#last = this.#clock();
      draw();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#last = this.#clock();
      draw();
    }, wait);
  }
  /** Drops the draw still to come (a picture's prediction replaces the camera's). */
  cancel() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }
}
