/** Decoding PNG and JPEG files to RGBA in Node (the browser decodes with createImageBitmap instead). */
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { ImageInput } from '../contract/request.ts';

export class ImageFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFileError';
  }
}

/** Largest accepted image side; larger inputs are refused before decoding fills memory. */
export const MAX_IMAGE_SIDE = 8192;

export function decodeImageFile(path: string): ImageInput {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageFileError(`cannot read image ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return decodeImageBytes(bytes, path);
}

export function decodeImageBytes(bytes: Uint8Array, label = 'image'): ImageInput {
  if (bytes.byteLength === 0) throw new ImageFileError(`${label} is empty (0 bytes)`);
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      checkSize(png.width, png.height, label);
      return { width: png.width, height: png.height, rgba: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: (MAX_IMAGE_SIDE * MAX_IMAGE_SIDE) / 1e6 });
      checkSize(img.width, img.height, label);
      return { width: img.width, height: img.height, rgba: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
    }
  } catch (e) {
    if (e instanceof ImageFileError) throw e;
    throw new ImageFileError(`${label} could not be decoded (${(e as Error).message}); is the file complete?`);
  }
  throw new ImageFileError(`${label} is not a PNG or JPEG image`);
}

function checkSize(width: number, height: number, label: string): void {
  if (width < 1 || height < 1) throw new ImageFileError(`${label} has no pixels (${width}×${height})`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ImageFileError(`${label} is ${width}×${height}; the largest side accepted is ${MAX_IMAGE_SIDE} px — scale it down first`);
  }
}
