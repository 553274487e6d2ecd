/**
 * Pictures in Node (svd-web generate --image): the formats the app takes, decoded by sharp (libvips) into the bytes
 * the app gets from Chromium's createImageBitmap, refused with the app's words.
 *
 * - Checks first, from the bytes, as the app does (src/contract/image-messages.ts): empty, not a picture, incomplete,
 *   larger than 8192 px on a side (a size bomb is refused from its header, before any pixel is allocated).
 * - PNG (8/16-bit, grey, alpha, palette), JPEG (baseline, progressive, grey, CMYK), WebP, GIF, AVIF; an animated
 *   picture gives its first frame, with the app's note. BMP and ICO, which the browser also reads, are refused here.
 * - EXIF orientation applied (the app decodes with imageOrientation 'from-image'); colour profiles converted to sRGB.
 * - Then what Chromium does to the colour: a CMYK JPEG converted with Blink's formula, a PNG's gAMA/cHRM colour-managed
 *   (src/io/png-colour.ts), and the colour of a pixel that is not opaque rounded as a premultiplied canvas rounds it
 *   (src/io/browser-pixels.ts).
 *
 * What differs from the app (Chromium 156; tests/fixtures/images/README.md, e2e/images.e2e.ts): BMP and ICO are refused;
 * a 4:2:0 AVIF's colour edges (libheif upsamples chroma otherwise than libavif); AVIF 4:4:4 and PNG gAMA/cHRM within one
 * 8-bit level; embedded ICC profiles are converted by lcms instead of skcms (an RGB profile measured within one level,
 * a CMYK JPEG with a CMYK profile up to 65 levels apart).
 */
import { readFileSync } from 'node:fs';
import type { ImageInput } from '../contract/request.ts';
import { checkImageBytes, imageNotes, imageRefusals, pictureLabel, refusalOfSides } from '../contract/image-messages.ts';
import { FORMAT_NAMES, MAX_IMAGE_SIDE, type ImageFormat } from '../contract/image-sniff.ts';
import { blinkCmykToRgba, canvasAlphaRoundTrip, jpegHasAdobeMarker } from './browser-pixels.ts';
import { pngColour, pngColourToSrgb } from './png-colour.ts';

export { MAX_IMAGE_SIDE };

export class ImageFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFileError';
  }
}

export interface DecodedImage {
  input: ImageInput;
  format: ImageFormat;
  /** several frames: the first is used (said in `notes`) */
  animated: boolean;
  /** what the user should know, in the app's words (animation, small, transparency) */
  notes: string[];
}

/** Who failed, in "… but svd-web could not decode it". */
const DECODER = 'svd-web';

/** Reads and decodes a picture file; ImageFileError with a sentence for the user when it cannot be used. */
export async function readImageFile(path: string): Promise<DecodedImage> {
  return decodeImageBytes(readBytes(path), path);
}

/** Decodes a picture's bytes (`name`: how the user knows it, quoted in messages). */
export async function decodeImageBytes(bytes: Uint8Array, name?: string): Promise<DecodedImage> {
  const label = pictureLabel(name);
  const checked = checkImageBytes(bytes, label);
  if (checked.refusal !== undefined) throw new ImageFileError(checked.refusal);
  const { sniff } = checked;
  if (sniff.format === 'bmp' || sniff.format === 'ico') {
    throw new ImageFileError(`${label} is a ${FORMAT_NAMES[sniff.format]} image, which the app reads but svd-web cannot decode. Save it as PNG or JPEG and retry.`);
  }
  const input = await decodeWithSharp(bytes, sniff.format, label);
  return { input, format: sniff.format, animated: sniff.animated === true, notes: imageNotes(sniff, input.width, input.height, input.rgba) };
}

async function decodeWithSharp(bytes: Uint8Array, format: ImageFormat, label: string): Promise<ImageInput> {
  const { default: sharp } = await import('sharp');
  const undecodable = () => new ImageFileError(imageRefusals.undecodable(label, format, DECODER));
  // the first frame only; fail on decoding errors, not on warnings (Chromium shows a JPEG with extraneous bytes)
  const options = { failOn: 'error', pages: 1, page: 0 } as const;
  let meta;
  try {
    meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata(); // the header only
  } catch {
    throw undecodable();
  }
  const sides = refusalOfSides(meta.width, meta.height, label);
  if (sides) throw new ImageFileError(sides);
  const image = sharp(bytes, { ...options, limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE }).autoOrient();
  try {
    if (meta.space === 'cmyk') {
      // the samples as decoded (libvips inverts Adobe's back; undo that), then Blink's formula
      const { data, info } = await image.pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
      if (jpegHasAdobeMarker(bytes)) for (let i = 0; i < data.length; i++) data[i] = 255 - data[i];
      return { width: info.width, height: info.height, rgba: blinkCmykToRgba(data, info.width * info.height) };
    }
    // 16-bit samples become 8-bit by their high byte, as Chromium's do
    const { data, info } = await image.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`${info.channels} channels`);
    const rgba = new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength);
    const colour = format === 'png' ? pngColour(bytes) : undefined;
    if (colour) pngColourToSrgb(rgba, colour);
    canvasAlphaRoundTrip(rgba);
    return { width: info.width, height: info.height, rgba };
  } catch {
    throw undecodable();
  }
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageFileError(`cannot read image ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`);
  }
}
