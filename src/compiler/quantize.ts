/**
 * Weight quantization used by the q4 precisions.
 * - Linear layers: symmetric 4-bit blocks of 32 along the input dimension, in com.microsoft MatMulNBits'
 *   layout (unsigned nibbles with the implicit zero point 8, low nibble first).
 * - Convolutions: symmetric int8, one scale per output channel (DequantizeLinear axis 0); or, for spatial kernels,
 *   symmetric int4 in blocks of 32 input channels at each kernel tap (DequantizeLinear axis 1, block_size 32).
 * Each quantizer also returns the exact dequantized weights, so an fp32 graph built from them proves
 * the quantized graph's arithmetic.
 */

export const INT4_BLOCK = 32;

export interface Int4Blocks {
  /** [N, K/32, 16] bytes */
  packed: Uint8Array;
  /** [N, K/32] scales, already rounded to the storage dtype */
  scales: Float32Array;
  /** the dequantized weights [N, K], what the graph computes with (computed on first access) */
  readonly dequantized: Float32Array;
}

/**
 * `weight` is [N, K] row-major (torch Linear: out × in). The element of largest magnitude in each block maps to
 * −8 exactly (scale = m / −8), so the full 16-level range is used.
 * `roundScale` rounds scales to the storage precision (identity for fp32, to-fp16 for fp16).
 */
export function quantizeInt4Blocks(weight: Float32Array, n: number, k: number, roundScale: (x: number) => number = Math.fround): Int4Blocks {
  if (k % INT4_BLOCK !== 0) throw new Error(`int4 quantization needs in_features divisible by ${INT4_BLOCK} (got ${k})`);
  const blocks = k / INT4_BLOCK;
  const packed = new Uint8Array(n * blocks * (INT4_BLOCK / 2));
  const scales = new Float32Array(n * blocks);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const start = row * k + b * INT4_BLOCK;
      const scale = roundScale(blockExtreme(weight, start, 1) / -8);
      const inv = scale === 0 ? 0 : 1 / scale;
      scales[row * blocks + b] = scale;
      const out = (row * blocks + b) * (INT4_BLOCK / 2);
      for (let i = 0; i < INT4_BLOCK; i += 2) {
        const q0 = clamp(Math.round(weight[start + i] * inv) + 8, 0, 15);
        const q1 = clamp(Math.round(weight[start + i + 1] * inv) + 8, 0, 15);
        packed[out + i / 2] = q0 | (q1 << 4);
      }
    }
  }
  // Computed on first use only (the emulated-quantization twin): a quantized graph never needs it, and for the
  // real UNet it would be gigabytes of float32 written for nothing.
  let dequantized: Float32Array | undefined;
  return {
    packed,
    scales,
    get dequantized() {
      return (dequantized ??= dequantizeInt4Blocks(weight, scales, n, k));
    },
  };
}

/**
 * (q − 8)·scale per element, rounded to float32: exactly what MatMulNBits computes with. Recomputed from the
 * weights and scales (not from the packed nibbles), so signed zeros and non-finite inputs come out as they always did.
 */
function dequantizeInt4Blocks(weight: Float32Array, scales: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let block = 0; block < scales.length; block++) {
    const scale = scales[block];
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let i = block * INT4_BLOCK, end = i + INT4_BLOCK; i < end; i++) {
      const q = clamp(Math.round(weight[i] * inv) + 8, 0, 15);
      out[i] = Math.fround((q - 8) * scale);
    }
  }
  return out;
}

export interface Int8PerChannel {
  /** same layout as the weight, int8 */
  values: Int8Array;
  /** one per output channel (axis 0), rounded to the storage dtype */
  scales: Float32Array;
  /** computed on first access */
  readonly dequantized: Float32Array;
}

export function quantizeInt8PerChannel(weight: Float32Array, outChannels: number, roundScale: (x: number) => number = Math.fround): Int8PerChannel {
  const per = weight.length / outChannels;
  const values = new Int8Array(weight.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const start = o * per;
    let maxAbs = 0;
    for (let i = 0; i < per; i++) maxAbs = Math.max(maxAbs, Math.abs(weight[start + i]));
    const scale = roundScale(maxAbs / 127);
    const inv = scale === 0 ? 0 : 1 / scale;
    scales[o] = scale;
    for (let i = 0; i < per; i++) values[start + i] = clamp(Math.round(weight[start + i] * inv), -127, 127);
  }
  // computed on first use only, as for the int4 blocks
  let dequantized: Float32Array | undefined;
  return {
    values,
    scales,
    get dequantized() {
      return (dequantized ??= dequantizeInt8PerChannel(weight, scales));
    },
  };
}

/** q·scale per element in the scale's precision: what DequantizeLinear (zero point 0) computes. */
function dequantizeInt8PerChannel(weight: Float32Array, scales: Float32Array): Float32Array {
  const out = new Float32Array(weight.length);
  const per = weight.length / scales.length;
  for (let o = 0; o < scales.length; o++) {
    const scale = scales[o];
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let i = o * per, end = i + per; i < end; i++) out[i] = Math.fround(clamp(Math.round(weight[i] * inv), -127, 127) * scale);
  }
  return out;
}

export interface Int4ConvBlocks {
  /** int4 nibbles of the weight [O, I, ...kernel] in C order, two per byte, low nibble first */
  packed: Uint8Array;
  /** [O, I/32, ...kernel] scales, rounded to the storage dtype */
  scales: Float32Array;
  readonly dequantized: Float32Array;
}

/**
 * Conv weight [O, I, ...kernel] → signed int4 blocks of 32 along the input-channel axis (one block per output
 * channel, kernel tap and group of 32 input channels), the layout of DequantizeLinear-21 with axis 1 and
 * block_size 32 — no reshape needed in the graph. The largest magnitude in a block maps to −8 exactly.
 */
export function quantizeInt4ConvBlocks(weight: Float32Array, outChannels: number, inChannels: number, roundScale: (x: number) => number = Math.fround): Int4ConvBlocks {
  if (inChannels % INT4_BLOCK !== 0) throw new Error(`int4 conv blocks need in_channels divisible by ${INT4_BLOCK} (got ${inChannels})`);
  const taps = weight.length / (outChannels * inChannels);
  const blocks = inChannels / INT4_BLOCK;
  const scales = new Float32Array(outChannels * blocks * taps);
  const q = new Int8Array(weight.length);
  for (let o = 0; o < outChannels; o++) {
    for (let b = 0; b < blocks; b++) {
      for (let t = 0; t < taps; t++) {
        // element (o, b·32 + j, t) sits at ((o·I + b·32 + j)·taps + t)
        const first = (o * inChannels + b * INT4_BLOCK) * taps + t;
        const scale = roundScale(blockExtreme(weight, first, taps) / -8);
        const inv = scale === 0 ? 0 : 1 / scale;
        scales[(o * blocks + b) * taps + t] = scale;
        for (let j = 0; j < INT4_BLOCK; j++) q[first + j * taps] = clamp(Math.round(weight[first + j * taps] * inv), -8, 7);
      }
    }
  }
  const packed = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) packed[i >> 1] |= (q[i] & 0xf) << ((i & 1) * 4);
  let dequantized: Float32Array | undefined;
  return {
    packed,
    scales,
    get dequantized() {
      if (!dequantized) {
        dequantized = new Float32Array(q.length);
        for (let i = 0; i < q.length; i++) {
          const o = Math.floor(i / (inChannels * taps));
          const c = Math.floor(i / taps) % inChannels;
          const t = i % taps;
          dequantized[i] = Math.fround(q[i] * scales[(o * blocks + Math.floor(c / INT4_BLOCK)) * taps + t]);
        }
      }
      return dequantized;
    },
  };
}

/** The signed value of largest magnitude among the INT4_BLOCK elements at start, start + stride, … (first one wins ties). */
function blockExtreme(weight: Float32Array, start: number, stride: number): number {
  let extreme = 0;
  let extremeAbs = 0;
  for (let i = 0; i < INT4_BLOCK; i++) {
    const v = weight[start + i * stride];
    const a = Math.abs(v);
    if (a > extremeAbs) {
      extreme = v;
      extremeAbs = a;
    }
  }
  return extreme;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
