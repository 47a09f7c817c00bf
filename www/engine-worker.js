// @ts-check
// Inference worker: owns the Engine so a slow frame (CPU path, or SwiftShader's seconds-long
// GPU frames) never blocks the page. Protocol: {id, method, args} in; {id, ok, value | error}
// or {id, progress: [loaded, total]} out; `fatal: true` on an error means the wasm instance
// trapped (a panic or a failed allocation) and cannot be trusted again. See engine-client.js.

import { EngineHost } from './engine-host.js';

const host = new EngineHost();

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    const onProgress = (loaded, total) => self.postMessage({ id, progress: [loaded, total] });
    const value = method === 'loadUrl' ? await host.loadUrl(args[0], onProgress, args[1]) : await host[method](...args);
    self.postMessage({ id, ok: true, value });
  } catch (err) {
    const fatal = err instanceof WebAssembly.RuntimeError;
    self.postMessage({ id, ok: false, error: String(err?.message ?? err), fatal });
  }
};
