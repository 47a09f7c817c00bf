// Memory readings for the soak: JS heap of the page and of the inference worker (through CDP,
// after a forced garbage collection) and the wasm linear memory (`wasmMemoryBytes()`).

export class HeapProbe {
  #browser;
  #page;
  #pageCdp = null;
  #browserCdp = null;
  #workerSession = null;
  #next = 1;
  #waiting = new Map();

  constructor(browser, page) {
    this.#browser = browser;
    this.#page = page;
  }

  async #attach() {
    this.#pageCdp ??= await this.#page.context().newCDPSession(this.#page);
    if (this.#browserCdp) return;
    // Playwright exposes no CDP session for workers, so attach to the worker target ourselves
    // (non-flat mode: messages travel wrapped in Target.sendMessageToTarget).
    this.#browserCdp = await this.#browser.newBrowserCDPSession();
    this.#browserCdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
      if (sessionId !== this.#workerSession) return;
      const m = JSON.parse(message);
      const call = this.#waiting.get(m.id);
      if (!call) return;
      this.#waiting.delete(m.id);
      if (m.error) call.reject(new Error(m.error.message));
      else call.resolve(m.result);
    });
    const { targetInfos } = await this.#browserCdp.send('Target.getTargets');
    const worker = targetInfos.find((t) => t.type === 'worker' && t.url.includes('engine-worker'));
    if (!worker) return; // main-thread mode: no worker heap to read
    ({ sessionId: this.#workerSession } = await this.#browserCdp.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false }));
  }

  #worker(method, params = {}) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#browserCdp
        .send('Target.sendMessageToTarget', { sessionId: this.#workerSession, message: JSON.stringify({ id, method, params }) })
        .catch(reject);
    });
  }

  async measure() {
    await this.#attach();
    await this.#pageCdp.send('HeapProfiler.collectGarbage');
    const main = await this.#pageCdp.send('Runtime.getHeapUsage');
    let workerUsed = 0;
    if (this.#workerSession) {
      await this.#worker('HeapProfiler.collectGarbage');
      workerUsed = (await this.#worker('Runtime.getHeapUsage')).usedSize;
    }
    const { wasmBytes } = await this.#page.evaluate(() => window.shufflenet.memory());
    const domNodes = (await this.#pageCdp.send('Memory.getDOMCounters')).nodes;
    return { mainHeap: main.usedSize, workerHeap: workerUsed, wasmBytes, domNodes };
  }

  async close() {
    await this.#browserCdp?.detach().catch(() => {});
    await this.#pageCdp?.detach().catch(() => {});
  }
}
