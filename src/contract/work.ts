/**
 * How much work a request is on a model, before it runs: UNet calls and their FLOPs (from the model's fitted work,
 * manifest.work), so the app can say "4 steps × 1 call, 12 TFLOP" next to Generate and turn a measured
 * seconds-per-TFLOP into a time estimate. The pipeline reports the same numbers for what it ran.
 */
import type { ModelManifest } from './manifest.ts';
import { unetCallFlops } from './manifest.ts';
import type { SvdRequest } from './fields.ts';
import type { DenoiseWork } from './job.ts';

/** Classifier-free guidance runs when the largest guidance scale is above 1 (the UNet then sees a batch of 2). */
export function usesGuidance(request: Pick<SvdRequest, 'max_guidance'>): boolean {
  return request.max_guidance > 1;
}

/**
 * The denoising loop's work for `request` at the framed output size (width × height pixels). With guidance the
 * batch of 2 runs as one call per step, or as two calls of batch 1 when `splitGuidanceBatch` (the same FLOPs).
 * `batch` overrides the request's (the pipeline's forced guidance batch).
 */
export function plannedDenoiseWork(
  manifest: Pick<ModelManifest, 'sampler' | 'work' | 'pipeline'>,
  request: Pick<SvdRequest, 'steps' | 'frames' | 'max_guidance'>,
  size: { width: number; height: number },
  options: { splitGuidanceBatch?: boolean; batch?: 1 | 2 } = {},
): DenoiseWork {
  const batch = options.batch ?? (usesGuidance(request) ? 2 : 1);
  const splitGuidanceBatch = !!options.splitGuidanceBatch;
  const callsPerStep = batch === 2 && splitGuidanceBatch ? 2 : 1;
  const f = manifest.pipeline.vaeScaleFactor;
  const flopsPerStep = manifest.work ? unetCallFlops(manifest.work, batch, request.frames, size.height / f, size.width / f) : undefined;
  return {
    sampler: manifest.sampler ?? 'euler',
    steps: request.steps,
    unetCalls: request.steps * callsPerStep,
    batch,
    ...(flopsPerStep !== undefined ? { flops: flopsPerStep * request.steps } : {}),
  };
}
