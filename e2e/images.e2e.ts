/**
 * svd-web reads what the app reads: every picture of tests/fixtures/images/ decoded by the CLI's reader
 * (src/io/image-file.ts, sharp in Node) and by the app's image checker in Chromium (src/store/image-input.ts
 * decodeImageBlob: createImageBitmap, a 2D canvas, getImageData) gives the model the same input (the pipeline's own
 * resize, within 1/255; tests/io/corpus.ts) or the same refusal, word for word; and the app's drop zone shows the
 * same words. The app's checker is bundled from its source for the page (Vite, in memory), so it is the code the app
 * runs, called on each file directly.
 *
 * The per-file differences (raw, and of what the model gets) are printed as a table.
 */
import { PNG } from 'pngjs';
import { build, type Rollup } from 'vite';
import type { Page } from '@playwright/test';
import { decodeImageBytes, ImageFileError } from '../src/io/image-file.ts';
import { corpusBytes, corpusFiles, difference, KNOWN_DIFFERENCES, SAME_PIXELS } from '../tests/io/corpus.ts';
import type { ImageInput } from '../src/contract/request.ts';
import { ROOT } from './harness.ts';
import { expect, test } from './support/fixtures.ts';

type Outcome = { image: ImageInput; note: string } | { refusal: string };

/** src/store/image-input.ts bundled as a script that sets window.__svdImageChecker. */
async function appImageChecker(): Promise<string> {
  const out = (await build({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    build: { write: false, minify: false, lib: { entry: `${ROOT}/src/store/image-input.ts`, formats: ['iife'], name: '__svdImageChecker' } },
  })) as Rollup.RollupOutput | Rollup.RollupOutput[];
  const chunk = (Array.isArray(out) ? out[0] : out).output[0];
  return chunk.code;
}

/** The app's image checker on `bytes` in the page. */
async function inChromium(page: Page, name: string, bytes: Uint8Array): Promise<Outcome> {
  const r = await page.evaluate(
    async ([b64, n]) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const checker = (globalThis as unknown as { __svdImageChecker: typeof import('../src/store/image-input.ts') }).__svdImageChecker;
      try {
        const img = await checker.decodeImageBlob(new Blob([data]), n);
        return { refusal: undefined, width: img.input.width, height: img.input.height, rgba: Array.from(img.input.rgba), note: img.note ?? '' };
      } catch (e) {
        if ((e as Error).name !== 'ImageInputError') throw e;
        return { refusal: (e as Error).message as string };
      }
    },
    [Buffer.from(bytes).toString('base64'), name] as const,
  );
  if (r.refusal !== undefined) return { refusal: r.refusal };
  return { image: { width: r.width, height: r.height, rgba: Uint8ClampedArray.from(r.rgba) }, note: r.note };
}

async function inNode(name: string, bytes: Uint8Array): Promise<Outcome> {
  try {
    const d = await decodeImageBytes(bytes, name);
    return { image: d.input, note: d.notes.join(' ') };
  } catch (e) {
    if (!(e instanceof ImageFileError)) throw e;
    return { refusal: e.message };
  }
}

/** Every colour at every alpha (x: colour, y: alpha): all 65,536 cases of the canvas's premultiplied rounding. */
function alphaTable(): Uint8Array {
  const png = new PNG({ width: 256, height: 256 });
  for (let a = 0; a < 256; a++) {
    for (let c = 0; c < 256; c++) png.data.set([c, 255 - c, (c * 7) & 255, a], (a * 256 + c) * 4);
  }
  return PNG.sync.write(png);
}

const MIME: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif', txt: 'text/plain', pdf: 'application/pdf' };

test.describe('images: svd-web decodes what the app decodes', () => {
  test('every corpus picture: the same model input (within 1/255) or the same refusal as the app\'s image checker in Chromium', async ({ app }) => {
    test.setTimeout(120_000);
    await app.page.addScriptTag({ content: await appImageChecker() });
    const pictures: [string, Uint8Array][] = [...corpusFiles().map((f) => [f, corpusBytes(f)] as [string, Uint8Array]), ['alpha-table.png (made here)', alphaTable()]];
    const rows: Record<string, string | number>[] = [];
    const checks: (() => void)[] = [];
    for (const [name, bytes] of pictures) {
      const chromium = await inChromium(app.page, name, bytes);
      const node = await inNode(name, bytes);
      if ('refusal' in chromium || 'refusal' in node) {
        rows.push({ file: name, outcome: 'refusal' in node ? `refused: ${node.refusal.replace(`"${name}" `, '').slice(0, 40)}…` : 'decoded in Node only' });
        checks.push(() => expect(node, name).toEqual(chromium));
        continue;
      }
      const sameSize = node.image.width === chromium.image.width && node.image.height === chromium.image.height;
      const d = sameSize ? difference(node.image, chromium.image) : undefined;
      rows.push({
        file: name,
        outcome: `${node.image.width}×${node.image.height}`,
        'raw max (levels)': d?.rawMax ?? 'size differs',
        'model input max (/255)': d ? +(d.max * 255).toFixed(3) : '',
        'model input mean (/255)': d ? +(d.mean * 255).toFixed(4) : '',
      });
      checks.push(() => {
        expect(node.note, `${name}: notes`).toBe(chromium.note);
        expect([node.image.width, node.image.height], `${name}: size`).toEqual([chromium.image.width, chromium.image.height]);
        const known = KNOWN_DIFFERENCES[name];
        if (known) {
          expect(d!.max, `${name}: ${known.why}`).toBeLessThanOrEqual(known.max);
          expect(d!.mean, `${name}: ${known.why}`).toBeLessThanOrEqual(known.mean);
        } else {
          expect(d!.max, `${name}: largest difference of the model's input`).toBeLessThanOrEqual(SAME_PIXELS);
        }
        if (name.startsWith('alpha-table')) expect(d!.rawMax, 'every colour at every alpha, exactly').toBe(0);
      });
    }
    console.table(rows);
    for (const check of checks) check();
    expect(app.pageErrors).toEqual([]);
  });

  test('the app\'s drop zone says what svd-web says: refusals and the animated GIF\'s note', async ({ app: { page } }) => {
    const names = ['truncated.png', 'truncated.jpg', 'not-an-image.txt', 'size-bomb.png', 'document.pdf', 'gif-animated.gif'];
    for (const name of names) {
      const bytes = corpusBytes(name);
      const node = await inNode(name, bytes);
      await page.getByTestId('file-input').setInputFiles({ name, mimeType: MIME[name.split('.').pop()!], buffer: bytes });
      if ('refusal' in node) await expect(page.getByTestId('image-error'), name).toHaveText(node.refusal);
      else await expect(page.getByTestId('image-note'), name).toHaveText(node.note);
    }
  });
});
