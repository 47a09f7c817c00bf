// A second page server for tests that change the weights it serves (never the shared one).

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * Serves the page with `/weights/` from `weightsDir` on `port`, with `env` added to the
 * server's environment (`SERVE_ISOLATION: 'off'`, say); resolves to { base, kill }.
 */
export async function serveWeights(weightsDir, port, env = {}) {
  const base = `http://127.0.0.1:${port}/`;
  // Another server on the port would answer for ours (with other weights) while ours fails.
  if (await fetch(base).then(() => true, () => false)) {
    throw new Error(`port ${port} is taken by another server: stop it, or move the tests' ports with E2E_PORT`);
  }
  const server = spawn('node', ['tools/serve.mjs', '.', String(port)], {
    cwd: ROOT,
    env: { ...process.env, WEIGHTS_DIR: weightsDir, ...env },
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${base}weights/manifest.json`).then((r) => r.ok, () => false)) return { base, kill: () => server.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  server.kill();
  throw new Error(`the server did not start on ${base}`);
}

/** A port nothing listens on now (for a test's own server, clear of the fixed ones). */
export const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => ok(port));
  });
});
