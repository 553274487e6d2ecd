/**
 * svd-web's picture reader (src/io/image-file.ts, sharp) over the corpus of tests/fixtures/images/: every format the
 * app takes decodes upright at its size, with the app's notes; every bad file is refused with the app's exact words.
 * That the pixels are Chromium's is e2e/images.e2e.ts; here, the Chromium rounding redone in Node (browser-pixels.ts)
 * is checked on values measured in Chromium, and the CLI itself on one refusal and one animated GIF.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImageBytes, ImageFileError, readImageFile, type DecodedImage } from '../../src/io/image-file.ts';
import { sniffImage } from '../../src/contract/image-sniff.ts';
import { blinkCmykToRgba, canvasAlphaRoundTrip, jpegHasAdobeMarker } from '../../src/io/browser-pixels.ts';
import { pngColour, pngColourToSrgb } from '../../src/io/png-colour.ts';
import { runCli } from '../support/cli.ts';
import { CORPUS, corpusBytes, corpusFiles } from './corpus.ts';

const SMALL = 'The picture is small (40×24); it is scaled up, so the video may look soft.';
const TRANSPARENT = 'Transparent areas are treated as their underlying colour (usually black).';
const incomplete = (name: string, fmt: string) => `"${name}" is an incomplete ${fmt} file: it ends early (an interrupted download or copy?). Save it again and retry.`;

/** What each corpus file gives: its notes when decoded, or its refusal. */
const EXPECTED: Record<string, { notes: string[] } | { refusal: string }> = {
  'avif-420.avif': { notes: [SMALL] },
  'avif-444.avif': { notes: [SMALL] },
  // its transparent hole falls between the pixels the app samples (every 97th): no note, in the app either
  'gif-animated.gif': { notes: ['This is an animated GIF with 3 frames: only its first frame is used.', SMALL] },
  'jpeg-baseline.jpg': { notes: [SMALL] },
  'jpeg-cmyk.jpg': { notes: [SMALL] },
  'jpeg-exif2.jpg': { notes: [SMALL] },
  'jpeg-exif3.jpg': { notes: [SMALL] },
  'jpeg-exif4.jpg': { notes: [SMALL] },
  'jpeg-exif5.jpg': { notes: [SMALL] },
  'jpeg-exif6.jpg': { notes: [SMALL] },
  'jpeg-exif7.jpg': { notes: [SMALL] },
  'jpeg-exif8.jpg': { notes: [SMALL] },
  'jpeg-gray.jpg': { notes: [SMALL] },
  'jpeg-progressive.jpg': { notes: [SMALL] },
  'png-gray-alpha.png': { notes: [SMALL, TRANSPARENT] },
  'png-gama-chrm.png': { notes: [SMALL] },
  'png-gamma1.png': { notes: [SMALL] },
  'png-gray8.png': { notes: [SMALL] },
  'png-palette.png': { notes: [SMALL] }, // its hole, too, falls between the sampled pixels
  'png-rgb16.png': { notes: [SMALL] },
  'png-rgb8.png': { notes: [SMALL] },
  'png-rgba16.png': { notes: [SMALL, TRANSPARENT] },
  'png-rgba8.png': { notes: [SMALL, TRANSPARENT] },
  'webp-lossless-alpha.webp': { notes: [SMALL, TRANSPARENT] },
  'webp-lossy-alpha.webp': { notes: [SMALL, TRANSPARENT] },
  'webp-lossy.webp': { notes: [SMALL] },
  'document.pdf': { refusal: '"document.pdf" is a PDF document, not a picture. Use a PNG, JPEG, WebP, GIF, BMP or AVIF image.' },
  'empty.png': { refusal: '"empty.png" is empty (0 bytes). Pick another file.' },
  'not-an-image.txt': { refusal: '"not-an-image.txt" is a text file, not a picture. Use a PNG, JPEG, WebP, GIF, BMP or AVIF image.' },
  'size-bomb.png': {
    refusal: '"size-bomb.png" is 30000×20000 pixels; the largest side accepted is 8192 px. Scale it down first (the video is at most 1024 px wide anyway).',
  },
  'truncated.gif': { refusal: incomplete('truncated.gif', 'GIF') },
  'truncated.jpg': { refusal: incomplete('truncated.jpg', 'JPEG') },
  'truncated.png': { refusal: incomplete('truncated.png', 'PNG') },
  'truncated.webp': { refusal: incomplete('truncated.webp', 'WebP') },
};

async function outcome(name: string, bytes: Uint8Array = corpusBytes(name)): Promise<DecodedImage | { refusal: string }> {
  try {
    return await decodeImageBytes(bytes, name);
  } catch (e) {
    if (!(e instanceof ImageFileError)) throw e;
    return { refusal: e.message };
  }
}

const pixel = (d: DecodedImage, x: number, y: number) => Array.from(d.input.rgba.subarray((y * d.input.width + x) * 4, (y * d.input.width + x) * 4 + 4));

describe('svd-web reads the pictures the app reads (tests/fixtures/images)', () => {
  it('the corpus is the one described here', () => {
    expect(corpusFiles()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('decodes every format upright at 40×24, with the app\'s notes', async () => {
    const reference = (await outcome('png-rgb8.png')) as DecodedImage;
    for (const [name, want] of Object.entries(EXPECTED)) {
      if (!('notes' in want)) continue;
      const got = await outcome(name);
      expect('input' in got ? got.notes : got, name).toEqual(want.notes);
      const d = got as DecodedImage;
      expect([d.input.width, d.input.height], name).toEqual([40, 24]);
      // the white block is at the top left, the black bar at the bottom right (any turn or flip would move them)
      expect(Math.min(...pixel(d, 4, 3).slice(0, 3)), `${name}: white block at the top left`).toBeGreaterThan(200);
      expect(Math.max(...pixel(d, 33, 18).slice(0, 3)), `${name}: black bar at the bottom right`).toBeLessThan(70);
      // and the rest is the picture: opaque pixels within the file's compression of the reference
      let sum = 0;
      let n = 0;
      for (let i = 0; i < d.input.rgba.length; i += 4) {
        if (d.input.rgba[i + 3] < 255 || /gray|gam/.test(name)) continue; // grey, or colour-managed (png-colour.ts)
        for (let c = 0; c < 3; c++) sum += Math.abs(d.input.rgba[i + c] - reference.input.rgba[i + c]);
        n += 3;
      }
      if (n) expect(sum / n, `${name}: mean difference from png-rgb8.png`).toBeLessThan(name.startsWith('png-') && name !== 'png-palette.png' ? 0.5 : 12);
    }
  });

  it('applies EXIF orientation: a JPEG stored turned (orientation 6, a phone held upright) comes out as taken', async () => {
    expect(sniffImage(corpusBytes('jpeg-exif6.jpg'))).toMatchObject({ width: 24, height: 40 });
    const turned = (await outcome('jpeg-exif6.jpg')) as DecodedImage;
    expect([turned.input.width, turned.input.height]).toEqual([40, 24]);
    expect(Math.min(...pixel(turned, 4, 3).slice(0, 3))).toBeGreaterThan(200);
  });

  it('takes the first frame of an animated GIF (transparent hole there, none in the others), saying so', async () => {
    const gif = (await outcome('gif-animated.gif')) as DecodedImage;
    expect(gif.animated).toBe(true);
    expect(pixel(gif, 16, 11)).toEqual([0, 0, 0, 0]);
    expect(gif.notes[0]).toBe('This is an animated GIF with 3 frames: only its first frame is used.');
  });

  it('refuses bad files with the app\'s exact words: truncated, not a picture, a size bomb, empty', async () => {
    for (const [name, want] of Object.entries(EXPECTED)) {
      if ('refusal' in want) expect(await outcome(name), name).toEqual(want);
    }
  });

  it('refuses a complete but damaged file, a BMP (which only the browser reads) and a missing file, in words', async () => {
    const png = Buffer.from(corpusBytes('png-rgb8.png'));
    const idat = png.indexOf('IDAT');
    for (let i = idat + 8; i < idat + 40; i++) png[i] ^= 0x5a;
    expect(await outcome('damaged.png', png)).toEqual({
      refusal: '"damaged.png" looks like a PNG image but svd-web could not decode it; the file may be damaged. Try re-saving it as PNG or JPEG.',
    });
    const bmp = Buffer.alloc(70);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(2, 18);
    bmp.writeUInt32LE(2, 22);
    expect(await outcome('old.bmp', bmp)).toEqual({ refusal: '"old.bmp" is a BMP image, which the app reads but svd-web cannot decode. Save it as PNG or JPEG and retry.' });
    await expect(readImageFile(join(CORPUS, 'nope.png'))).rejects.toThrow(`cannot read image ${join(CORPUS, 'nope.png')}: no such file`);
  });
});

describe('what Chromium does to decoded pixels, redone in Node (src/io/browser-pixels.ts)', () => {
  it('a premultiplied canvas: colours at alpha below 255 rounded as Chromium rounds them (values read in Chromium 156)', () => {
    // [colour, alpha, what getImageData gives]; an exact c·255/a would round the other way in the first four
    const seen = [[22, 6, 42], [233, 6, 212], [70, 2, 128], [42, 18, 42], [70, 10, 77], [1, 1, 0], [128, 1, 255], [200, 0, 0], [77, 255, 77], [200, 254, 200]];
    const rgba = new Uint8Array(seen.flatMap(([c, a]) => [c, c, c, a]));
    canvasAlphaRoundTrip(rgba);
    expect(seen.map((_, i) => [rgba[i * 4], rgba[i * 4 + 3]])).toEqual(seen.map(([, a, want]) => [want, a]));
  });

  it('CMYK: Blink\'s formula on the decoded (Adobe-inverted) samples; the Adobe marker found', () => {
    expect(Array.from(blinkCmykToRgba(new Uint8Array([255, 0, 128, 255, 255, 255, 255, 100]), 2))).toEqual([255, 0, 128, 255, 100, 100, 100, 255]);
    expect(jpegHasAdobeMarker(corpusBytes('jpeg-cmyk.jpg'))).toBe(true);
    expect(jpegHasAdobeMarker(corpusBytes('jpeg-baseline.jpg'))).toBe(false);
  });
});

/** A 1×1 PNG with these chunks before its data. */
function pngWith(chunks: [string, number[]][]): Uint8Array {
  const u32 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const chunk = ([type, data]: [string, number[]]) => [...u32(data.length), ...Buffer.from(type, 'latin1'), ...data, 0, 0, 0, 0];
  return new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, ...chunk(['IHDR', [...u32(1), ...u32(1), 8, 2, 0, 0, 0]]), ...chunks.flatMap(chunk), ...chunk(['IDAT', []])]);
}

describe('a PNG\'s gAMA/cHRM, colour-managed as Chromium does (src/io/png-colour.ts)', () => {
  const gama = (g: number): [string, number[]] => ['gAMA', [(g >>> 24) & 255, (g >>> 16) & 255, (g >>> 8) & 255, g & 255]];
  const chrm = (...xy: number[]): [string, number[]] => ['cHRM', xy.flatMap((v) => { const g = Math.round(v * 100000); return [(g >>> 24) & 255, (g >>> 16) & 255, (g >>> 8) & 255, g & 255]; })];
  const SRGB = [0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06];

  it('which chunks count: sRGB or iCCP win, cHRM alone and a gamma near 1/2.2 alone are ignored', () => {
    expect(pngColour(pngWith([]))).toBeUndefined();
    expect(pngColour(pngWith([gama(45455)]))).toBeUndefined();
    expect(pngColour(pngWith([gama(43300)]))).toBeUndefined(); // 0.433·2.2 is within 0.05 of 1
    expect(pngColour(pngWith([gama(43000)]))).toEqual({ gamma: 0.43, chromaticities: undefined });
    expect(pngColour(pngWith([gama(100000)]))).toEqual({ gamma: 1, chromaticities: undefined });
    expect(pngColour(pngWith([chrm(...SRGB)]))).toBeUndefined();
    expect(pngColour(pngWith([gama(45455), chrm(...SRGB)]))).toEqual({ gamma: 0.45455, chromaticities: SRGB });
    expect(pngColour(pngWith([['sRGB', [0]], gama(100000)]))).toBeUndefined();
    expect(pngColour(pngWith([gama(100000), ['iCCP', [65, 0, 0]]]))).toBeUndefined();
  });

  it('greys 0, 10, 50, 100, 128, 200, 255 come out as Chromium 156 shows them', () => {
    const greys = [0, 10, 50, 100, 128, 200, 255];
    const convert = (colour: Parameters<typeof pngColourToSrgb>[1]) => {
      const rgba = new Uint8Array(greys.flatMap((v) => [v, v, v, 255]));
      pngColourToSrgb(rgba, colour);
      return greys.map((_, i) => rgba[i * 4]);
    };
    expect(convert({ gamma: 1 })).toEqual([0, 56, 122, 168, 188, 229, 255]);
    expect(convert({ gamma: 0.45455, chromaticities: SRGB })).toEqual([0, 3, 46, 100, 129, 201, 255]);
  });
});

const DEMO_MODEL = join(CORPUS, '..', '..', '..', 'public', 'models', 'tiny-random');

describe.skipIf(!existsSync(join(DEMO_MODEL, 'manifest.json')))('svd-web generate --image (the demo model; built by npm run setup)', () => {
  const out = mkdtempSync(join(tmpdir(), 'svd-web-images-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('refuses a truncated picture with the app\'s words, as a usage error (exit 2), before loading the model', () => {
    const image = join(CORPUS, 'truncated.png');
    const r = runCli(['generate', '--model', DEMO_MODEL, '--image', image, '--frames-out', join(out, 'x.safetensors')], 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`svd-web generate: ${incomplete(image, 'PNG')}`);
  });

  it('runs on an animated GIF\'s first frame and says so on stderr', () => {
    const frames = join(out, 'gif.safetensors');
    const r = runCli(['generate', '--model', DEMO_MODEL, '--image', join(CORPUS, 'gif-animated.gif'), '--frames-out', frames, '--frames', '2', '--steps', '1', '--seed', '1'], 180_000);
    expect(r.stderr).toContain('note: This is an animated GIF with 3 frames: only its first frame is used.\n');
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(frames)).toBe(true);
  });
});
