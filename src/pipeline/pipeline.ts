/**
 * Stable Video Diffusion, image → frames. `generateFrames` is diffusers' StableVideoDiffusionPipeline.__call__:
 * each numbered comment is the step of docs/svd-spec.md ("Pipeline steps") it implements, and each step is a
 * function of ./steps.ts or ./denoise.ts. No DOM and no ORT here: sessions come from a ModelRuntime, numerics
 * from ../numerics, the model's facts from its manifest.
 */
import type { ModelManifest } from '../contract/manifest.ts';
import type { ImageInput, SvdRequest } from '../contract/fields.ts';
import type { FrameBatch, Progress, Stage } from '../contract/job.ts';
import { resolveSeed } from '../contract/seed.ts';
import type { ModelRuntime } from '../runtime/types.ts';
import { guidanceScales } from '../numerics/guidance.ts';
import { plannedDenoiseWork, usesGuidance } from '../contract/work.ts';
import type { DenoiseWork } from '../contract/job.ts';
import { samplerFor } from './sampler.ts';
import { randn } from '../numerics/rng.ts';
import { denoise, type LatentDims } from './denoise.ts';
import { planFraming, type Framing } from './image.ts';
import { addedTimeIds, decodeLatents, encodeImage, encodeVaeImage, prepareLatents, type StepContext } from './steps.ts';
import { StageTimer } from './stage-timer.ts';
import { EtaEstimator } from './eta.ts';

export { isOutOfMemory } from './denoise.ts';

export interface GenerateOptions {
  /** standard-normal draws [1,F,C,h,w] used instead of the seeded noise (scaled by the initial sigma, like diffusers' `latents=`) */
  latents?: Float32Array;
  /** run the two classifier-free-guidance halves as two batch-1 UNet calls (less memory) */
  splitGuidanceBatch?: boolean;
  /**
   * run the guidance batch of 2 even when guidance is off (max guidance ≤ 1), as the reference's arithmetic would
   * with its check removed: only to show that skipping the unconditional half changes nothing (tests, bench)
   */
  forceGuidanceBatch?: boolean;
  /** seconds a denoising step is expected to take here, so the ETA is shown from the first step */
  expectedStepSeconds?: number;
  /** on the device loop, capture the UNet's GPU commands once and replay them (default: on) */
  graphCapture?: boolean;
  /** keep float frames in FrameBatch.float */
  keepFloatFrames?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  onFrames?: (batch: FrameBatch) => void;
}

export interface GenerateResult {
  seed: number;
  width: number;
  height: number;
  fps: number;
  frames: Uint8ClampedArray[];
  framing: Framing;
  timings: Record<Stage, number>;
  /** milliseconds inside ORT run() calls per stage (the runtime's clock; on WebGPU run() returns once work is queued) */
  ortCall: Record<Stage, number>;
  /** device → CPU copies during the denoising loop (the CPU loop reads every UNet output back) */
  readbacks: { denoise: number };
  /** the loop's work: sampler, steps, UNet calls made and their FLOPs */
  work: DenoiseWork;
  loop: 'device' | 'cpu';
  /** whether the device loop replayed captured UNet commands, and why not */
  graphCapture: { on: boolean; reason?: string };
}

export class CancelledError extends Error {
  constructor() {
    super('generation cancelled');
    this.name = 'CancelledError';
  }
}

export class PipelineInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineInputError';
  }
}

export async function generateFrames(
  runtime: ModelRuntime,
  manifest: ModelManifest,
  image: ImageInput,
  request: SvdRequest,
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  const facts = manifest.pipeline;
  const framing = planFraming(image, request, manifest);
  const { width, height } = framing;
  const F = request.frames;
  const dims0 = { F, C: facts.latentChannels, h: height / facts.vaeScaleFactor, w: width / facts.vaeScaleFactor, D: facts.embeddingDim };
  const latentSize = F * dims0.C * dims0.h * dims0.w;
  if (options.latents && options.latents.length !== latentSize) {
    throw new PipelineInputError(`latents hold ${options.latents.length} values; [1,${F},${dims0.C},${dims0.h},${dims0.w}] needs ${latentSize}`);
  }
  const seed = resolveSeed(request.seed);
  const timer = new StageTimer(runtime.stats);
  const ctx: StepContext = { facts, open: (graph) => timer.time('load', () => runtime.open(graph)), time: (stage, fn) => timer.time(stage, fn) };
  const eta = new EtaEstimator(request.steps, Math.ceil(F / request.decode_chunk), options.expectedStepSeconds);
  const report = (p: Progress) => options.onProgress?.({ ...p, etaSeconds: eta.secondsLeft(p) });
  const checkCancel = async () => {
    // A macrotask yield first: ORT runs can resolve without returning to the event loop, and a worker would
    // then not see the cancel message until the whole job was over.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (options.signal?.aborted) throw new CancelledError();
  };

  // 1. Classifier-free guidance is on when the largest guidance scale is above 1 (batch of 2, unconditional first);
  //    at guidance 1 (the fast model's default) the unconditional half is never computed: one batch-1 UNet call a step.
  const cfg = usesGuidance(request) || !!options.forceGuidanceBatch;
  const batch = cfg ? 2 : 1;
  report({ stage: 'encode', step: 0, total: 2 });

  // 2. CLIP image embedding; the unconditional half gets zeros.
  const embedding = await encodeImage(ctx, framing);
  const embeds = cfg ? concat(new Float32Array(dims0.D), embedding) : embedding;
  await checkCancel();
  report({ stage: 'encode', step: 1, total: 2 });

  // 3.–4. VAE latent of the noise-augmented conditioning image. The noise is the seed's stream 1, so it does
  //       not depend on the latents' size. (torch's generator cannot be matched; parity tests pass latents.)
  const augNoise = randn(seed, 3 * height * width, { stream: 1 });
  const imageLatent = await encodeVaeImage(ctx, framing, request.cond_aug, augNoise);
  await checkCancel();
  report({ stage: 'encode', step: 2, total: 2 });

  // 5. added_time_ids.
  const timeIds = addedTimeIds(request, batch);

  // 6. Initial latents × init_noise_sigma, on the model's sampler's schedule (Euler/Karras, or AnimateLCM's).
  const sampler = samplerFor(manifest, request.steps, seed, latentSize);
  const initialLatents = prepareLatents(seed, latentSize, sampler.initNoiseSigma, options.latents);

  // 7. Per-frame guidance scales: linspace(min, max, F).
  const scales = guidanceScales(request.min_guidance, request.max_guidance, F);

  // 8. Denoising loop: on the device when the model has the step graphs (WebGPU), else on the CPU.
  const dims: LatentDims = { batch, ...dims0 };
  const loop = await timer.time('denoise', () => denoise(runtime, manifest, {
    sampler, latents: initialLatents, imageLatent, embeds, timeIds, scales, dims,
    splitGuidanceBatch: options.splitGuidanceBatch,
    capture: options.graphCapture ?? true,
    beforeStep: checkCancel,
    afterStep: (i) => report({ stage: 'denoise', step: i + 1, total: sampler.timesteps.length }),
  }, (graph, o) => timer.time('load', () => runtime.resident!.open(graph, o)), ctx.open));

  // 9.–10. Decode in chunks to RGBA frames.
  const frames = await decodeLatents(ctx, loop.latents, F, framing, {
    chunk: request.decode_chunk,
    keepFloatFrames: options.keepFloatFrames,
    beforeChunk: checkCancel,
    onChunk: (b, k, count) => {
      options.onFrames?.(b);
      report({ stage: 'decode', step: k + 1, total: count });
    },
  });
  return {
    seed, width, height, fps: request.fps, frames, framing,
    timings: timer.wall, ortCall: timer.ortCall, readbacks: loop.readbacks, loop: loop.where, graphCapture: loop.graphCapture,
    work: { ...plannedDenoiseWork(manifest, request, framing, { batch }), unetCalls: loop.unetCalls },
  };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
