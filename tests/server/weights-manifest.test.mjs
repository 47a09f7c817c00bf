// tools/weights.sh: the manifest lists each file's SHA-256, and a download whose hash does not
// start with the prefix in its published name is refused (stand-ins are written instead).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Built by `cargo test` / `cargo build`, which ./test.sh runs before this.
const CLI = join(ROOT, 'target/debug/shufflenet');
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('downloads must match their published hash prefix; the manifest lists every SHA-256', async () => {
  assert.ok(existsSync(CLI), `${CLI} missing: run cargo build first`);
  const dir = mkdtempSync(join(tmpdir(), 'weights-test-'));
  // A "mirror" whose files are real .pth weights, but not the published ones.
  const mirror = join(dir, 'mirror');
  mkdirSync(mirror);
  for (const name of ['shufflenetv2_x0.5-f707e7126e.pth', 'shufflenetv2_x1-5666bf0f80.pth',
    'shufflenetv2_x1_5-3c479a10.pth', 'shufflenetv2_x2_0-8be3c8ee.pth']) {
    copyFileSync(join(ROOT, 'tests/fixtures/small.pth'), join(mirror, name));
  }
  const server = await startServer({ root: mirror });
  try {
    const out = join(dir, 'weights');
    // Asynchronous: the mirror is served from this process.
    const log = await new Promise((ok, fail) => execFile(join(ROOT, 'tools/weights.sh'), [CLI], {
      env: { ...process.env, WEIGHTS_DIR: out, SHUFFLENET_WEIGHTS_URL: server.url, SHUFFLENET_OFFLINE: '' },
    }, (e, stdout, stderr) => (e ? fail(e) : ok(stderr))));
    assert.match(log, /shufflenetv2_x1-5666bf0f80\.pth: SHA-256 [0-9a-f]{64} does not start with 5666bf0f80/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    for (const w of ['0.5', '1.0', '1.5', '2.0']) {
      const entry = manifest.widths[w];
      assert.equal(entry.trained, false, w);
      assert.equal(entry.sha256, sha256(join(out, `shufflenetv2_x${w}.safetensors`)), w);
    }
    // An older manifest without hashes (written as weights.sh wrote it) gets them on the
    // next run, trained flags kept.
    const old = JSON.stringify({ widths: Object.fromEntries(Object.entries(manifest.widths)
      .map(([w, e]) => [w, { url: e.url, trained: w === '1.0' }])) }).replaceAll(':', ': ').replaceAll(',"', ', "');
    execFileSync('sh', ['-c', `printf '%s' '${old}' > "${join(out, 'manifest.json')}"`]);
    execFileSync(join(ROOT, 'tools/weights.sh'), [CLI], { env: { ...process.env, WEIGHTS_DIR: out }, stdio: 'pipe' });
    const again = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(again.widths['1.0'].trained, true);
    assert.equal(again.widths['0.5'].trained, false);
    assert.equal(again.widths['2.0'].sha256, manifest.widths['2.0'].sha256);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
