// Pictures and webcam frames on their way to the engine, scaled so no side exceeds
// MAX_INPUT_SIDE. The network sees 224 x 224 (after a resize to 256 for the eval crop), so a
// bigger input only costs memory: a 12,000 x 12,000 photo is 576 MB of RGBA, and WebGPU only
// guarantees textures 8,192 pixels a side.

export const MAX_INPUT_SIDE = 2048;

/**
 * createImageBitmap options that bring a `width` x `height` source within the limit.
 * @returns {ImageBitmapOptions}
 */
export function frameOptions(width, height, max = MAX_INPUT_SIDE) {
  const scale = max / Math.max(width, height);
  if (!(scale < 1)) return {};
  return {
    resizeWidth: Math.max(1, Math.round(width * scale)),
    resizeHeight: Math.max(1, Math.round(height * scale)),
    resizeQuality: 'high',
  };
}

/**
 * Decodes an image file into an ImageBitmap within the limit. The size comes first from an
 * <img>, whose `load` needs only the file's header, so the page never holds the full-size
 * pixels (the browser's decoder may, briefly, off the main thread).
 */
export async function decodeImage(file) {
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error('not an image this browser can read'));
      img.src = url;
    });
    return await createImageBitmap(file, frameOptions(img.naturalWidth, img.naturalHeight));
  } finally {
    URL.revokeObjectURL(url);
  }
}
