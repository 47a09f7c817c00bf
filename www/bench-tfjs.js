// TensorFlow.js's wasm backend (XNNPACK) as a bench peer: torchvision's ShuffleNetV2 built from
// tf ops with the same safetensors weights our engine loads, BatchNorm folded into each conv.
// tf runs NHWC, so weights become HWIO (depthwise: H W C 1).

const TF_DIST = '../node_modules/@tensorflow/';
const BN_EPS = 1e-5; // torchvision's BatchNorm2d default
// torchvision: stage repeats; the first unit of each stage has stride 2 and a branch1.
const STAGES = [['stage2', 4], ['stage3', 8], ['stage4', 4]];

/** Loads the UMD builds as classic scripts (the wasm backend's UMD build extends the global `tf`). */
function loadScript(src) {
  return new Promise((ok, fail) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = ok;
    s.onerror = () => fail(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

/** The tensors of a safetensors file: name -> { shape, data: Float32Array }. */
export function parseSafetensors(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const base = 8 + headerLen;
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: dtype ${t.dtype}, expected F32`);
    const [start, end] = t.data_offsets;
    // Copied: the offsets need not be 4-byte aligned.
    out[name] = { shape: t.shape, data: new Float32Array(bytes.slice(base + start, base + end).buffer) };
  }
  return out;
}

/**
 * Conv `prefix` (OIHW weight, no bias) followed by BatchNorm `bn`, folded: scale = g/sqrt(v+eps),
 * weight * scale per output channel, bias = b - mean * scale. Returns tf tensors in tf layout.
 */
function foldedConv(tf, w, conv, bn) {
  const { shape, data } = w[`${conv}.weight`];
  const [o, i, kh, kw] = shape;
  const g = w[`${bn}.weight`].data;
  const b = w[`${bn}.bias`].data;
  const mean = w[`${bn}.running_mean`].data;
  const variance = w[`${bn}.running_var`].data;
  const scale = Float32Array.from(g, (gi, c) => gi / Math.sqrt(variance[c] + BN_EPS));
  const bias = Float32Array.from(b, (bi, c) => bi - mean[c] * scale[c]);
  const depthwise = i === 1 && o > 1 && kh === 3;
  const out = new Float32Array(data.length);
  // OIHW -> HWIO (regular) or H W C 1 (depthwise, where O is the channel and I is 1).
  for (let oc = 0; oc < o; oc++) {
    for (let ic = 0; ic < i; ic++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          const src = ((oc * i + ic) * kh + y) * kw + x;
          const dst = depthwise ? (y * kw + x) * o + oc : ((y * kw + x) * i + ic) * o + oc;
          out[dst] = data[src] * scale[oc];
        }
      }
    }
  }
  const filter = depthwise ? tf.tensor4d(out, [kh, kw, o, 1]) : tf.tensor4d(out, [kh, kw, i, o]);
  return { filter, bias: tf.tensor1d(bias), depthwise, stride: 1 };
}

/** The network as a list of folded layers, keyed like torchvision's modules. */
function buildModel(tf, w) {
  const layer = (conv, bn) => foldedConv(tf, w, conv, bn);
  const units = [];
  for (const [stage, repeats] of STAGES) {
    for (let u = 0; u < repeats; u++) {
      const p = `${stage}.${u}`;
      const unit = {
        stride: u === 0 ? 2 : 1,
        b2: [layer(`${p}.branch2.0`, `${p}.branch2.1`), layer(`${p}.branch2.3`, `${p}.branch2.4`), layer(`${p}.branch2.5`, `${p}.branch2.6`)],
      };
      if (u === 0) unit.b1 = [layer(`${p}.branch1.0`, `${p}.branch1.1`), layer(`${p}.branch1.2`, `${p}.branch1.3`)];
      units.push(unit);
    }
  }
  const fc = w['fc.weight'];
  return {
    conv1: layer('conv1.0', 'conv1.1'),
    units,
    conv5: layer('conv5.0', 'conv5.1'),
    // fc.weight is [classes, features]: transposed once here so the run is a plain matMul.
    fcW: tf.transpose(tf.tensor2d(fc.data, fc.shape)),
    fcB: tf.tensor1d(w['fc.bias'].data),
  };
}

/** One folded conv: 3x3s pad 1 on each side, as torch does (tf's 'same' pads stride 2 unevenly). */
function conv(tf, x, l, stride, relu) {
  const pad = l.filter.shape[0] === 3 ? 1 : 0;
  const args = { x, filter: l.filter, bias: l.bias, strides: stride, pad, activation: relu ? 'relu' : 'linear' };
  return l.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
}

/** conv1x1+relu, depthwise 3x3 (no relu), conv1x1+relu: torchvision's branch2. */
function branch2(tf, x, [a, dw, c], stride) {
  return conv(tf, conv(tf, conv(tf, x, a, 1, true), dw, stride, false), c, 1, true);
}

/** Channel shuffle with 2 groups on NHWC: (N,H,W,2,C/2) -> (N,H,W,C/2,2) -> (N,H,W,C). */
function shuffle(tf, x) {
  const [n, h, wd, c] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [n, h, wd, 2, c / 2]), [0, 1, 2, 4, 3]), [n, h, wd, c]);
}

function forward(tf, m, input) {
  return tf.tidy(() => {
    let x = conv(tf, input, m.conv1, 2, true);
    x = tf.maxPool(x, 3, 2, 1);
    for (const u of m.units) {
      let y;
      if (u.b1) {
        const b1 = conv(tf, conv(tf, x, u.b1[0], 2, false), u.b1[1], 1, true);
        y = tf.concat([b1, branch2(tf, x, u.b2, 2)], 3);
      } else {
        const [x1, x2] = tf.split(x, 2, 3);
        y = tf.concat([x1, branch2(tf, x2, u.b2, 1)], 3);
      }
      x = shuffle(tf, y);
    }
    x = conv(tf, x, m.conv5, 1, true);
    return tf.add(tf.matMul(tf.mean(x, [1, 2]), m.fcW), m.fcB);
  });
}

/** NCHW (the bench's input, as ORT and ours take it) to NHWC, once, outside the timed runs. */
function toNhwc(input, batch, side) {
  const out = new Float32Array(input.length);
  const plane = side * side;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < plane; p++) out[(n * plane + p) * 3 + c] = input[(n * 3 + c) * plane + p];
    }
  }
  return out;
}

/**
 * Sets up tf on the wasm backend with `threads` threads and returns a run function giving the
 * logits (Float32Array) and the thread count tf engaged.
 */
export async function tfjsRunner({ threads, weightsBytes, input, batch, side }) {
  // TF.js 4.22 caps its XNNPACK pool at hardwareConcurrency / 2 whatever setThreadsCount asks
  // (tensorflow/tfjs#6081, #8513): on a 2-core machine 'tfjs-wasm-t2' would run one thread.
  // The page presents enough cores for the count asked; threads_engaged shows what ran.
  const cores = navigator.hardwareConcurrency;
  if (2 * threads > cores) Object.defineProperty(navigator, 'hardwareConcurrency', { value: 2 * threads });
  await loadScript(`${TF_DIST}tfjs-core/dist/tf-core.min.js`);
  await loadScript(`${TF_DIST}tfjs-backend-wasm/dist/tf-backend-wasm.min.js`);
  const tf = window.tf;
  tf.wasm.setWasmPaths(new URL(`${TF_DIST}tfjs-backend-wasm/dist/`, location.href).href);
  tf.wasm.setThreadsCount(threads); // before the backend starts; threads need cross-origin isolation
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  const model = buildModel(tf, parseSafetensors(weightsBytes));
  const x = tf.tensor4d(toNhwc(input, batch, side), [batch, side, side, 3]);
  const run = async () => {
    const y = forward(tf, model, x);
    const data = await y.data();
    y.dispose();
    return data;
  };
  return { run, threadsEngaged: tf.wasm.getThreadsCount(), hardwareConcurrency: cores, version: tf.version_core };
}
