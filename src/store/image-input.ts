/**
 * Pictures in: file, drop, paste or URL → checked → decoded on the UI thread with createImageBitmap +
 * OffscreenCanvas → ImageInput {width, height, rgba} for the local backend (and base64 for Segmind).
 *
 * Bad pictures are refused with a sentence a user can act on: empty, truncated, not an image (or an image type
 * the browser cannot decode), larger than 8192 px on a side. Animated GIF/WebP/APNG use their first frame, with a
 * note saying so. The byte checks and the words are pure and shared with the CLI (src/contract/image-sniff.ts,
 * image-messages.ts); decoding here needs a browser.
 */
import { blobToBase64 } from '../common/base64.ts';
import type { ImageInput } from '../contract/request.ts';
import { checkImageBytes, imageNotes, imageRefusals, pictureLabel, refusalOfFileSize, refusalOfSides } from '../contract/image-messages.ts';
import { ImageInputError, type LoadedImage } from './image-check.ts';

export { ImageInputError, sniffImage, MAX_IMAGE_SIDE, type LoadedImage } from './image-check.ts';

/** Longest side of the on-screen preview copy. */
const PREVIEW_SIDE = 1024;

/** Checks and decodes a picture. Throws ImageInputError with a user-facing sentence. */
export async function decodeImageBlob(blob: Blob, name: string): Promise<LoadedImage> {
  const label = pictureLabel(name);
  const sized = refusalOfFileSize(blob.size, label);
  if (sized) throw new ImageInputError(sized);
  const checked = checkImageBytes(new Uint8Array(await blob.arrayBuffer()), label, blob.type);
  if (checked.refusal !== undefined) throw new ImageInputError(checked.refusal);
  const { sniff } = checked;

  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'default', imageOrientation: 'from-image' });
  } catch {
    throw new ImageInputError(imageRefusals.undecodable(label, sniff.format, 'this browser'));
  }
  try {
    const { width, height } = bitmap;
    if (width < 1 || height < 1) throw new ImageInputError(imageRefusals.noPixels(label, width, height));
    const sides = refusalOfSides(width, height, label);
    if (sides) throw new ImageInputError(sides);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ImageInputError('This browser cannot read picture pixels (no 2D canvas).');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, width, height);
    const input: ImageInput = { width, height, rgba: data.data };
    const previewUrl = await previewOf(bitmap);
    const notes = imageNotes(sniff, width, height, data.data);
    return { input, previewUrl, name: name || 'pasted image', file: blob, format: sniff.format, animated: sniff.animated === true, note: notes.join(' ') || undefined };
  } finally {
    bitmap.close();
  }
}

async function previewOf(bitmap: ImageBitmap): Promise<string> {
  const scale = Math.min(1, PREVIEW_SIDE / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new ImageInputError('This browser cannot draw pictures (no 2D canvas).');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, w, h);
  const out = await canvas.convertToBlob({ type: 'image/png' });
  return URL.createObjectURL(out);
}

/** Fetches a picture by URL (CORS) and decodes it; failures explained. */
export async function fetchImage(url: string, signal?: AbortSignal): Promise<LoadedImage> {
  let parsed: URL;
  try {
    parsed = new URL(url.trim(), globalThis.location?.href);
  } catch {
    throw new ImageInputError(`"${url}" is not a web address. Paste a full address starting with https://.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:' && parsed.protocol !== 'data:' && parsed.protocol !== 'blob:') {
    throw new ImageInputError(`Only http(s) addresses can be loaded (got ${parsed.protocol}).`);
  }
  let res: Response;
  try {
    res = await fetch(parsed.href, { mode: 'cors', credentials: 'omit', signal, redirect: 'follow' });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw new ImageInputError('Loading the picture was cancelled.');
    throw new ImageInputError(
      `Could not load ${parsed.host || 'the address'}: the site is unreachable, or it does not allow other sites to read its pictures (CORS). ` +
      'Save the picture to your device and drop the file here instead.');
  }
  if (!res.ok) {
    throw new ImageInputError(`${parsed.host} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''} for this address${res.status === 404 ? ' (no such picture)' : res.status === 403 ? ' (access denied)' : ''}.`);
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  if (type.startsWith('text/html')) {
    throw new ImageInputError(`That address is a web page, not a picture. Right-click the picture and use "Copy image address" instead.`);
  }
  const blob = await res.blob();
  const name = decodeURIComponent(parsed.pathname.split('/').pop() || parsed.host || 'image');
  return decodeImageBlob(blob, name);
}

/** The picture for Segmind as base64: the original file when it is a still PNG/JPEG/WebP, else a PNG of the pixels used. */
export async function imageBase64ForApi(image: LoadedImage): Promise<string> {
  let blob: Blob = image.file;
  const sendAsIs = (image.format === 'png' || image.format === 'jpeg' || image.format === 'webp') && !image.animated;
  if (!sendAsIs) {
    const canvas = new OffscreenCanvas(image.input.width, image.input.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new ImageInputError('This browser cannot draw pictures (no 2D canvas).');
    ctx.putImageData(new ImageData(new Uint8ClampedArray(image.input.rgba), image.input.width, image.input.height), 0, 0);
    blob = await canvas.convertToBlob({ type: 'image/png' });
  }
  return blobToBase64(blob);
}

/** A frame of a video as a picture: its pixels as they are (no resize), and a PNG of them for Segmind. */
export async function imageFromFrame(frame: { width: number; height: number; rgba: Uint8ClampedArray }, name: string): Promise<LoadedImage> {
  const canvas = new OffscreenCanvas(frame.width, frame.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new ImageInputError('This browser cannot draw pictures (no 2D canvas).');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), frame.width, frame.height), 0, 0);
  const file = await canvas.convertToBlob({ type: 'image/png' });
  return {
    input: { width: frame.width, height: frame.height, rgba: frame.rgba },
    // never shown in the picture panel (the user's picture stays there), so no object URL to leak
    previewUrl: '',
    name,
    file,
    format: 'png',
    animated: false,
  };
}
