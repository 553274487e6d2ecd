/**
 * The picture corpus (tests/fixtures/images/, README.md there) and how two decodes of one picture are compared: by
 * what the model gets, the pipeline's own resize of the picture to the VAE's input (maintain_aspect_ratio, SVD-XT's
 * 1024×576) and to CLIP's (224×224), in [0, 1] units. Shared by tests/io/image-file.test.ts (Node) and
 * e2e/images.e2e.ts (Node against Chromium).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageInput } from '../../src/contract/request.ts';
import { planFraming, prepareConditioningImage, rgbaToFloatChw } from '../../src/pipeline/image.ts';
import { clipPreprocess } from '../../src/numerics/resize.ts';
import { defaultFramingManifest } from '../../src/store/models.ts';

export const CORPUS = fileURLToPath(new URL('../fixtures/images/', import.meta.url));

/** Every picture of the corpus (not its README or script), by name. */
export function corpusFiles(): string[] {
  return readdirSync(CORPUS).filter((f) => !/\.(md|sh)$/.test(f)).sort();
}

export function corpusBytes(name: string): Buffer {
  return readFileSync(join(CORPUS, name));
}

/**
 * The known differences (measured in Chromium 156 against sharp 0.35; bounds in [0, 1] units of the model's input).
 * Where Node redoes a colour conversion Chromium does in float32 (a PNG's gAMA/cHRM), or where libheif (sharp) and
 * libavif (Chromium) turn YUV into RGB with different rounding, samples are at most 1 level apart before the resize,
 * which the pipeline's Lanczos (two 8-bit passes, as in PIL) widens to at most 3. And the two upsample 4:2:0 AVIF
 * chroma differently (colour edges up to 58 levels apart at 40×24).
 */
const ONE_LEVEL = { max: 3.01 / 255, mean: 0.5 / 255 };
export const KNOWN_DIFFERENCES: Record<string, { max: number; mean: number; why: string }> = {
  'png-gama-chrm.png': { ...ONE_LEVEL, why: 'gAMA/cHRM converted in double precision here, in Skia\'s float32 in Chromium' },
  'png-gamma1.png': { ...ONE_LEVEL, why: 'gAMA converted in double precision here, in Skia\'s float32 in Chromium' },
  'avif-444.avif': { ...ONE_LEVEL, why: 'YUV→RGB rounded otherwise by libheif (sharp) and libavif (Chromium)' },
  'avif-420.avif': { max: 70 / 255, mean: 7 / 255, why: '4:2:0 chroma upsampled otherwise by libheif (sharp) and libavif (Chromium)' },
};

/** Two decodes agree when what the model gets differs by at most this ([0, 1] units). */
export const SAME_PIXELS = 1 / 255;

/** The model's two views of a picture, each in [0, 1]: the VAE's input and CLIP's, concatenated. */
export function modelInputs(image: ImageInput): Float32Array {
  const manifest = defaultFramingManifest();
  const framing = planFraming(image, { resize_method: 'maintain_aspect_ratio' }, manifest);
  const vae = prepareConditioningImage(framing, 0, new Float32Array(3 * framing.width * framing.height));
  const { clip } = manifest.pipeline;
  const source = rgbaToFloatChw(framing.source);
  const clipIn = clipPreprocess(source.data, source.height, source.width, { size: clip.imageSize, mean: clip.mean, std: clip.std });
  const out = new Float32Array(vae.length + clipIn.length);
  for (let i = 0; i < vae.length; i++) out[i] = (vae[i] + 1) / 2;
  const plane = clip.imageSize * clip.imageSize;
  for (let i = 0; i < clipIn.length; i++) {
    const c = Math.floor(i / plane);
    out[vae.length + i] = clipIn[i] * clip.std[c] + clip.mean[c];
  }
  return out;
}

export interface Difference {
  /** largest difference of a sample, before the resize (8-bit levels) */
  rawMax: number;
  /** largest and mean difference of what the model gets ([0, 1] units) */
  max: number;
  mean: number;
}

/** How far two decodes of one picture are apart (same size required). */
export function difference(a: ImageInput, b: ImageInput): Difference {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`sizes differ: ${a.width}×${a.height} and ${b.width}×${b.height}`);
  let rawMax = 0;
  for (let i = 0; i < a.rgba.length; i++) rawMax = Math.max(rawMax, Math.abs(a.rgba[i] - b.rgba[i]));
  const x = modelInputs(a);
  const y = modelInputs(b);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { rawMax, max, mean: sum / x.length };
}
