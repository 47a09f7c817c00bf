// Webcam access: opening a stream, listing cameras, and explaining failures in plain words.

export class CameraError extends Error {}

/** Why getUserMedia failed, phrased for the visitor. */
function explain(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was denied. You can still upload an image or drop one on the page.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. You can still upload an image or drop one on the page.';
    case 'NotReadableError':
      return 'The camera is in use by another program. You can still upload an image.';
    default:
      return `The camera could not be opened (${err?.message || err}). You can still upload an image.`;
  }
}

export async function openCamera(video, deviceId) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CameraError('This browser gives no camera access here (it needs https or localhost). You can still upload an image.');
  }
  const which = deviceId ? { deviceId: { exact: deviceId } } : { facingMode: 'environment' };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { ...which, width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (err) {
    throw new CameraError(explain(err));
  }
  closeCamera(video);
  video.srcObject = stream;
  await video.play().catch(() => {}); // autoplay of a muted video is allowed; a rejection only delays frames
  return stream.getVideoTracks()[0]?.getSettings().deviceId ?? null;
}

export function closeCamera(video) {
  const stream = video.srcObject;
  if (stream) for (const t of stream.getTracks()) t.stop();
  video.srcObject = null;
}

/** Video inputs, labelled (labels are only filled once permission was granted). */
export async function listCameras() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices
    .filter((d) => d.kind === 'videoinput')
    .map((d, i) => ({ id: d.deviceId, label: d.label || `Camera ${i + 1}` }));
}

/** Resolves once the video has a frame to grab. */
export function frameReady(video) {
  if (video.readyState >= 2 && video.videoWidth > 0) return Promise.resolve();
  return new Promise((resolve) => video.addEventListener('loadeddata', () => resolve(), { once: true }));
}
