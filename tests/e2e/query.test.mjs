// www/query.js: every address option the page cannot use becomes a note and the default.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseWidth, readOptions } from '../../www/query.js';

const read = (search) => readOptions(new URLSearchParams(search));

test('good options pass through, with no notes', () => {
  assert.deepEqual(read('?backend=cpu&threads=3&simd=128&precision=f32'), {
    backend: 'cpu', threads: 3, simd: '128', precision: 'f32', notes: [],
  });
  // No count asked for: the engine's default, which the crate sets (src/cpu/fast/pool.rs).
  assert.deepEqual(read(''), { backend: 'auto', threads: null, simd: 'auto', precision: 'f16', notes: [] });
  // A count above the crate's most passes here: the engine cuts it and says so.
  assert.equal(read('?threads=17').threads, 17);
});

test('each bad option gets the default and one note naming it', () => {
  const r = read('?backend=bogus&threads=0&simd=fast&precision=f8');
  assert.deepEqual([r.backend, r.threads, r.simd, r.precision], ['auto', null, 'auto', 'f16']);
  assert.equal(r.notes.length, 4);
  for (const name of ['backend=bogus', 'threads=0', 'simd=fast', 'precision=f8']) {
    assert.ok(r.notes.some((n) => n.includes(`?${name}`)), `${name}: ${r.notes}`);
  }
  assert.equal(read('?threads=2.5').notes.length, 1);
  assert.equal(read('?threads=2.5').threads, null);
  assert.equal(read('?threads=99999').threads, null, 'five digits are not a thread count');
});

test('a width the manifest does not publish opens x1.0 and says so', () => {
  const published = ['0.5', '1.0', '1.5', '2.0'];
  assert.deepEqual(chooseWidth('1.5', published), { width: '1.5', note: null });
  assert.deepEqual(chooseWidth(null, published), { width: '1.0', note: null });
  const bad = chooseWidth('3.0', published);
  assert.equal(bad.width, '1.0');
  assert.match(bad.note, /\?width=3\.0 is not a published width .*x1\.0 opens instead/);
  assert.equal(chooseWidth('abc', ['0.5']).width, '0.5');
});
