// tools/bench/throttle.mjs: bytes are counted both ways and the link is as slow as asked.
import assert from 'node:assert/strict';
import { createServer, createConnection } from 'node:net';
import { test } from 'node:test';
import { startThrottle } from '../../tools/bench/throttle.mjs';

test('counts bytes both ways, adds the round trip and limits the bandwidth', async () => {
  const payload = Buffer.alloc(250_000, 1); // 2 Mbit: 100 ms at 20 Mbit/s
  const echo = createServer((s) => s.once('data', () => s.end(payload)));
  await new Promise((ok) => echo.listen(0, '127.0.0.1', ok));
  const link = await startThrottle({ target: () => ({ host: '127.0.0.1', port: echo.address().port }), mbps: 20, rttMs: 40 });
  try {
    const start = performance.now();
    const got = await new Promise((ok, fail) => {
      const chunks = [];
      const s = createConnection({ host: '127.0.0.1', port: link.port }, () => s.write('hello'));
      s.on('data', (c) => chunks.push(c));
      s.on('end', () => ok(Buffer.concat(chunks)));
      s.on('error', fail);
    });
    const ms = performance.now() - start;
    assert.equal(got.length, payload.length);
    assert.equal(link.bytes.up, 5);
    assert.equal(link.bytes.down, payload.length);
    // One round trip (40 ms) plus 2 Mbit at 20 Mbit/s (100 ms), give or take the timers.
    assert.ok(ms >= 135, `${ms.toFixed(0)} ms`);
    link.reset();
    assert.deepEqual(link.bytes, { down: 0, up: 0 });
  } finally {
    await link.close();
    echo.close();
  }
});
