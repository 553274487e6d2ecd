/**
 * Per-frame classifier-free guidance, as the SVD pipeline does it:
 *   g = torch.linspace(min_guidance_scale, max_guidance_scale, num_frames)   (float32)
 *   noise = uncond + g[f] · (cond − uncond)                                    (float32, per frame f)
 * Pure TypeScript, float32 rounding mirrored with Math.fround.
 */

import { torchLinspaceF32 } from './scheduler.ts';

const f32 = Math.fround;

/** Per-frame guidance scales: torch.linspace(min, max, frames) in float32 (frame 0 gets `min`). */
export function guidanceScales(min: number, max: number, frames: number): Float32Array {
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`frames must be a positive integer, got ${frames}`);
  return torchLinspaceF32(min, max, frames);
}

/** CFG is applied only when the largest scale exceeds 1 (the pipeline's `do_classifier_free_guidance`). */
export function cfgEnabled(maxGuidanceScale: number): boolean {
  return maxGuidanceScale > 1;
}

/**
 * Combines the two CFG halves for one batch item laid out [F, frameSize] (frameSize = C·h·w):
 * out[f, i] = u + g[f]·(c − u), each operation rounded to float32 like torch. `out` may alias `uncond`.
 */
export function applyGuidance(
  uncond: Float32Array,
  cond: Float32Array,
  scales: ArrayLike<number>,
  frames: number,
  frameSize: number,
  out: Float32Array = new Float32Array(frames * frameSize),
): Float32Array {
  const n = frames * frameSize;
  if (uncond.length < n || cond.length < n || out.length < n) {
    throw new RangeError(`applyGuidance: need ${frames}x${frameSize} values (uncond ${uncond.length}, cond ${cond.length}, out ${out.length})`);
  }
  if (scales.length !== frames) throw new RangeError(`applyGuidance: ${scales.length} scales for ${frames} frames`);
  for (let f = 0; f < frames; f++) {
    const g = f32(scales[f]);
    const base = f * frameSize;
    for (let i = base; i < base + frameSize; i++) {
      const u = uncond[i];
      out[i] = f32(u + f32(g * f32(cond[i] - u)));
    }
  }
  return out;
}
