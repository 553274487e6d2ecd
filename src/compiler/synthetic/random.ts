/**
 * Synthetic weight values: a fast seeded PRNG through a 65536-entry inverse-normal table, std 0.02 (norm weights
 * 1 + 0.02·z), made tensor by tensor (never the whole model in memory). Each tensor's stream is seeded from
 * (seed, name), so values do not depend on the order of writing.
 */
import { toFloat16Bits } from '../../io/float16.ts';
import type { SynthDType } from './configs.ts';
import { numel } from './record.ts';

/** Normalisation-layer gains (GroupNorm/LayerNorm `.weight`): random around 1, not 0. */
export function isNormWeight(name: string): boolean {
  const parts = name.split('.');
  // norm1/2/3, norm_in, norm, group_norm, conv_norm_out, layer_norm1/2, pre_layrnorm, post_layernorm
  return parts[parts.length - 1] === 'weight' && /norm/.test(parts[parts.length - 2] ?? '');
}

/** Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export const SYNTH_STD = 0.02;

/** 65536 normal quantiles (the 16-bit index is uniform, so the values are N(mean, std²) up to 16-bit resolution). */
function normalTable(mean: number, std: number): Float32Array {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = mean + std * normalQuantile((i + 0.5) / 65536);
  return t;
}

let tables: { f32: { w: Float32Array; norm: Float32Array }; f16: { w: Uint16Array; norm: Uint16Array } } | undefined;
function getTables() {
  if (!tables) {
    const w = normalTable(0, SYNTH_STD);
    const norm = normalTable(1, SYNTH_STD);
    tables = { f32: { w, norm }, f16: { w: toFloat16Bits(w), norm: toFloat16Bits(norm) } };
  }
  return tables;
}

/** FNV-1a of the name mixed with the seed: each tensor's own PRNG stream. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0 || 0x9e3779b9;
}

/**
 * Fills `out` (Uint16Array of f16 bits or Float32Array) from the table with xorshift32, two 16-bit draws per step.
 */
function fillRandom(out: Uint16Array | Float32Array, table: Uint16Array | Float32Array, seed: number): void {
  let s = seed >>> 0;
  const n = out.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = table[s & 0xffff];
    out[i + 1] = table[(s >>> 16) & 0xffff];
  }
  if (i < n) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = table[s & 0xffff];
  }
}

/** The synthetic value bytes of one tensor. */
export function syntheticTensor(name: string, shape: number[], dtype: SynthDType, seed: number): Uint8Array {
  const t = getTables();
  const norm = isNormWeight(name);
  const n = numel(shape);
  const out = dtype === 'f16' ? new Uint16Array(n) : new Float32Array(n);
  fillRandom(out, dtype === 'f16' ? (norm ? t.f16.norm : t.f16.w) : norm ? t.f32.norm : t.f32.w, tensorSeed(seed, name));
  return new Uint8Array(out.buffer);
}
