// www/throttle.js: the page draws a camera frame's prediction at most every 33 ms, the
// newest one, and never one a still picture's prediction replaced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Throttle } from '../../www/throttle.js';

/** A throttle on mocked timers and a clock that moves with them. */
function mocked(t, ms) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 1000;
  const tick = (dt) => {
    now += dt;
    t.mock.timers.tick(dt);
  };
  return { throttle: new Throttle(ms, () => now), tick };
}

test('the first draw runs at once, then the newest once per interval', (t) => {
  const { throttle, tick } = mocked(t, 33);
  const drawn = [];
  throttle.run(() => drawn.push('a'));
  assert.deepEqual(drawn, ['a']);
  tick(10);
  throttle.run(() => drawn.push('b'));
  tick(10);
  throttle.run(() => drawn.push('c'));
  tick(12);
  assert.deepEqual(drawn, ['a'], '32 ms after the first: nothing more yet');
  tick(1);
  assert.deepEqual(drawn, ['a', 'c'], 'at 33 ms the newest, and only it');
  tick(100);
  assert.deepEqual(drawn, ['a', 'c'], 'nothing is drawn twice');
  throttle.run(() => drawn.push('d'));
  assert.deepEqual(drawn, ['a', 'c', 'd'], 'after a quiet interval a draw runs at once');
});

test('cancel drops the draw still to come', (t) => {
  const { throttle, tick } = mocked(t, 33);
  const drawn = [];
  throttle.run(() => drawn.push('a'));
  tick(5);
  throttle.run(() => drawn.push('b'));
  throttle.cancel();
  tick(100);
  assert.deepEqual(drawn, ['a']);
});
