// www/frame-split.js: the medians a benchmark reads cover the frames asked for, the newest
// first, and no more than the history holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameSplit } from '../../www/frame-split.js';

/** Records frames `ms[i]` ms apart, each with inference `ms[i] - 1` and preprocessing 0.5. */
function recorded(ms) {
  const split = new FrameSplit();
  let now = 0;
  const frame = (inference) => ({ totalMs: inference + 0.5, stages: { a: inference / 2, b: inference / 2 } });
  split.record({ capture: 0, roundTrip: 0, draw: 0 }, frame(0), now); // the first only starts the clock
  for (const dt of ms) {
    now += dt;
    split.record({ capture: 0.1, roundTrip: dt, queued: 0, draw: 0.2 }, frame(dt - 1), now);
  }
  return split;
}

test('the median of the last frames, odd and even counts', () => {
  const split = recorded([1, 2, 30, 40, 50]);
  assert.equal(split.medians(3).frame, 40, 'the last three: 30, 40, 50');
  assert.equal(split.medians(4).frame, 35, 'the last four: 2, 30, 40, 50');
  assert.equal(split.medians(4).inference, 34);
  assert.equal(split.medians(4).preprocessing, 0.5);
  assert.equal(split.medians().frame, 30, 'all five');
  assert.equal(split.medians(50).frame, 30, 'more than were recorded: all of them');
  assert.equal(split.medians(3.7).frame, 40, 'a fraction: the whole frames in it');
  for (const bad of [0, -2, NaN]) assert.equal(split.medians(bad).frame, null, `${bad} frames: none`);
});

test('a long run keeps its newest frames, and a reset forgets them', () => {
  const split = recorded([...Array(5000).fill(10), ...Array(4000).fill(2)]);
  assert.equal(split.medians(4000).frame, 2, 'the newest 4000');
  assert.equal(split.medians(1e6).frame, 2, 'at most the 4096 newest: 4000 of 2 ms, 96 of 10');
  split.reset();
  assert.equal(split.medians().frame, null);
});
