/**
 * The app's picture types (no DOM): the error of a refused picture and a decoded one. What a file is comes from its
 * bytes (src/contract/image-sniff.ts, shared with the CLI, re-exported here); the words of a refusal or a note are
 * src/contract/image-messages.ts; decoding is in image-input.ts (browser only).
 */
import type { ImageInput } from '../contract/request.ts';
import type { ImageFormat } from '../contract/image-sniff.ts';

export { FORMAT_NAMES, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, sniffImage, type ImageFormat, type ImageSniff } from '../contract/image-sniff.ts';

export class ImageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageInputError';
  }
}

/** A decoded picture, ready for both backends and the preview. */
export interface LoadedImage {
  input: ImageInput;
  /** object URL of a downscaled PNG/JPEG of what is used (the first frame of an animation) */
  previewUrl: string;
  name: string;
  /** the original bytes (sent to Segmind as they are when they are a still PNG/JPEG/WebP) */
  file: Blob;
  format: ImageFormat;
  /** the file has several frames; the first is used */
  animated: boolean;
  /** something the user should know, e.g. "animated GIF: its first frame is used" */
  note?: string;
}
