/**
 * What Chromium does to decoded pixels before the app reads them, redone on the CLI's decode (src/io/image-file.ts)
 * so that both give the pipeline the same bytes. Pure; each step measured against Chromium (e2e/images.e2e.ts).
 *
 * - The app draws the decoded picture on a 2D canvas and reads it back (src/store/image-input.ts): the canvas keeps
 *   premultiplied 8-bit colour, so a pixel with 0 < alpha < 255 comes back rounded, and one with alpha 0 comes back
 *   black. The pipeline then drops alpha and uses that colour (src/pipeline/image.ts).
 * - A CMYK JPEG is turned into RGB by Blink's JPEG decoder with its own formula (no colour profile), not by an ICC
 *   transform as libvips would.
 */

let roundTrip: Uint8Array | undefined;

/** Round half to even, as the x86 vector conversion Skia stores with does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) === 1 ? r - 1 : r;
}

/**
 * Colour `c` at alpha `a` after drawImage (premultiply: round(c·a/255)) and getImageData (unpremultiply in float32 by
 * the reciprocal of alpha, round half to even), as Skia's raster pipeline does; all 65,536 cases checked against
 * Chromium. Table index: a·256 + c.
 */
function canvasRoundTripTable(): Uint8Array {
  if (roundTrip) return roundTrip;
  const f = Math.fround;
  const k = f(1 / 255);
  const table = new Uint8Array(256 * 256);
  for (let a = 1; a < 256; a++) {
    const inv = f(1 / f(a * k));
    for (let c = 0; c < 256; c++) {
      const premul = Math.round((c * a) / 255);
      const u = Math.min(1, f(f(premul * k) * inv));
      table[a * 256 + c] = roundHalfEven(f(u * 255));
    }
  }
  return (roundTrip = table);
}

/** In place: the colour of every pixel that is not opaque, as a premultiplied 8-bit canvas gives it back. */
export function canvasAlphaRoundTrip(rgba: Uint8Array | Uint8ClampedArray): void {
  let table: Uint8Array | undefined;
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3];
    if (a === 255) continue;
    table ??= canvasRoundTripTable();
    const row = a * 256;
    rgba[i] = table[row + rgba[i]];
    rgba[i + 1] = table[row + rgba[i + 1]];
    rgba[i + 2] = table[row + rgba[i + 2]];
  }
}

/**
 * CMYK samples as libjpeg outputs them → opaque RGBA, as Blink's JPEG decoder converts them: it takes the samples
 * as Adobe's inverted CMYK whatever the file says, R = C·K / 255 (truncated), G and B alike.
 */
export function blinkCmykToRgba(cmyk: Uint8Array, pixels: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    const k = cmyk[p * 4 + 3];
    out[p * 4] = Math.floor((cmyk[p * 4] * k) / 255);
    out[p * 4 + 1] = Math.floor((cmyk[p * 4 + 1] * k) / 255);
    out[p * 4 + 2] = Math.floor((cmyk[p * 4 + 2] * k) / 255);
    out[p * 4 + 3] = 255;
  }
  return out;
}

/**
 * Whether a JPEG carries Adobe's APP14 marker: libjpeg's CMYK samples are then inverted (0 = full ink), and libvips
 * inverts them back; without it libvips passes them as they are.
 */
export function jpegHasAdobeMarker(bytes: Uint8Array): boolean {
  let o = 2;
  while (o + 4 <= bytes.length && bytes[o] === 0xff) {
    const marker = bytes[o + 1];
    if (marker === 0xff) {
      o++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // start of scan, end of image: markers come before
    const len = (bytes[o + 2] << 8) | bytes[o + 3];
    if (marker === 0xee && len >= 7 && String.fromCharCode(...bytes.subarray(o + 4, o + 9)) === 'Adobe') return true;
    o += 2 + len;
  }
  return false;
}
