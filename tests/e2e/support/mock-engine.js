// TEST DOUBLE of the wasm package (`pkg/shufflenet_web.js`), used only when
// SHUFFLENET_MOCK_ENGINE=1 to develop the page before the real `src/web.rs` exists. It follows the
// JavaScript contract: real weight-file parsing (safetensors header), real WebGPU adapter lookup,
// fake arithmetic (burns CPU time in proportion to the model size instead of running it).

const memory = new WebAssembly.Memory({ initial: 64, maximum: 4096 });

export default async function init() {}
export function wasmMemoryBytes() {
  return memory.buffer.byteLength;
}

const ARCH_BY_CONV5_IN = { 192: 'x0.5', 464: 'x1.0', 704: 'x1.5', 976: 'x2.0' };

function parseSafetensors(bytes) {
  if (bytes.byteLength < 8) throw new Error('not a safetensors file: shorter than its 8-byte header length');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.byteLength) throw new Error(`not a safetensors file: header length ${n} exceeds the file`);
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`not a safetensors file: header is not JSON (${e.message})`);
  }
  const conv5 = header['conv5.0.weight'];
  const s2 = header['stage2.0.branch2.0.weight'];
  if (!conv5 || !s2 || !header['fc.weight']) throw new Error('missing tensors: conv5.0.weight / stage2.0.branch2.0.weight / fc.weight');
  let params = 0;
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const end = v.data_offsets[1];
    if (8 + n + end > bytes.byteLength) throw new Error(`tensor ${k} runs past the end of the file`);
    params += v.shape.reduce((a, b) => a * b, 1);
  }
  const arch = ARCH_BY_CONV5_IN[conv5.shape[1]];
  if (!arch) throw new Error(`unknown width: conv5 has ${conv5.shape[1]} input channels`);
  return { arch, width: arch.slice(1), dtype: s2.dtype, params, format: 'safetensors', bytes: bytes.byteLength };
}

export class Engine {
  #model = null;
  #backend = 'cpu-simd128';
  #adapter = undefined;
  #reason = undefined;

  static async create(pref) {
    const e = new Engine();
    if (pref !== 'cpu') {
      try {
        await e.setBackend('webgpu');
      } catch (err) {
        if (pref === 'webgpu') throw err;
        e.#reason = err.message;
      }
    }
    return e;
  }

  async loadBytes(bytes) {
    this.#model = parseSafetensors(bytes);
    return { ...this.#model };
  }

  async loadUrl(url) {
    return this.loadBytes(new Uint8Array(await (await fetch(url)).arrayBuffer()));
  }

  async classify(image, k, crop) {
    if (!this.#model) throw new Error('no weights loaded');
    if (!(image instanceof ImageData)) throw new Error('classify needs an ImageData');
    const cost = (this.#model.params / 1.4e6) * (this.#backend === 'webgpu' ? 60 : 25);
    const t0 = performance.now();
    let sum = 0;
    const d = image.data;
    for (let i = 0; i < d.length; i += 4) sum += d[i] * 3 + d[i + 1] * 5 + d[i + 2] * 7;
    while (performance.now() - t0 < cost) sum = (sum * 1103515245 + 12345) % 2147483647;
    if (this.#backend === 'webgpu') await new Promise((r) => setTimeout(r, 1));
    const total = performance.now() - t0;
    const seed = Math.floor(sum / d.length);
    const top = Array.from({ length: k }, (_, i) => ({
      index: (seed * 31 + i * 97) % 1000,
      name: `mock class ${(seed * 31 + i * 97) % 1000}`,
      prob: 0.5 / (i + 1) - (seed % 7) / 100,
    }));
    const f = [0.12, 0.28, 0.3, 0.18, 0.12];
    const names = ['stem', 'stage2', 'stage3', 'stage4', 'head'];
    return {
      top,
      stages: Object.fromEntries(names.map((n, i) => [n, total * f[i]])),
      totalMs: total,
      backend: this.#backend,
      timing: 'cpu-clock',
      crop,
    };
  }

  backend() {
    return this.#backend;
  }
  adapterName() {
    return this.#adapter;
  }
  fallbackReason() {
    return this.#reason;
  }
  async setBackend(name) {
    if (name === 'cpu') {
      this.#backend = 'cpu-simd128';
      return this.#backend;
    }
    const gpu = self.navigator.gpu;
    if (!gpu) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    this.#adapter = adapter.info?.description || adapter.info?.vendor || 'WebGPU adapter';
    this.#backend = 'webgpu';
    this.#reason = undefined;
    return this.#backend;
  }
}
