// @ts-check
// Teach mode's samples in IndexedDB, so a reload keeps them. Only feature vectors and class
// names are stored (never frames or thumbnails), one record per backbone: features from one
// model mean nothing to another.

const DB = 'shufflenet-teach';
const STORE = 'sets';

/** @returns {Promise<IDBDatabase>} */
function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'key' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB is not available'));
  });
}

/** Runs `fn` on the store in one transaction; resolves with the request's result. */
async function withStore(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('the samples could not be saved'));
    });
  } finally {
    db.close();
  }
}

/**
 * The classes saved for backbone `key`: `[{ name, samples: Float32Array[] }]`, or null.
 * @param {string} key
 * @param {number} featureLen
 */
export async function loadSet(key, featureLen) {
  const record = await withStore('readonly', (s) => s.get(key));
  if (!record || record.featureLen !== featureLen || !Array.isArray(record.classes)) return null;
  return record.classes.map((c) => ({
    name: String(c.name),
    samples: c.samples.filter((f) => f instanceof Float32Array && f.length === featureLen),
  }));
}

/**
 * @param {string} key
 * @param {number} featureLen
 * @param {{ name: string, samples: { features: Float32Array }[] }[]} classes
 */
export async function saveSet(key, featureLen, classes) {
  const record = {
    key,
    featureLen,
    saved: Date.now(),
    classes: classes.map((c) => ({ name: c.name, samples: c.samples.map((s) => s.features) })),
  };
  await withStore('readwrite', (s) => s.put(record));
}

/** @param {string} key */
export async function deleteSet(key) {
  await withStore('readwrite', (s) => s.delete(key));
}
