// A loopback TCP proxy that behaves like a slow link and counts what crosses it: each direction
// gets `mbps` of bandwidth and half of `rttMs` of latency. The browser talks to the proxy as if
// it were the server, so every request of the page, its workers and the pool's threads is
// counted. For the startup benchmark (tools/bench/startup.mjs).
import { createConnection, createServer } from 'node:net';

/**
 * One direction of the link: chunks leave in order, spaced by their size and delayed by
 * `latencyMs`; the end follows the last chunk.
 */
function shaper(out, bytesPerMs, latencyMs, count) {
  let free = 0; // when the link is next idle (performance.now() ms)
  let inFlight = 0; // chunks scheduled but not written
  let ending = false;
  const at = (ms, fn) => setTimeout(() => out.destroyed || fn(), ms - performance.now());
  // Timers due within the same millisecond may fire out of order: the end waits for every
  // chunk (a server that closes after each response, like python's, would lose its tail).
  const endIfDone = () => ending && inFlight === 0 && out.end();
  return {
    send(chunk) {
      count(chunk.length);
      free = Math.max(free, performance.now()) + chunk.length / bytesPerMs;
      const copy = Buffer.from(chunk);
      inFlight++;
      at(free + latencyMs, () => {
        out.write(copy);
        inFlight--;
        endIfDone();
      });
    },
    end() {
      at(Math.max(free, performance.now()) + latencyMs, () => {
        ending = true;
        endIfDone();
      });
    },
  };
}

/**
 * Starts the proxy on a free loopback port in front of `target()` ({ host, port }, asked per
 * connection, so the server may start after the proxy). Resolves to { port, bytes, reset, close }:
 * `bytes.down` counts server-to-browser bytes, `bytes.up` the other way.
 */
export async function startThrottle({ target, mbps = 20, rttMs = 40 }) {
  const bytesPerMs = (mbps * 1e6) / 8 / 1000;
  const bytes = { down: 0, up: 0 };
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = createConnection(target());
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    const up = shaper(upstream, bytesPerMs, rttMs / 2, (n) => (bytes.up += n));
    const down = shaper(client, bytesPerMs, rttMs / 2, (n) => (bytes.down += n));
    client.on('data', up.send);
    upstream.on('data', down.send);
    client.on('end', up.end);
    upstream.on('end', down.end);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: server.address().port,
    bytes,
    reset() {
      bytes.down = 0;
      bytes.up = 0;
    },
    close: () => new Promise((ok) => {
      for (const s of sockets) s.destroy();
      server.close(ok);
    }),
  };
}
