// www/backend-choice.js: `auto` keeps WebGPU only when it is clearly faster, decides early on a
// hopeless first frame, and remembers per adapter, width and CPU build for a week.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_AGE_MS, choiceKey, decide, keepTiming, reason, recall, remember } from '../../www/backend-choice.js';

test('WebGPU must be clearly faster: 0.8 of the CPU or less', () => {
  assert.equal(decide([10, 11, 9], [7, 8, 8]).backend, 'webgpu');
  assert.equal(decide([10, 10, 10], [9, 9, 9]).backend, 'cpu', 'a 10 % win is noise, not a switch');
  assert.equal(decide([10, 10, 10], [1620, 1600, 1700]).backend, 'cpu');
  assert.deepEqual(decide([9.8], [1620]), { backend: 'cpu', cpuMs: 9.8, gpuMs: 1620 });
});

test('timing stops after three frames, or after one hopeless frame', () => {
  assert.equal(keepTiming(10, []), true);
  assert.equal(keepTiming(10, [12]), true);
  assert.equal(keepTiming(10, [12, 11, 12]), false);
  assert.equal(keepTiming(10, [51]), false, 'more than 5x the CPU on the first frame');
});

test('the reason names both times', () => {
  assert.equal(reason({ backend: 'cpu', cpuMs: 9.8, gpuMs: 1620 }), 'CPU · 9.8 ms here vs WebGPU 1,620 ms');
  assert.equal(reason({ backend: 'webgpu', cpuMs: 9.8, gpuMs: 3.25 }), 'WebGPU · 3.3 ms here vs CPU 9.8 ms');
});

test('choices are remembered per adapter, width and CPU build, for a week; junk is ignored', () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  const key = choiceKey('google|swiftshader', '0.5', 'cpu-simd128 x2');
  const now = Date.UTC(2026, 0, 1);
  assert.equal(recall(storage, key, now), null);
  remember(storage, key, { backend: 'cpu', cpuMs: 5, gpuMs: 400 }, now);
  assert.deepEqual(recall(storage, key, now + 1000), { backend: 'cpu', cpuMs: 5, gpuMs: 400, at: now });
  assert.equal(recall(storage, choiceKey('google|swiftshader', '1.0', 'cpu-simd128 x2'), now), null, 'another width');
  assert.equal(recall(storage, choiceKey('google|swiftshader', '0.5', 'cpu-simd128 x1'), now), null, 'one CPU thread');
  assert.equal(recall(storage, choiceKey('nvidia|ampere', '0.5', 'cpu-simd128 x2'), now), null, 'another adapter');
  assert.notEqual(recall(storage, key, now + MAX_AGE_MS - 1), null);
  assert.equal(recall(storage, key, now + MAX_AGE_MS), null, 'a week later: measured again');
  assert.equal(recall(storage, key, now - 1000), null, 'measured in the future: the clock moved');
  store.set(key, JSON.stringify({ backend: 'cpu', cpuMs: 5, gpuMs: 400 }));
  assert.equal(recall(storage, key, now), null, 'no date');
  store.set(key, '{not json');
  assert.equal(recall(storage, key, now), null);
  store.set(key, JSON.stringify({ backend: 'quantum', cpuMs: 1, gpuMs: 1, at: now }));
  assert.equal(recall(storage, key, now), null);
  assert.equal(recall(undefined, key, now), null, 'no storage');
  const full = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } };
  assert.doesNotThrow(() => remember(full, key, { backend: 'cpu', cpuMs: 5, gpuMs: 400 }, now));
});
