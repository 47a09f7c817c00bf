// Temporary folders removed when the process exits, however its tests ended: a full run makes
// hundreds of them (webcam clips, copies of the weights), and a disk that fills fails every
// test after it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder under the system's temporary folder, named `<prefix>-XXXXXX`. */
export function scratchDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  made.push(dir);
  return dir;
}
