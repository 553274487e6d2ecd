/**
 * Image resampling and geometry for the SVD pipeline.
 *
 * - `resizeWithAntialiasing`: diffusers' `_resize_with_antialiasing` (the CLIP conditioning path): separable
 *   Gaussian blur, then torch bicubic interpolation with align_corners=True. Mirrors torch's float32 arithmetic
 *   (Math.fround on every intermediate) so the result matches to ~1e-7.
 * - `clipPreprocess`: the whole `_encode_image` preprocessing (x·2−1 → resize to 224² → (r+1)/2 → CLIP normalise).
 * - `resizeLanczosU8` / `resizeLanczosFloat`: PIL's `Image.resize(..., LANCZOS)` (the VAE conditioning path,
 *   `VaeImageProcessor.resize`), following Pillow's ImagingResample exactly, including its 8-bit fixed point.
 * - `centerCropBox` / `fitToPixelCount`: pure geometry for the `resize_method` options.
 *
 * Pure TypeScript: no Node or DOM imports. Layouts: CHW (or NCHW with N·C passed as `channels`) for float images,
 * HWC interleaved for 8-bit images.
 */

const f32 = Math.fround;

// ---------------------------------------------------------------------------------------------------------------
// _resize_with_antialiasing
// ---------------------------------------------------------------------------------------------------------------

/** Gaussian blur parameters diffusers derives from the scale factor along one axis (from skimage's rule). */
export function antialiasKernelParams(inSize: number, outSize: number): { sigma: number; kernelSize: number } {
  const factor = inSize / outSize;
  const sigma = Math.max((factor - 1.0) / 2.0, 0.001);
  let kernelSize = Math.trunc(Math.max(2.0 * 2 * sigma, 3));
  if (kernelSize % 2 === 0) kernelSize += 1; // odd, so the kernel is centred
  return { sigma, kernelSize };
}

/**
 * float32 Gaussian kernel exactly as diffusers' `_gaussian` computes it in torch:
 * exp(−x² / (2σ²)) with x = arange(k) − k//2, normalised by its float32 sum.
 */
export function gaussianKernel1d(kernelSize: number, sigma: number): Float32Array {
  const s = f32(sigma); // torch.tensor([sigma], dtype=float32)
  const twoS2 = f32(2 * f32(s * s));
  const g = new Float32Array(kernelSize);
  const half = Math.floor(kernelSize / 2);
  let sum = 0;
  for (let i = 0; i < kernelSize; i++) {
    let x = i - half;
    if (kernelSize % 2 === 0) x += 0.5;
    g[i] = f32(Math.exp(f32(-f32(x * x) / twoS2)));
    sum = f32(sum + g[i]);
  }
  for (let i = 0; i < kernelSize; i++) g[i] = f32(g[i] / sum);
  return g;
}

/** torch 'reflect' padding index (edge sample not repeated); loops for pads wider than the signal. */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/**
 * 1-D convolution along one axis with reflect padding ((k−1)//2 before, the rest after), float32 accumulation
 * in tap order. `stride`/`count` describe the axis; applied to every line of every plane.
 */
function blurAxis(src: Float32Array, planes: number, h: number, w: number, kernel: Float32Array, alongWidth: boolean): Float32Array {
  const k = kernel.length;
  const padFront = Math.floor((k - 1) / 2);
  const out = new Float32Array(src.length);
  const n = alongWidth ? w : h;
  // Precompute the reflected source index of every (output position, tap) pair once per axis.
  const idx = new Int32Array(n * k);
  for (let o = 0; o < n; o++) for (let t = 0; t < k; t++) idx[o * k + t] = reflectIndex(o + t - padFront, n);
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    if (alongWidth) {
      for (let y = 0; y < h; y++) {
        const row = base + y * w;
        for (let x = 0; x < w; x++) {
          let acc = 0;
          for (let t = 0; t < k; t++) acc = f32(acc + f32(kernel[t] * src[row + idx[x * k + t]]));
          out[row + x] = acc;
        }
      }
    } else {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let acc = 0;
          for (let t = 0; t < k; t++) acc = f32(acc + f32(kernel[t] * src[base + idx[y * k + t] * w + x]));
          out[base + y * w + x] = acc;
        }
      }
    }
  }
  return out;
}

/** float32 fused multiply-add: a·b is exact in float64 for float32 inputs, so one rounding (to float32) remains. */
const fmaF32 = (a: number, b: number, c: number) => f32(a * b + c);

/**
 * torch's cubic convolution weights for fraction t (A = −0.75), float32 (`get_cubic_upsample_coefficients`).
 * torch's vectorised CPU builds contract these polynomials into FMAs; emulating that halves the max difference
 * to torch's output (measured on the resize fixture: 1.0e-6 → 4.8e-7).
 */
function cubicCoefficients(t: number, out: Float32Array, offset: number): void {
  const A = -0.75;
  // ((A+2)·x − (A+3))·x·x + 1   for |x| ≤ 1
  const cc1 = (x: number) => fmaF32(f32(fmaF32(A + 2, x, -(A + 3)) * x), x, 1);
  // ((A·x − 5A)·x + 8A)·x − 4A   for 1 < |x| < 2
  const cc2 = (x: number) => fmaF32(fmaF32(fmaF32(A, x, -5 * A), x, 8 * A), x, -4 * A);
  out[offset] = cc2(f32(t + 1));
  out[offset + 1] = cc1(t);
  const x2 = f32(1 - t);
  out[offset + 2] = cc1(x2);
  out[offset + 3] = cc2(f32(x2 + 1));
}

/** Per output index: 4 clamped source indices and 4 float32 weights, align_corners=True. */
function bicubicTaps(inSize: number, outSize: number): { index: Int32Array; weight: Float32Array } {
  const index = new Int32Array(outSize * 4);
  const weight = new Float32Array(outSize * 4);
  const scale = outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0;
  for (let o = 0; o < outSize; o++) {
    const real = f32(scale * o); // src = dst·(in−1)/(out−1)
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const lambda = Math.min(Math.max(f32(real - i0), 0), 1);
    cubicCoefficients(lambda, weight, o * 4);
    for (let j = 0; j < 4; j++) index[o * 4 + j] = Math.max(Math.min(i0 - 1 + j, inSize - 1), 0);
  }
  return { index, weight };
}

/**
 * torch.nn.functional.interpolate(mode='bicubic', align_corners=True) on float32 planes, without clamping the
 * output. Sum order as torch's CPU kernel: for each of the 4 rows, Σ over 4 columns, then Σ rows·weights.
 */
export function bicubicAlignCorners(src: Float32Array, planes: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  checkPlanes(src, planes, inH, inW);
  const ty = bicubicTaps(inH, outH);
  const tx = bicubicTaps(inW, outW);
  const out = new Float32Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    const base = p * inH * inW;
    const obase = p * outH * outW;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let acc = 0;
        for (let j = 0; j < 4; j++) {
          const row = base + ty.index[oy * 4 + j] * inW;
          let r = f32(src[row + tx.index[ox * 4]] * tx.weight[ox * 4]);
          for (let i = 1; i < 4; i++) r = f32(r + f32(src[row + tx.index[ox * 4 + i]] * tx.weight[ox * 4 + i]));
          const term = f32(r * ty.weight[oy * 4 + j]);
          acc = j === 0 ? term : f32(acc + term);
        }
        out[obase + oy * outW + ox] = acc;
      }
    }
  }
  return out;
}

/**
 * diffusers `_resize_with_antialiasing(input, (outH, outW))` for float32 CHW planes (pass N·C as `channels` for
 * NCHW). Blur along width first, then height (as `_gaussian_blur2d` does), then bicubic align_corners=True.
 * When upscaling, σ = 0.001 makes the 3-tap kernel exactly [0, 1, 0], i.e. no blur.
 */
export function resizeWithAntialiasing(src: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  checkPlanes(src, channels, inH, inW);
  if (!(outH >= 1 && outW >= 1)) throw new RangeError(`resizeWithAntialiasing: bad output size ${outH}x${outW}`);
  const ph = antialiasKernelParams(inH, outH);
  const pw = antialiasKernelParams(inW, outW);
  const blurredW = blurAxis(src, channels, inH, inW, gaussianKernel1d(pw.kernelSize, pw.sigma), true);
  const blurred = blurAxis(blurredW, channels, inH, inW, gaussianKernel1d(ph.kernelSize, ph.sigma), false);
  return bicubicAlignCorners(blurred, channels, inH, inW, outH, outW);
}

function checkPlanes(src: ArrayLike<number>, planes: number, h: number, w: number): void {
  if (src.length !== planes * h * w) {
    throw new RangeError(`image has ${src.length} values, expected ${planes}x${h}x${w} = ${planes * h * w}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CLIP preprocessing (`StableVideoDiffusionPipeline._encode_image`)
// ---------------------------------------------------------------------------------------------------------------

/** OpenAI CLIP normalisation, used by SVD's feature_extractor. */
export const CLIP_IMAGE_MEAN: readonly number[] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_IMAGE_STD: readonly number[] = [0.26862954, 0.26130258, 0.27577711];

export interface ClipPreprocessOptions {
  /** output side; the pipeline hard-codes 224 */
  size?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * RGB float CHW in [0,1] (any size) → CLIP `pixel_values` [3, size, size]:
 * x·2−1 → anti-aliased resize (aspect NOT kept) → (r+1)/2 → (r − mean)/std, all float32 ops like torch.
 */
export function clipPreprocess(rgb01: Float32Array, h: number, w: number, opts: ClipPreprocessOptions = {}): Float32Array {
  const size = opts.size ?? 224;
  const mean = opts.mean ?? CLIP_IMAGE_MEAN;
  const std = opts.std ?? CLIP_IMAGE_STD;
  const channels = rgb01.length / (h * w);
  if (!Number.isInteger(channels) || channels !== mean.length || channels !== std.length) {
    throw new RangeError(`clipPreprocess: ${rgb01.length} values is not ${mean.length} channels of ${h}x${w}`);
  }
  const signed = new Float32Array(rgb01.length);
  for (let i = 0; i < rgb01.length; i++) signed[i] = f32(f32(rgb01[i] * 2) - 1);
  const r = resizeWithAntialiasing(signed, channels, h, w, size, size);
  const plane = size * size;
  for (let c = 0; c < channels; c++) {
    const m = f32(mean[c]);
    const s = f32(std[c]);
    for (let i = c * plane; i < (c + 1) * plane; i++) r[i] = f32(f32(f32(r[i] + 1) / 2) - m) / s;
  }
  return r;
}

/**
 * uint8 HWC (interleaved, `channels` per pixel) → float32 CHW in [0,1] as float32(u8)/255 (numpy's
 * `pil_to_numpy`, bit-exact). Only the first `keep` channels are kept (e.g. 3 of RGBA).
 */
export function u8HwcToFloatChw(src: ArrayLike<number>, h: number, w: number, channels: number, keep = channels): Float32Array {
  checkPlanes(src, channels, h, w);
  const out = new Float32Array(keep * h * w);
  const plane = h * w;
  for (let p = 0; p < plane; p++) for (let c = 0; c < keep; c++) out[c * plane + p] = src[p * channels + c] / 255;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// PIL Lanczos (ImagingResample)
// ---------------------------------------------------------------------------------------------------------------

/** Pillow's lanczos_filter: sinc(x)·sinc(x/3) on [−3, 3). */
function lanczos3(x: number): number {
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
  return 0.0;
}

function sinc(x: number): number {
  if (x === 0.0) return 1.0;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

interface ResampleCoeffs {
  ksize: number;
  /** per output pixel: first source index and number of taps */
  bounds: Int32Array;
  /** outSize·ksize normalised float64 weights */
  kk: Float64Array;
}

/**
 * Pillow's `precompute_coeffs`: the filter is stretched by the scale when downscaling (support = 3·scale, i.e.
 * anti-aliasing), taps are [round(center − support), round(center + support)) clipped to the image, and the
 * weights of each output pixel are normalised to sum to 1. `in0`/`in1` are the (float) source box on this axis.
 */
function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number): ResampleCoeffs {
  const scale = (f32(in1) - f32(in0)) / outSize; // box coordinates are C floats in Pillow
  const filterscale = Math.max(scale, 1.0);
  const support = 3.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = f32(in0) + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5); // C (int) cast truncates toward zero
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const wgt = lanczos3((x + xmin - center + 0.5) * ss);
      kk[xx * ksize + x] = wgt;
      ww += wgt;
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) kk[xx * ksize + x] /= ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = Math.max(xmax, 0);
  }
  return { ksize, bounds, kk };
}

/** Pillow's 8-bit fixed point: PRECISION_BITS = 32 − 8 − 2. */
const PRECISION_BITS = 22;
const PRECISION_ONE = 1 << PRECISION_BITS;

/** Pillow's `normalize_coeffs_8bpc`: weights to integers, rounding half away from zero. */
function fixedPointCoeffs(kk: Float64Array): Float64Array {
  const out = new Float64Array(kk.length);
  for (let i = 0; i < kk.length; i++) {
    out[i] = kk[i] < 0 ? Math.trunc(-0.5 + kk[i] * PRECISION_ONE) : Math.trunc(0.5 + kk[i] * PRECISION_ONE);
  }
  return out;
}

/** Pillow's clip8: the accumulator (which starts at 0.5 in fixed point) shifted down, clamped to [0, 255]. */
function clip8(acc: number): number {
  if (acc <= 0) return 0;
  const v = Math.floor(acc / PRECISION_ONE);
  return v > 255 ? 255 : v;
}

export type ResizeBox = readonly [x0: number, y0: number, x1: number, y1: number];

/**
 * `PIL.Image.resize((outW, outH), Image.LANCZOS, box)` for an 8-bit image, HWC interleaved with `channels`
 * values per pixel (RGB: 3). Follows Pillow's ImagingResample: horizontal pass first into an 8-bit intermediate
 * (only the rows the vertical pass needs), then vertical, each with 22-bit fixed-point weights and rounding.
 * Each channel is resampled independently (for RGBA Pillow would premultiply alpha; the SVD pipeline converts
 * to RGB first). `box` (source rectangle, floats, default the whole image) lets a crop and resize be one pass.
 */
export function resizeLanczosU8(
  src: Uint8Array | Uint8ClampedArray,
  inW: number,
  inH: number,
  channels: number,
  outW: number,
  outH: number,
  box: ResizeBox = [0, 0, inW, inH],
): Uint8Array {
  checkPlanes(src, channels, inH, inW);
  checkResize(inW, inH, outW, outH, box);
  const [bx0, by0, bx1, by1] = box;
  // Pillow (Image.resize) returns a copy when nothing changes.
  if (outW === inW && outH === inH && bx0 === 0 && by0 === 0 && bx1 === inW && by1 === inH) return Uint8Array.from(src);
  const needH = outW !== inW || bx0 !== 0 || bx1 !== outW;
  const needV = outH !== inH || by0 !== 0 || by1 !== outH;
  const horiz = precomputeCoeffs(inW, bx0, bx1, outW);
  const vert = precomputeCoeffs(inH, by0, by1, outH);
  const vb = Int32Array.from(vert.bounds);

  let cur: Uint8Array | Uint8ClampedArray = src;
  let curW = inW;
  if (needH) {
    // Only rows [yFirst, yLast) feed the vertical pass.
    const yFirst = needV ? vb[0] : 0;
    const yLast = needV ? vb[outH * 2 - 2] + vb[outH * 2 - 1] : inH;
    if (needV) for (let i = 0; i < outH; i++) vb[i * 2] -= yFirst;
    const k = fixedPointCoeffs(horiz.kk);
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(rows * outW * channels);
    for (let y = 0; y < rows; y++) {
      const srow = (y + yFirst) * inW * channels;
      const drow = y * outW * channels;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = horiz.bounds[xx * 2];
        const xn = horiz.bounds[xx * 2 + 1];
        const kb = xx * horiz.ksize;
        for (let c = 0; c < channels; c++) {
          let acc = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xn; x++) acc += src[srow + (x + xmin) * channels + c] * k[kb + x];
          tmp[drow + xx * channels + c] = clip8(acc);
        }
      }
    }
    cur = tmp;
    curW = outW;
  }
  if (!needV) return cur as Uint8Array; // needH was true, so `cur` is the fresh intermediate
  const k = fixedPointCoeffs(vert.kk);
  const out = new Uint8Array(outH * curW * channels);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = vb[yy * 2];
    const yn = vb[yy * 2 + 1];
    const kb = yy * vert.ksize;
    for (let xx = 0; xx < curW; xx++) {
      for (let c = 0; c < channels; c++) {
        let acc = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < yn; y++) acc += cur[((y + ymin) * curW + xx) * channels + c] * k[kb + y];
        out[(yy * curW + xx) * channels + c] = clip8(acc);
      }
    }
  }
  return out;
}

/**
 * Lanczos resize of float32 CHW planes with Pillow's mode-"F" arithmetic (float64 weights and accumulator,
 * float32 storage after each pass, horizontal then vertical, no clamping). For images that are already float.
 */
export function resizeLanczosFloat(
  src: Float32Array,
  channels: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
  box: ResizeBox = [0, 0, inW, inH],
): Float32Array {
  checkPlanes(src, channels, inH, inW);
  checkResize(inW, inH, outW, outH, box);
  const [bx0, by0, bx1, by1] = box;
  const needH = outW !== inW || bx0 !== 0 || bx1 !== outW;
  const needV = outH !== inH || by0 !== 0 || by1 !== outH;
  if (!needH && !needV) return Float32Array.from(src);
  const horiz = precomputeCoeffs(inW, bx0, bx1, outW);
  const vert = precomputeCoeffs(inH, by0, by1, outH);
  const vb = Int32Array.from(vert.bounds);
  let cur = src;
  let curW = inW;
  let curH = inH;
  if (needH) {
    const yFirst = needV ? vb[0] : 0;
    const yLast = needV ? vb[outH * 2 - 2] + vb[outH * 2 - 1] : inH;
    if (needV) for (let i = 0; i < outH; i++) vb[i * 2] -= yFirst;
    const rows = yLast - yFirst;
    const tmp = new Float32Array(channels * rows * outW);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < rows; y++) {
        const srow = (c * inH + y + yFirst) * inW;
        const drow = (c * rows + y) * outW;
        for (let xx = 0; xx < outW; xx++) {
          const xmin = horiz.bounds[xx * 2];
          const xn = horiz.bounds[xx * 2 + 1];
          let acc = 0.0;
          for (let x = 0; x < xn; x++) acc += src[srow + x + xmin] * horiz.kk[xx * horiz.ksize + x];
          tmp[drow + xx] = acc;
        }
      }
    }
    cur = tmp;
    curW = outW;
    curH = rows;
  }
  if (!needV) return cur;
  const out = new Float32Array(channels * outH * curW);
  for (let c = 0; c < channels; c++) {
    for (let yy = 0; yy < outH; yy++) {
      const ymin = vb[yy * 2];
      const yn = vb[yy * 2 + 1];
      for (let xx = 0; xx < curW; xx++) {
        let acc = 0.0;
        for (let y = 0; y < yn; y++) acc += cur[(c * curH + y + ymin) * curW + xx] * vert.kk[yy * vert.ksize + y];
        out[(c * outH + yy) * curW + xx] = acc;
      }
    }
  }
  return out;
}

function checkResize(inW: number, inH: number, outW: number, outH: number, box: ResizeBox): void {
  for (const v of [inW, inH, outW, outH]) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`resize: sizes must be positive integers (got in ${inW}x${inH}, out ${outW}x${outH})`);
  }
  const [x0, y0, x1, y1] = box;
  if (!(x0 >= 0 && y0 >= 0 && x1 <= inW && y1 <= inH && x1 > x0 && y1 > y0)) {
    throw new RangeError(`resize: box [${box.join(', ')}] is not inside the ${inW}x${inH} image`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Geometry for resize_method
// ---------------------------------------------------------------------------------------------------------------

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The largest centred box of aspect `aspect` (= width/height, e.g. 16/9) inside a w×h image, in whole pixels
 * (`crop_to_16_9`). The crop is split evenly, the odd pixel going to the right/bottom.
 */
export function centerCropBox(w: number, h: number, aspect: number): Box {
  if (!(w >= 1 && h >= 1 && aspect > 0)) throw new RangeError(`centerCropBox: bad arguments ${w}x${h}, aspect ${aspect}`);
  let width = w;
  let height = h;
  if (w / h > aspect) width = Math.max(1, Math.min(w, Math.round(h * aspect)));
  else height = Math.max(1, Math.min(h, Math.round(w / aspect)));
  return { left: Math.floor((w - width) / 2), top: Math.floor((h - height) / 2), width, height };
}

/**
 * Output size for `maintain_aspect_ratio`: keep the image's aspect, with about `targetPixels` pixels
 * (e.g. 1024·576 for SVD), both sides rounded to a multiple of `multiple` (64 keeps the latent size a multiple
 * of 8 for the UNet's three downsamplings) and at least `multiple`.
 */
export function fitToPixelCount(w: number, h: number, targetPixels: number, multiple = 64): { width: number; height: number } {
  if (!(w >= 1 && h >= 1 && targetPixels >= 1 && multiple >= 1)) {
    throw new RangeError(`fitToPixelCount: bad arguments ${w}x${h}, ${targetPixels} px, multiple ${multiple}`);
  }
  const scale = Math.sqrt(targetPixels / (w * h));
  const snap = (v: number) => Math.max(multiple, Math.round(v / multiple) * multiple);
  return { width: snap(w * scale), height: snap(h * scale) };
}
