/**
 * How the input image becomes the video's frame: output size from resize_method and the request, the
 * crop that gives the image that aspect, and the conditioning image the VAE encodes.
 */
import type { ModelManifest } from '../contract/manifest.ts';
import type { ImageInput, SvdRequest } from '../contract/request.ts';
import { centerCropBox, fitToPixelCount, resizeLanczosU8, u8HwcToFloatChw, type Box } from '../numerics/resize.ts';

export interface Framing {
  width: number;
  height: number;
  /** the part of the input shown in the video (whole image unless cropped) */
  crop: Box;
  /** the image as framed: the input itself, or its crop (what CLIP sees) */
  source: ImageInput;
}

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

/** Sides must make latents the UNet can halve at every level (a fact of the manifest). */
export function sizeMultiple(manifest: Pick<ModelManifest, 'pipeline'>): number {
  return manifest.pipeline.sizeMultiple;
}

/** The output size and crop for a request (pure; the UI uses it for its preview too). */
export function planFraming(image: ImageInput, request: Pick<SvdRequest, 'resize_method' | 'width' | 'height'>, manifest: Pick<ModelManifest, 'pipeline'>): Framing {
  const multiple = sizeMultiple(manifest);
  const facts = manifest.pipeline;
  let width: number;
  let height: number;
  if (request.width !== undefined && request.height !== undefined) {
    width = request.width;
    height = request.height;
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      if (v % multiple !== 0) throw new FramingError(`${name} must be a multiple of ${multiple} for this model (got ${v}); try ${Math.max(multiple, Math.round(v / multiple) * multiple)}`);
    }
  } else if (request.resize_method === 'crop_to_16_9') {
    const landscape = fitToPixelCount(16, 9, facts.defaultWidth * facts.defaultHeight, multiple);
    width = landscape.width;
    height = landscape.height;
  } else {
    ({ width, height } = fitToPixelCount(image.width, image.height, facts.defaultWidth * facts.defaultHeight, multiple));
  }
  const aspect = request.resize_method === 'crop_to_16_9' ? 16 / 9 : width / height;
  const cropForAspect = centerCropBox(image.width, image.height, aspect);
  // crop_to_16_9 always crops to 16:9 (an explicit non-16:9 size then stretches the crop, as asked);
  // maintain_aspect_ratio crops only the sliver that rounding the sides to the multiple requires
  const crop = request.resize_method === 'crop_to_16_9' || Math.abs(image.width / image.height - width / height) > 1e-6
    ? cropForAspect
    : { left: 0, top: 0, width: image.width, height: image.height };
  return { width, height, crop, source: cropImage(image, crop) };
}

export function cropImage(image: ImageInput, box: Box): ImageInput {
  if (box.left === 0 && box.top === 0 && box.width === image.width && box.height === image.height) return image;
  const rgba = new Uint8ClampedArray(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * image.width + box.left) * 4;
    rgba.set(image.rgba.subarray(from, from + box.width * 4), y * box.width * 4);
  }
  return { width: box.width, height: box.height, rgba };
}

/** RGBA bytes → RGB float32 CHW in [0, 1] (alpha dropped, as PIL's convert('RGB') does for opaque images). */
export function rgbaToFloatChw(image: ImageInput): { data: Float32Array; width: number; height: number } {
  return { data: u8HwcToFloatChw(image.rgba, image.height, image.width, 4, 3), width: image.width, height: image.height };
}

/**
 * The VAE's input: the framed image resized to (W, H) with Lanczos (diffusers' VaeImageProcessor), to [-1, 1],
 * plus `condAug · noise` (noise augmentation in pixel space). Returns [3, H, W].
 */
export function prepareConditioningImage(framing: Framing, condAug: number, noise: Float32Array): Float32Array {
  const { source, width, height } = framing;
  const rgb = new Uint8Array(source.width * source.height * 3);
  for (let p = 0; p < source.width * source.height; p++) {
    rgb[p * 3] = source.rgba[p * 4];
    rgb[p * 3 + 1] = source.rgba[p * 4 + 1];
    rgb[p * 3 + 2] = source.rgba[p * 4 + 2];
  }
  const resized = resizeLanczosU8(rgb, source.width, source.height, 3, width, height);
  const x = u8HwcToFloatChw(resized, height, width, 3);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(Math.fround(Math.fround(x[i] * 2) - 1) + Math.fround(condAug * noise[i]));
  return x;
}
