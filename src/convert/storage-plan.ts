/**
 * How much storage an in-tab conversion needs, before it starts. The components convert one at a time (image encoder,
 * VAE, UNet) while the next one downloads, and each staged source is deleted as soon as its graphs are written, so the
 * peak is the largest "outputs so far + this component's source and output + the next one's source", not "all
 * sources + all outputs".
 * Output sizes are estimates (the ratio of converted to fp16 bytes measured on SVD-XT), with a margin. Pure.
 */
import type { Precision } from '../contract/manifest.ts';
import type { CheckpointComponent } from '../compiler/convert.ts';

/** Converted bytes per byte of fp16 weights, measured on SVD-XT's 4.51 GB: q4f16 1.592 GB, q4f32 1.684 GB (fp32 scales and norms). */
const OUTPUT_PER_FP16_BYTE: Record<Precision, number> = { q4f16: 0.353, q4f32: 0.374, fp16: 1.0, fp32: 2.0 };
/** Estimates for the quota check err up, by this much (other checkpoints quantize a little differently). */
export const MARGIN = 1.1;

export const CONVERSION_ORDER: readonly CheckpointComponent[] = ['image_encoder', 'vae', 'unet'];

export interface ComponentSource {
  bytes: number;
  /** bytes per element of the stored weights */
  storage: 'fp16' | 'fp32';
}

export interface StoragePlan {
  /** the most bytes held at once (staged sources + outputs) */
  peakBytes: number;
  /** the finished model's estimated size */
  outputBytes: number;
  /** bytes to download */
  downloadBytes: number;
  perComponent: Record<CheckpointComponent, { sourceBytes: number; outputBytes: number }>;
}

export function estimateOutputBytes(source: ComponentSource, precision: Precision, margin = MARGIN): number {
  const fp16Bytes = source.storage === 'fp16' ? source.bytes : source.bytes / 2;
  return Math.ceil(fp16Bytes * OUTPUT_PER_FP16_BYTE[precision] * margin);
}

export function planStorage(sources: Record<CheckpointComponent, ComponentSource>, precision: Precision, smallFilesBytes = 0): StoragePlan {
  let outputs = 0;
  let peak = 0;
  const perComponent = {} as StoragePlan['perComponent'];
  for (const [i, c] of CONVERSION_ORDER.entries()) {
    const out = estimateOutputBytes(sources[c], precision);
    const next = CONVERSION_ORDER[i + 1];
    perComponent[c] = { sourceBytes: sources[c].bytes, outputBytes: out };
    peak = Math.max(peak, outputs + sources[c].bytes + out + (next ? sources[next].bytes : 0));
    outputs += out;
  }
  const downloadBytes = CONVERSION_ORDER.reduce((a, c) => a + sources[c].bytes, 0) + smallFilesBytes;
  return { peakBytes: peak + smallFilesBytes, outputBytes: outputs, downloadBytes, perComponent };
}
