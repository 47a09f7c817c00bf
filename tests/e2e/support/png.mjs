// Large PNGs made cheaply: every row repeats the one above (PNG's "Up" filter turns it into
// zeros, which deflate squeezes ~1000:1) except where the colour changes, so a 12,000 x 12,000
// picture is a few hundred KB on the wire and 576 MB once decoded.

import { deflateSync, crc32 } from 'node:zlib';

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An RGB PNG: a horizontal gradient whose lower half turns red. */
export function bigPng(width, height) {
  const stride = 1 + width * 3;
  const raw = Buffer.alloc(stride * height); // rows 1.. start as "Up" with no change
  const pixel = (x, red) => [red ? 220 : 40, Math.round((200 * x) / width), red ? 30 : 160];
  const half = height >> 1;
  for (const y of [0, half]) {
    const o = y * stride;
    raw[o] = y === 0 ? 0 : 2; // None, then Up (difference from the row above)
    for (let x = 0; x < width; x++) {
      const now = pixel(x, y === half);
      const above = y === 0 ? [0, 0, 0] : pixel(x, false);
      for (let c = 0; c < 3; c++) raw[o + 1 + x * 3 + c] = (now[c] - above[c]) & 0xff;
    }
  }
  for (let y = 1; y < height; y++) if (y !== half) raw[y * stride] = 2;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
