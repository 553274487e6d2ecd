/**
 * Seeded standard-normal noise that is identical on every platform (browser worker, Node, any CPU/GPU).
 *
 * Generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the
 * generator behind Random123, cuRAND and JAX). It is counter-based: block `i` of stream `s` for key `seed` is a
 * pure function, so any slice of the noise can be produced without generating what precedes it, and only
 * exact 32-bit integer arithmetic is involved (Math.imul plus 16-bit limbs for the high product word).
 *
 * Normals: Box–Muller in float64 from two 53-bit uniforms, then rounded to float32. Each Philox block (4 words)
 * gives one pair. Math.log/sqrt/cos/sin are float64 and V8/SpiderMonkey/JSC use fdlibm-derived code, so the
 * float32 results agree across engines (a differing last bit of a float64 almost never survives the cast).
 *
 * These numbers cannot match torch's generator (see svd-spec "Known numeric traps"); parity tests pass latents
 * explicitly.
 */


const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the unsigned 64-bit product a·b (a, b unsigned 32-bit), exactly, via 16-bit limbs. */
function mulhi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * One Philox4x32-10 block: counter (c0..c3) and key (k0, k1), all unsigned 32-bit. Writes 4 words to `out`.
 * Exported for the known-answer test against the Random123 reference vectors.
 */
export function philox4x32_10(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): Uint32Array {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + PHILOX_W0) >>> 0;
      key1 = (key1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, x0);
    const lo0 = Math.imul(PHILOX_M0, x0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, x2);
    const lo1 = Math.imul(PHILOX_M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  return out;
}

/** Splits a seed (non-negative integer below 2^64) into the two 32-bit Philox key words. */
export function seedToKey(seed: number | bigint): [lo: number, hi: number] {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed >= 1n << 64n) throw new RangeError(`seed must be in [0, 2^64), got ${seed}`);
    return [Number(seed & 0xffffffffn), Number(seed >> 32n)];
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer (use a bigint above 2^53), got ${seed}`);
  }
  return [seed % 0x100000000, Math.floor(seed / 0x100000000)];
}

export interface RandnOptions {
  /**
   * Independent stream number (0 … 2^32−1), e.g. 0 for the initial latents and 1 for the conditioning-image
   * noise, so drawing one never shifts the other.
   */
  stream?: number;
  /** Index of the first normal to produce (must be even): lets a caller generate noise in slices. */
  offset?: number;
  out?: Float32Array;
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/**
 * `count` standard-normal float32 values for `seed`. Normal 2i and 2i+1 come from Philox block i
 * (counter = [i_lo, i_hi, stream, 0]):
 *   u1 = (53 bits of words 0,1 + 1)/2^53 ∈ (0, 1],  u2 = (53 bits of words 2,3)/2^53 ∈ [0, 1)
 *   z0 = √(−2 ln u1)·cos(2π u2),  z1 = √(−2 ln u1)·sin(2π u2)
 */
export function randn(seed: number | bigint, count: number, opts: RandnOptions = {}): Float32Array {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  const stream = opts.stream ?? 0;
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) throw new RangeError(`stream must be a 32-bit unsigned integer, got ${stream}`);
  const offset = opts.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 2 !== 0) throw new RangeError(`offset must be a non-negative even integer, got ${offset}`);
  const out = opts.out ?? new Float32Array(count);
  if (out.length < count) throw new RangeError(`out has ${out.length} elements, need ${count}`);
  const [k0, k1] = seedToKey(seed);
  const words = new Uint32Array(4);
  let block = offset / 2;
  for (let i = 0; i < count; i += 2, block++) {
    philox4x32_10(block % 0x100000000, Math.floor(block / 0x100000000), stream, 0, k0, k1, words);
    const u1 = ((words[0] >>> 5) * TWO_POW_26 + (words[1] >>> 6) + 1) / TWO_POW_53;
    const u2 = ((words[2] >>> 5) * TWO_POW_26 + (words[3] >>> 6)) / TWO_POW_53;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}
