/**
 * What a picture file is, from its bytes alone (no decoding, pure): format, size, animation and truncation. The app's
 * image checker (src/store/image-input.ts) and the CLI's (src/io/image-file.ts) both start here, so they accept and
 * refuse the same files; their refusals are worded in ./image-messages.ts.
 */

/** Largest accepted side in pixels (the app and the CLI). */
export const MAX_IMAGE_SIDE = 8192;
/** Largest file accepted before looking inside (a 8192² PNG is rarely above this). */
export const MAX_IMAGE_BYTES = 200 * 1024 * 1024;

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'avif' | 'ico';

export interface ImageSniff {
  /** a format the browser can decode, or undefined for "not a supported image" */
  format?: ImageFormat;
  /** what the bytes are when not a supported image ("a PDF document", "an SVG drawing", …) */
  other?: string;
  width?: number;
  height?: number;
  /** more than one frame (animated GIF, APNG, animated WebP) */
  animated?: boolean;
  frameCount?: number;
  /** the file ends before its format says it should */
  truncated?: boolean;
}

const u16be = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u16le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u24le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
const u32be = (b: Uint8Array, o: number) => ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + ((b[o + 3] << 24) >>> 0);
const ascii = (b: Uint8Array, o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));

/** Recognises the format, size, animation and truncation of an image from its bytes (no decoding). */
export function sniffImage(b: Uint8Array): ImageSniff {
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 3) === 'PNG') return sniffPng(b);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return sniffJpeg(b);
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return sniffGif(b);
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return sniffWebp(b);
  if (b.length >= 2 && ascii(b, 0, 2) === 'BM') {
    return { format: 'bmp', width: b.length >= 26 ? Math.abs(u32le(b, 18) | 0) : undefined, height: b.length >= 26 ? Math.abs(u32le(b, 22) | 0) : undefined };
  }
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return { format: 'ico' };
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (brand === 'avif' || brand === 'avis') return { format: 'avif', animated: brand === 'avis' };
    if (/^(heic|heix|hevc|heim|heis|mif1|msf1)$/.test(brand)) return { other: 'a HEIC/HEIF photo, which this browser cannot decode' };
    return { other: 'a video file' };
  }
  if (b.length >= 4 && ascii(b, 0, 4) === '%PDF') return { other: 'a PDF document' };
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4) return { other: 'a ZIP archive' };
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return { other: 'a video file' };
  const head = new TextDecoder().decode(b.subarray(0, 512)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return { other: 'an SVG drawing' };
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return { other: 'a web page (HTML)' };
  if (b.length > 0 && [...b.subarray(0, 256)].every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 0xc2)) {
    return { other: 'a text file' };
  }
  return {};
}

function sniffPng(b: Uint8Array): ImageSniff {
  const out: ImageSniff = { format: 'png', truncated: true };
  if (b.length >= 24 && ascii(b, 12, 4) === 'IHDR') {
    out.width = u32be(b, 16);
    out.height = u32be(b, 20);
  }
  let o = 8;
  while (o + 8 <= b.length) {
    const len = u32be(b, o);
    const type = ascii(b, o + 4, 4);
    if (type === 'acTL' && o + 12 <= b.length) {
      out.frameCount = u32be(b, o + 8);
      out.animated = out.frameCount > 1;
    }
    if (o + 12 + len > b.length) break; // chunk runs past the end
    if (type === 'IEND') {
      out.truncated = false;
      break;
    }
    o += 12 + len;
  }
  return out;
}

function sniffJpeg(b: Uint8Array): ImageSniff {
  const out: ImageSniff = { format: 'jpeg' };
  let o = 2;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) break;
    const marker = b[o + 1];
    if (marker === 0xff) {
      o++;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end / start of scan: sizes come before
    const len = u16be(b, o + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && o + 9 <= b.length) {
      out.height = u16be(b, o + 5);
      out.width = u16be(b, o + 7);
      break;
    }
    o += 2 + len;
  }
  // A complete JPEG ends with the EOI marker (FF D9), possibly followed by a little padding.
  const tail = b.subarray(Math.max(0, b.length - 64));
  let eoi = false;
  for (let i = 0; i + 1 < tail.length; i++) if (tail[i] === 0xff && tail[i + 1] === 0xd9) eoi = true;
  out.truncated = !eoi;
  return out;
}

function sniffGif(b: Uint8Array): ImageSniff {
  const out: ImageSniff = { format: 'gif', truncated: true, frameCount: 0 };
  if (b.length < 13) return out;
  out.width = u16le(b, 6);
  out.height = u16le(b, 8);
  const flags = b[10];
  let o = 13 + (flags & 0x80 ? 3 * (1 << ((flags & 7) + 1)) : 0);
  const skipSubBlocks = (p: number): number => {
    while (p < b.length && b[p] !== 0) p += b[p] + 1;
    return p + 1; // past the 0 terminator (may be > length when truncated)
  };
  let frames = 0;
  while (o < b.length) {
    const block = b[o];
    if (block === 0x3b) {
      out.truncated = false;
      break;
    }
    if (block === 0x21) o = skipSubBlocks(o + 2);
    else if (block === 0x2c) {
      if (o + 10 > b.length) break;
      const local = b[o + 9];
      o += 10 + (local & 0x80 ? 3 * (1 << ((local & 7) + 1)) : 0);
      o = skipSubBlocks(o + 1); // LZW minimum code size, then the data sub-blocks
      if (o <= b.length) frames++;
    } else break; // garbage
  }
  out.frameCount = frames;
  out.animated = frames > 1;
  return out;
}

function sniffWebp(b: Uint8Array): ImageSniff {
  const out: ImageSniff = { format: 'webp', truncated: u32le(b, 4) + 8 > b.length };
  const chunk = b.length >= 16 ? ascii(b, 12, 4) : '';
  if (chunk === 'VP8X' && b.length >= 30) {
    out.animated = (b[20] & 0x02) !== 0;
    out.width = u24le(b, 24) + 1;
    out.height = u24le(b, 27) + 1;
  } else if (chunk === 'VP8 ' && b.length >= 30) {
    out.width = u16le(b, 26) & 0x3fff;
    out.height = u16le(b, 28) & 0x3fff;
  } else if (chunk === 'VP8L' && b.length >= 25) {
    const bits = u32le(b, 21);
    out.width = (bits & 0x3fff) + 1;
    out.height = ((bits >> 14) & 0x3fff) + 1;
  }
  return out;
}

export const FORMAT_NAMES: Record<ImageFormat, string> = {
  png: 'PNG', jpeg: 'JPEG', gif: 'GIF', webp: 'WebP', bmp: 'BMP', avif: 'AVIF', ico: 'ICO',
};
