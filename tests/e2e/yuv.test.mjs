// Camera frames read in their own YUV layout (src/yuv.rs, `classifyYuv`): the engine's
// conversion against the browser's own (the same VideoFrame drawn through an ImageBitmap), in
// each layout and colour space it reads; the part the resize reads (`yuvWindow`, copied with
// `copyTo`'s `rect`, as the page does) reads as the whole frame; bad layouts and windows refused
// without harm.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, BASE_URL } from './support/browser.mjs';

const LONG = { timeout: 300_000 };
const browser = browserForFile({ camera: 'denied', webgpu: false });

test('a YUV frame reads as the browser draws it, in each layout and colour space', LONG, async () => {
  const page = await (await browser().newContext({ serviceWorkers: 'block' })).newPage();
  await page.goto(new URL('pkg/package.json', BASE_URL).href);
  const runs = await page.evaluate(async () => {
    const { default: init, Engine, yuvWindow } = await import('/pkg/shufflenet_web.js');
    await init();
    const engine = await Engine.create('cpu');
    const { widths } = await (await fetch('/weights/manifest.json')).json();
    await engine.loadUrl(new URL(widths['0.5'].url, location.origin).href, () => {}, widths['0.5'].sha256);
    // A 96 x 64 picture with colour everywhere: gradients and a disc.
    const [w, h] = [96, 64];
    const rgb = (x, y) => {
      const disc = (x - 60) ** 2 + (y - 30) ** 2 < 300;
      return disc ? [230, 40, 60] : [(x * 255) / w, (y * 255) / h, 255 - (x * 200) / w];
    };
    const toYuv = ([r, g, b], [kr, kb], full) => {
      const y = (kr * r + (1 - kr - kb) * g + kb * b) / 255;
      const [u, v] = [(b / 255 - y) / (2 * (1 - kb)), (r / 255 - y) / (2 * (1 - kr))];
      const [ys, y0, cs] = full ? [255, 0, 255] : [219, 16, 224];
      return [y * ys + y0, u * cs + 128, v * cs + 128].map((c) => Math.round(Math.min(255, Math.max(0, c))));
    };
    const frameOf = (format, matrix, fullRange) => {
      const k = matrix === 'bt709' ? [0.2126, 0.0722] : [0.299, 0.114];
      const [cw, ch] = [w / 2, h / 2];
      const data = new Uint8Array(w * h + 2 * cw * ch);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const [l, u, v] = toYuv(rgb(x, y), k, fullRange);
          data[y * w + x] = l;
          // Each 2 x 2 block's chroma from its top-left pixel.
          if (x % 2 || y % 2) continue;
          const c = (y / 2) * cw + x / 2;
          if (format === 'I420') {
            data[w * h + c] = u;
            data[w * h + cw * ch + c] = v;
          } else {
            data[w * h + 2 * c] = u;
            data[w * h + 2 * c + 1] = v;
          }
        }
      }
      const primaries = matrix === 'bt709' ? 'bt709' : 'smpte170m';
      return new VideoFrame(data, {
        format, codedWidth: w, codedHeight: h, timestamp: 0,
        colorSpace: { matrix, primaries, transfer: primaries, fullRange },
      });
    };
    const out = [];
    for (const [format, matrix, fullRange] of [['I420', 'smpte170m', false], ['NV12', 'bt709', false], ['I420', 'bt709', true]]) {
      const frame = frameOf(format, matrix, fullRange);
      const bytes = new Uint8Array(frame.allocationSize());
      const layout = await frame.copyTo(bytes);
      const planes = Uint32Array.from(layout.flatMap((l) => [l.offset, l.stride]));
      const ours = await engine.classifyYuv(bytes, format, w, h, planes, matrix, fullRange, 5, 'square', true);
      const theirs = await engine.classifyBitmap(await createImageBitmap(frame), 5, 'square', true);
      // Only the part the resize reads, as the page copies it.
      const win = yuvWindow(w, h, 'square');
      const rect = { x: win[0], y: win[1], width: win[2], height: win[3] };
      const part = new Uint8Array(frame.allocationSize({ rect }));
      const partLayout = await frame.copyTo(part, { rect });
      const partPlanes = Uint32Array.from(partLayout.flatMap((l) => [l.offset, l.stride]));
      const cropped = await engine.classifyYuv(part, format, w, h, partPlanes, matrix, fullRange, 5, 'square', true, win);
      const sameAsWhole = cropped.features.every((v, i) => Object.is(v, ours.features[i]));
      frame.close();
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < ours.features.length; i++) {
        worst = Math.max(worst, Math.abs(ours.features[i] - theirs.features[i]));
        scale = Math.max(scale, Math.abs(theirs.features[i]));
      }
      out.push({ format, matrix, fullRange, worst, scale, top: [ours.top[0].index, theirs.top[0].index], win: [...win], bytes: [part.length, bytes.length], sameAsWhole });
    }
    // A layout that does not fit its bytes is refused, and the engine goes on.
    const bad = await engine.classifyYuv(new Uint8Array(100), 'I420', w, h, Uint32Array.from([0, w, 0, w / 2, 0, w / 2]), undefined, undefined, 5, 'square', false)
      .then(() => 'accepted', (e) => String(e.message ?? e));
    const unknown = await engine.classifyYuv(new Uint8Array(100), 'RGBA', 5, 5, new Uint32Array(6), undefined, undefined, 5, 'square', false)
      .then(() => 'accepted', (e) => String(e.message ?? e));
    // A window short of the part the resize reads, or not four numbers, is refused.
    const planes64 = Uint32Array.from([0, 64, 64 * 64, 32, 64 * 64 + 32 * 32, 32]);
    const part64 = new Uint8Array(64 * 64 * 3 / 2);
    const short = await engine.classifyYuv(part64, 'I420', w, h, planes64, undefined, undefined, 5, 'square', false, Uint32Array.of(18, 0, 62, 64))
      .then(() => 'accepted', (e) => String(e.message ?? e));
    const three = await engine.classifyYuv(part64, 'I420', w, h, planes64, undefined, undefined, 5, 'square', false, Uint32Array.of(16, 0, 64))
      .then(() => 'accepted', (e) => String(e.message ?? e));
    const after = frameOf('I420', 'smpte170m', false);
    const bytes = new Uint8Array(after.allocationSize());
    const layout = await after.copyTo(bytes);
    after.close();
    const again = await engine.classifyYuv(bytes, 'I420', w, h, Uint32Array.from(layout.flatMap((l) => [l.offset, l.stride])), undefined, undefined, 5, 'square', false);
    return { out, bad, unknown, short, three, againTop: again.top.length };
  });
  for (const r of runs.out) {
    // The browser converts to bytes (rounding each channel) and may filter chroma; ours does
    // neither: features within 2 % of their scale (measured: 0.4 to 0.9 %; a wrong matrix and
    // range, 8 to 14 %), the same top class.
    assert.ok(r.worst < 0.02 * r.scale, `${r.format} ${r.matrix} full ${r.fullRange}: features off by ${r.worst} of ${r.scale}`);
    assert.equal(r.top[0], r.top[1], `${r.format} ${r.matrix}: the same top class`);
    // The 96 x 64 frame's centre square, and the same bits from it as from the whole frame.
    assert.deepEqual(r.win, [16, 0, 64, 64]);
    assert.equal(r.bytes[0], 64 * 64 * 3 / 2, `${r.format}: only the square copied (${r.bytes})`);
    assert.ok(r.sameAsWhole, `${r.format} ${r.matrix}: the window reads as the whole frame`);
  }
  assert.match(runs.bad, /plane \d .* does not fit 96 x 64 pixels in 100 bytes/);
  assert.match(runs.short, /pixels Window \{ x: 18\.\.80, y: 0\.\.64 \} of a 96 x 64 frame do not hold the .* the resize reads/);
  assert.match(runs.three, /window of 3 numbers: expected x, y, width and height/);
  assert.match(runs.unknown, /RGBA video frame: expected I420, I420A or NV12/);
  assert.equal(runs.againTop, 5, 'the engine classifies the next frame');
  await page.context().close();
});
