/**
 * A PNG's gAMA/cHRM chunks, which Chromium colour-manages and libvips ignores (ImageMagick writes both by default,
 * so such PNGs are common). Chromium's rules, measured (Chromium 156, e2e/images.e2e.ts):
 *
 * - an sRGB or iCCP chunk wins (libvips applies an iCCP profile itself);
 * - no gAMA: nothing (cHRM alone is ignored);
 * - gAMA without cHRM: nothing when gAMA·2.2 is within 0.05 of 1 (libpng's "insignificant gamma"), else the picture
 *   is taken as sRGB primaries with a pure power curve of exponent 1/gAMA;
 * - gAMA with cHRM: those primaries (Bradford-adapted to D50) with the pure power curve, whatever the gamma.
 *
 * The conversion to sRGB is done here in double precision; Chromium's (Skia's float approximations) lands within one
 * 8-bit level of it.
 */

export interface PngColour {
  /** the gAMA value (the encoding exponent, e.g. 0.45455) */
  gamma: number;
  /** cHRM: white x, y, red x, y, green x, y, blue x, y */
  chromaticities?: number[];
}

type Matrix = number[]; // 3×3, row-major

const SRGB_CHROMATICITIES = [0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06];
/** skcms's sRGB profile, to XYZ D50 */
const SRGB_TO_XYZD50: Matrix = [0.436065674, 0.385147095, 0.143066406, 0.222488403, 0.716873169, 0.06060791, 0.013916016, 0.097076416, 0.714096069];

/** The gAMA/cHRM that Chromium would convert from, or undefined when it shows the samples as they are. */
export function pngColour(bytes: Uint8Array): PngColour | undefined {
  let gamma: number | undefined;
  let chromaticities: number[] | undefined;
  const u32 = (o: number) => ((bytes[o] << 24) >>> 0) + ((bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]);
  for (let o = 8; o + 8 <= bytes.length; ) {
    const len = u32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (type === 'IDAT' || type === 'IEND' || o + 12 + len > bytes.length) break; // colour chunks come before the data
    if (type === 'sRGB' || type === 'iCCP') return undefined;
    if (type === 'gAMA' && len === 4) gamma = u32(o + 8) / 100000;
    if (type === 'cHRM' && len === 32) chromaticities = Array.from({ length: 8 }, (_, i) => u32(o + 8 + 4 * i) / 100000);
    o += 12 + len;
  }
  if (gamma === undefined || !(gamma > 0)) return undefined;
  if (!chromaticities && Math.abs(gamma * 2.2 - 1) <= 0.05) return undefined;
  return { gamma, chromaticities };
}

/** In place: RGBA (not premultiplied) from the PNG's colour space to sRGB; alpha untouched. */
export function pngColourToSrgb(rgba: Uint8Array | Uint8ClampedArray, colour: PngColour): void {
  const toXyz = primariesToXyzD50(colour.chromaticities ?? SRGB_CHROMATICITIES) ?? primariesToXyzD50(SRGB_CHROMATICITIES)!;
  const m = multiply(invert(SRGB_TO_XYZD50)!, toXyz);
  const decode = new Float64Array(256);
  for (let v = 0; v < 256; v++) decode[v] = Math.pow(v / 255, 1 / colour.gamma);
  const encode = (x: number) => {
    const v = Math.min(1, Math.max(0, x));
    return Math.round(255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055));
  };
  for (let i = 0; i < rgba.length; i += 4) {
    const r = decode[rgba[i]];
    const g = decode[rgba[i + 1]];
    const b = decode[rgba[i + 2]];
    rgba[i] = encode(m[0] * r + m[1] * g + m[2] * b);
    rgba[i + 1] = encode(m[3] * r + m[4] * g + m[5] * b);
    rgba[i + 2] = encode(m[6] * r + m[7] * g + m[8] * b);
  }
}

/** RGB → XYZ D50 of chromaticities (white point adapted to D50 with Bradford, as skcms does); undefined if degenerate. */
function primariesToXyzD50([wx, wy, rx, ry, gx, gy, bx, by]: number[]): Matrix | undefined {
  if (![wx, wy, rx, ry, gx, gy, bx, by].every((v) => v >= 0 && v <= 1) || wy === 0) return undefined;
  const primaries = [rx, gx, bx, ry, gy, by, 1 - rx - ry, 1 - gx - gy, 1 - bx - by];
  const inverse = invert(primaries);
  if (!inverse) return undefined;
  const white = [wx / wy, 1, (1 - wx - wy) / wy];
  const s = apply(inverse, white);
  const toXyz = multiply(primaries, [s[0], 0, 0, 0, s[1], 0, 0, 0, s[2]]);
  const bradford = [0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296];
  const src = apply(bradford, white);
  const dst = apply(bradford, [0.96422, 1, 0.82521]);
  const adapt = multiply(invert(bradford)!, multiply([dst[0] / src[0], 0, 0, 0, dst[1] / src[1], 0, 0, 0, dst[2] / src[2]], bradford));
  return multiply(adapt, toXyz);
}

function multiply(a: Matrix, b: Matrix): Matrix {
  const out: Matrix = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.push(a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j]);
  return out;
}

function apply(m: Matrix, v: number[]): number[] {
  return [0, 1, 2].map((i) => m[i * 3] * v[0] + m[i * 3 + 1] * v[1] + m[i * 3 + 2] * v[2]);
}

function invert([a, b, c, d, e, f, g, h, i]: Matrix): Matrix | undefined {
  const A = e * i - f * h;
  const B = f * g - d * i;
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) return undefined;
  return [A / det, (c * h - b * i) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, (c * d - a * f) / det, C / det, (b * g - a * h) / det, (a * e - b * d) / det];
}
