/**
 * The words of a picture's refusal or note, one set for the app (src/store/image-input.ts, createImageBitmap) and the
 * CLI (src/io/image-file.ts, sharp): the same file gets the same sentence from both. Pure; `label` is the picture's
 * name as the user knows it (pictureLabel).
 */
import { FORMAT_NAMES, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, sniffImage, type ImageFormat, type ImageSniff } from './image-sniff.ts';

/** `"name"` in quotes, or "The picture" when it has none (a paste). */
export function pictureLabel(name: string | undefined): string {
  return name ? `"${name}"` : 'The picture';
}

export const imageRefusals = {
  empty: (label: string) => `${label} is empty (0 bytes). Pick another file.`,
  tooManyBytes: (label: string, bytes: number) =>
    `${label} is ${Math.round(bytes / 1e6)} MB; pictures up to ${MAX_IMAGE_BYTES / 1024 / 1024} MB are accepted.`,
  /** `what`: "a PDF document", "a text file", `a "type/x" file`, … */
  notAPicture: (label: string, what: string) => `${label} is ${what}, not a picture. Use a PNG, JPEG, WebP, GIF, BMP or AVIF image.`,
  incomplete: (label: string, format: ImageFormat) =>
    `${label} is an incomplete ${FORMAT_NAMES[format]} file: it ends early (an interrupted download or copy?). Save it again and retry.`,
  /** `decoder`: who failed ("this browser", "svd-web") */
  undecodable: (label: string, format: ImageFormat, decoder: string) =>
    `${label} looks like a ${FORMAT_NAMES[format]} image but ${decoder} could not decode it; the file may be damaged. Try re-saving it as PNG or JPEG.`,
  noPixels: (label: string, width: number, height: number) => `${label} has no pixels (${width}×${height}).`,
  tooLarge: (label: string, width: number, height: number) =>
    `${label} is ${width}×${height} pixels; the largest side accepted is ${MAX_IMAGE_SIDE} px. Scale it down first (the video is at most 1024 px wide anyway).`,
};

/** The refusal of a file by its size alone (before reading it), or undefined. */
export function refusalOfFileSize(bytes: number, label: string): string | undefined {
  if (bytes === 0) return imageRefusals.empty(label);
  if (bytes > MAX_IMAGE_BYTES) return imageRefusals.tooManyBytes(label, bytes);
  return undefined;
}

/** The refusal of a picture's sides (from its header or once decoded), or undefined. */
export function refusalOfSides(width: number | undefined, height: number | undefined, label: string): string | undefined {
  if (width === undefined || height === undefined) return undefined;
  if (width === 0 || height === 0) return imageRefusals.noPixels(label, width, height);
  if (Math.max(width, height) > MAX_IMAGE_SIDE) return imageRefusals.tooLarge(label, width, height);
  return undefined;
}

/**
 * Everything decided from the bytes before decoding: not a picture, incomplete, too large (a size bomb is refused
 * from its header, before any pixel is allocated). `mimeType`: the file's type where the platform knows one.
 */
export function checkImageBytes(bytes: Uint8Array, label: string, mimeType = ''):
  { refusal: string } | { refusal?: undefined; sniff: ImageSniff & { format: ImageFormat } } {
  const sized = refusalOfFileSize(bytes.byteLength, label);
  if (sized) return { refusal: sized };
  const sniff = sniffImage(bytes);
  if (!sniff.format) {
    return { refusal: imageRefusals.notAPicture(label, sniff.other ?? (mimeType ? `a "${mimeType}" file` : 'not a picture this app knows')) };
  }
  if (sniff.truncated) return { refusal: imageRefusals.incomplete(label, sniff.format) };
  const sides = refusalOfSides(sniff.width, sniff.height, label);
  if (sides) return { refusal: sides };
  return { sniff: sniff as ImageSniff & { format: ImageFormat } };
}

/** Whether a decoded picture has transparent pixels (every 97th pixel looked at, as the app always has). */
export function hasTransparency(rgba: ArrayLike<number>): boolean {
  for (let i = 3; i < rgba.length; i += 4 * 97) if (rgba[i] < 255) return true;
  return false;
}

/** What the user should know about a decoded picture: animation (first frame used), small, transparent. */
export function imageNotes(sniff: Pick<ImageSniff, 'format' | 'animated' | 'frameCount'>, width: number, height: number, rgba: ArrayLike<number>): string[] {
  const notes: string[] = [];
  if (sniff.animated && sniff.format) {
    const kind = sniff.format === 'png' ? 'animated PNG' : `animated ${FORMAT_NAMES[sniff.format]}`;
    notes.push(`This is an ${kind}${sniff.frameCount ? ` with ${sniff.frameCount} frames` : ''}: only its first frame is used.`);
  }
  if (Math.max(width, height) < 256) notes.push(`The picture is small (${width}×${height}); it is scaled up, so the video may look soft.`);
  if (hasTransparency(rgba)) notes.push('Transparent areas are treated as their underlying colour (usually black).');
  return notes;
}
