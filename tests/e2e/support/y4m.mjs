// A procedural webcam clip for Chromium's fake capture device (`--use-file-for-fake-video-capture`).
// Y4M with a `C420` header (Chromium rejects other chroma layouts): a colour gradient with a
// bright disc circling over it, so consecutive frames differ and predictions keep changing.

import { writeFileSync } from 'node:fs';

export function writeClip(path, { width = 320, height = 240, frames = 48, fps = 24 } = {}) {
  const header = `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420\n`;
  const cw = width / 2;
  const ch = height / 2;
  const frameSize = width * height + 2 * cw * ch;
  const parts = [Buffer.from(header)];
  for (let f = 0; f < frames; f++) {
    const t = (f / frames) * 2 * Math.PI;
    const cx = width / 2 + Math.cos(t) * width * 0.25;
    const cy = height / 2 + Math.sin(t) * height * 0.25;
    const r2 = (Math.min(width, height) * 0.18) ** 2;
    const buf = Buffer.alloc(6 + frameSize);
    buf.write('FRAME\n', 0, 'ascii');
    const y0 = 6;
    const u0 = y0 + width * height;
    const v0 = u0 + cw * ch;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r2;
        buf[y0 + y * width + x] = inDisc ? 230 : 40 + Math.round((160 * (x + y)) / (width + height));
      }
    }
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const inDisc = (2 * x - cx) ** 2 + (2 * y - cy) ** 2 < r2;
        buf[u0 + y * cw + x] = inDisc ? 60 : Math.round(96 + (64 * x) / cw);
        buf[v0 + y * cw + x] = inDisc ? 200 : Math.round(160 - (64 * y) / ch);
      }
    }
    parts.push(buf);
  }
  writeFileSync(path, Buffer.concat(parts));
  return path;
}
