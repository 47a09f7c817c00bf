// www/image-input.js: pictures and camera frames within MAX_INPUT_SIDE keep their size; bigger
// ones are scaled to it, keeping their aspect ratio.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_INPUT_SIDE, frameOptions } from '../../www/image-input.js';

test('sources within the limit keep their size; bigger ones are scaled to it', () => {
  assert.deepEqual(frameOptions(640, 480), {});
  assert.deepEqual(frameOptions(MAX_INPUT_SIDE, 10), {});
  const big = frameOptions(4096, 3072);
  assert.equal(big.resizeWidth, MAX_INPUT_SIDE);
  assert.equal(big.resizeHeight, 1536);
  assert.equal(big.resizeQuality, 'high');
  assert.equal(frameOptions(100000, 1).resizeHeight, 1, 'never below one pixel');
});
