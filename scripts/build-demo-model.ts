/**
 * Builds the bundled demo model: the random-weight tiny SVD of tests/fixtures/A compiled to fp32, served at
 * /models/tiny-random/. Its output is noise (random weights); it exists so the whole app can be tried and tested
 * without the multi-GB real model. Rebuilt only when the compiler or the fixture changed (a stamp of their hashes).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCheckpoint } from '../src/compiler/convert-folder.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'public', 'models', 'tiny-random');
const inputs = [join(root, 'src', 'compiler'), join(root, 'src', 'io'), join(root, 'src', 'contract'), join(root, 'tests', 'fixtures', 'A')];

function files(path: string): string[] {
  return statSync(path).isDirectory() ? readdirSync(path).sort().flatMap((n) => files(join(path, n))) : [path];
}

const hash = createHash('sha256');
for (const f of inputs.flatMap(files)) hash.update(relative(root, f)).update(readFileSync(f));
const stamp = hash.digest('hex');
const stampPath = join(out, '.stamp');

if (!process.argv.includes('--force') && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
  console.log('[demo-model] up to date');
} else {
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const { manifest } = convertCheckpoint({ from: join(root, 'tests', 'fixtures', 'A'), out, precision: 'fp32', defaultHeight: 64, defaultWidth: 64 });
  writeFileSync(stampPath, stamp);
  console.log(`[demo-model] built ${relative(root, out)} (${(manifest.totalBytes / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
