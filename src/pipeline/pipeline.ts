/**
 * Stable Video Diffusion, image → frames. The steps follow diffusers' StableVideoDiffusionPipeline.__call__
 * (see docs/svd-spec.md, "Pipeline steps"); each numbered comment is the step of the spec it implements.
 * No DOM and no ORT here: sessions come from a ModelRuntime, numerics from ../numerics.
 */
import type { ModelManifest } from '../contract/manifest.ts';
import type { GraphSession, ModelRuntime, Tensor32 } from '../runtime/types.ts';
import type { ImageInput, SvdRequest } from '../contract/request.ts';
import { eulerKarrasSchedule } from '../numerics/scheduler.ts';
import { guidanceScales } from '../numerics/guidance.ts';
import { canDenoiseOnDevice, denoiseOnCpu, denoiseOnDevice, type DenoiseInput, type LatentDims } from './denoise.ts';
import { randn } from '../numerics/rng.ts';
import { resolveSeed } from '../contract/seed.ts';
import { clipPreprocess } from '../numerics/resize.ts';
import { planFraming, prepareConditioningImage, rgbaToFloatChw, type Framing } from './image.ts';

export type Stage = 'load' | 'encode' | 'denoise' | 'decode';

export interface Progress {
  stage: Stage;
  /** steps done in this stage */
  step: number;
  total: number;
  /** seconds left for the whole generation, when it can be estimated */
  etaSeconds?: number;
}

/** One decoded chunk of frames, in display order. */
export interface FrameBatch {
  /** index of the first frame of this batch */
  start: number;
  width: number;
  height: number;
  /** RGBA bytes, one array per frame */
  frames: Uint8ClampedArray[];
  /** the same frames as float32 [n,3,H,W] in [0,1] (clamped, before rounding), for parity checks */
  float?: Float32Array;
}

export interface GenerateOptions {
  /** standard-normal draws [1,F,C,h,w] used instead of the seeded noise (scaled by the initial sigma, like diffusers' `latents=`) */
  latents?: Float32Array;
  /** run the two classifier-free-guidance halves as two batch-1 UNet calls (less memory) */
  splitGuidanceBatch?: boolean;
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
  const C = facts.latentChannels;
  const h = height / facts.vaeScaleFactor;
  const w = width / facts.vaeScaleFactor;
  const latentSize = F * C * h * w;
  if (options.latents && options.latents.length !== latentSize) {
    throw new PipelineInputError(`latents hold ${options.latents.length} values; [1,${F},${C},${h},${w}] needs ${latentSize}`);
  }
  const seed = resolveSeed(request.seed);
  const timings: Record<Stage, number> = { load: 0, encode: 0, denoise: 0, decode: 0 };
  const ortCall: Record<Stage, number> = { load: 0, encode: 0, denoise: 0, decode: 0 };
  const eta = new EtaEstimator(request.steps, Math.ceil(F / request.decode_chunk));
  const report = (p: Progress) => options.onProgress?.({ ...p, etaSeconds: eta.secondsLeft(p) });
  // A macrotask yield before each check: ORT runs can resolve without ever returning to the event loop, and then a
  // worker would not see the cancel message until the whole job was over.
  const checkCancel = async () => {
    await yieldToEventLoop();
    if (options.signal?.aborted) throw new CancelledError();
  };
  // Wall time and time inside ORT run() per stage; a timed call inside another (a session opened during the loop)
  // counts only for its own stage.
  let nested = { wall: 0, call: 0 };
  const timed = async <T>(stage: Stage, fn: () => Promise<T>): Promise<T> => {
    const start = { wall: now(), call: runtime.stats.callMs };
    const outer = nested;
    nested = { wall: 0, call: 0 };
    try {
      return await fn();
    } finally {
      const total = { wall: now() - start.wall, call: runtime.stats.callMs - start.call };
      timings[stage] += total.wall - nested.wall;
      ortCall[stage] += total.call - nested.call;
      nested = { wall: outer.wall + total.wall, call: outer.call + total.call };
    }
  };
  const open = (name: Parameters<ModelRuntime['open']>[0]) => timed('load', () => runtime.open(name));

  // 1. Classifier-free guidance is on when the largest guidance scale is above 1.
  const cfg = request.max_guidance > 1;
  const batch = cfg ? 2 : 1;
  // Two independent streams of one seed: 0 for the initial latents, 1 for the noise augmentation, so neither
  // depends on the other's size. (torch's generator cannot be matched; parity tests pass latents explicitly.)
  const augNoise = randn(seed, 3 * height * width, { stream: 1 });

  report({ stage: 'encode', step: 0, total: 2 });
  // 2. CLIP image embedding from the image as framed (the original unless cropped), resized to the encoder's size.
  const clipInput = rgbaToFloatChw(framing.source);
  const pixelValues = clipPreprocess(clipInput.data, clipInput.height, clipInput.width, { size: facts.clip.imageSize, mean: facts.clip.mean, std: facts.clip.std });
  const embedding = await withSession(await open('image_encoder'), (s) =>
    timed('encode', () => s.run({ pixel_values: { data: pixelValues, dims: [1, 3, facts.clip.imageSize, facts.clip.imageSize] } })),
  );
  const D = facts.embeddingDim;
  const embeds = cfg ? concat(new Float32Array(D), embedding.image_embeds.data) : embedding.image_embeds.data; // unconditional first
  await checkCancel();
  report({ stage: 'encode', step: 1, total: 2 });

  // 3.–4. Conditioning image: resized to (W, H), in [-1, 1], plus cond_aug·noise, VAE-encoded to the latent mean.
  const vaeInput = prepareConditioningImage(framing, request.cond_aug, augNoise);
  const encoded = await withSession(await open('vae_encoder'), (s) =>
    timed('encode', () => s.run({ sample: { data: vaeInput, dims: [1, 3, height, width] } })),
  );
  const imageLatent = encoded.latent.data; // [1,C,h,w], unscaled (no 0.18215), as diffusers does
  await checkCancel();
  report({ stage: 'encode', step: 2, total: 2 });

  // 5. added_time_ids = [fps − 1, motion_bucket_id, noise_aug_strength], the same row for both halves.
  const timeIds = new Float32Array(batch * 3);
  for (let b = 0; b < batch; b++) timeIds.set([request.fps - 1, request.motion, request.cond_aug], b * 3);

  // 6. Initial latents: standard normal × init_noise_sigma.
  const schedule = eulerKarrasSchedule(request.steps, manifest.scheduler);
  const base = options.latents ?? randn(seed, latentSize, { stream: 0 });
  let latents: Float32Array = new Float32Array(latentSize);
  for (let i = 0; i < latentSize; i++) latents[i] = base[i] * schedule.initNoiseSigma;

  // 7. Per-frame guidance scales: linspace(min, max, F).
  const scales = guidanceScales(request.min_guidance, request.max_guidance, F);

  // 8. Denoising loop: per step, [latents/√(σ²+1) ‖ image latents] for both halves → UNet → per-frame guidance →
  //    Euler step. On WebGPU the loop stays in GPU buffers (./denoise.ts); elsewhere it runs on the CPU.
  const dims: LatentDims = { batch, F, C, h, w, D };
  const loop: DenoiseInput = {
    schedule,
    latents,
    imageLatent,
    embeds,
    timeIds,
    scales,
    dims,
    splitGuidanceBatch: options.splitGuidanceBatch,
    beforeStep: checkCancel,
    afterStep: (i) => report({ stage: 'denoise', step: i + 1, total: schedule.timesteps.length }),
  };
  let device = runtime.resident && !options.splitGuidanceBatch && canDenoiseOnDevice(manifest, dims) ? runtime.resident : undefined;
  const readbacksBefore = device?.readbacks ?? 0;
  let graphCapture: GenerateResult['graphCapture'] = { on: false, reason: device ? 'not asked for' : 'the loop runs on the CPU' };
  try {
    latents = await timed('denoise', async () => {
      if (!device) return denoiseOnCpu(open, loop);
      const onDevice = await denoiseOnDevice(device, (g, o) => timed('load', () => device!.open(g, o)), { ...loop, capture: options.graphCapture ?? true });
      graphCapture = onDevice.capture;
      return onDevice.latents;
    });
  } catch (e) {
    // Out of memory with the guidance batch of 2: start the loop again with the two halves as separate UNet calls.
    if (batch === 1 || loop.splitGuidanceBatch || !isOutOfMemory(e)) throw e;
    device = undefined;
    loop.splitGuidanceBatch = true;
    graphCapture = { on: false, reason: 'out of memory with the guidance batch of 2: the loop ran again as batch-1 calls on the CPU side' };
    latents = await timed('denoise', () => denoiseOnCpu(open, loop));
  }
  // the CPU loop reads every UNet output back: one per step, two when the guidance halves run apart
  const readbacks = { denoise: device ? device.readbacks - readbacksBefore : schedule.timesteps.length * (loop.splitGuidanceBatch && batch === 2 ? 2 : 1) };
  const frameLatent = C * h * w;

  // 9. Decode latents / scaling_factor in chunks; each chunk is one temporal window of the decoder.
  const frames: Uint8ClampedArray[] = [];
  const chunks = Math.ceil(F / request.decode_chunk);
  const decoder = await open('vae_decoder');
  try {
    for (let start = 0, k = 0; start < F; start += request.decode_chunk, k++) {
      await checkCancel();
      const n = Math.min(request.decode_chunk, F - start);
      const chunk = new Float32Array(n * frameLatent);
      for (let i = 0; i < chunk.length; i++) chunk[i] = latents[start * frameLatent + i] / facts.scalingFactor;
      const out = await timed('decode', () => decoder.run({ latent: { data: chunk, dims: [n, C, h, w] } }));
      // 10. Frames: (x·0.5 + 0.5) clamped to [0, 1], then rounded to bytes.
      const batchFrames = postprocess(out.frames, n, height, width, options.keepFloatFrames);
      frames.push(...batchFrames.rgba);
      options.onFrames?.({ start, width, height, frames: batchFrames.rgba, float: batchFrames.float });
      report({ stage: 'decode', step: k + 1, total: chunks });
    }
  } finally {
    await decoder.release();
  }
  return { seed, width, height, fps: request.fps, frames, framing, timings, ortCall, readbacks, loop: device ? 'device' : 'cpu', graphCapture };
}

function postprocess(t: Tensor32, n: number, height: number, width: number, keepFloat?: boolean) {
  const plane = height * width;
  const rgba: Uint8ClampedArray[] = [];
  const float = keepFloat ? new Float32Array(n * 3 * plane) : undefined;
  for (let f = 0; f < n; f++) {
    const frame = new Uint8ClampedArray(plane * 4);
    for (let c = 0; c < 3; c++) {
      const src = (f * 3 + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = Math.min(1, Math.max(0, t.data[src + p] * 0.5 + 0.5));
        if (float) float[src + p] = v;
        frame[p * 4 + c] = Math.round(v * 255);
      }
    }
    for (let p = 0; p < plane; p++) frame[p * 4 + 3] = 255;
    rgba.push(frame);
  }
  return { rgba, float };
}

async function withSession<T>(session: GraphSession, fn: (s: GraphSession) => Promise<T>): Promise<T> {
  try {
    return await fn(session);
  } finally {
    await session.release();
  }
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Allocation failures as onnxruntime (CPU, wasm, WebGPU) reports them. */
export function isOutOfMemory(e: unknown): boolean {
  return /out of memory|bad_alloc|failed to allocate|allocation failed|OOM\b/i.test(String((e as Error)?.message ?? e));
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** ETA from measured step times: denoise steps dominate; decode chunks are estimated once one is seen. */
class EtaEstimator {
  private readonly start = now();
  private stepStart = 0;
  private stepMs = 0;
  private chunkMs = 0;
  private chunkStart = 0;

  constructor(private readonly steps: number, private readonly chunks: number) {}

  secondsLeft(p: Progress): number | undefined {
    const t = now();
    if (p.stage === 'denoise') {
      if (p.step === 1) this.stepStart = t - (t - this.start) / 2; // first step includes warm-up; don't trust it fully
      this.stepMs = p.step > 1 ? (t - this.stepStart) / (p.step - 1) : t - this.start;
      this.chunkStart = t;
      // decode is about one UNet step per chunk until measured
      return ((this.steps - p.step) * this.stepMs + this.chunks * this.stepMs) / 1000;
    }
    if (p.stage === 'decode') {
      this.chunkMs = (t - this.chunkStart) / Math.max(1, p.step);
      return ((this.chunks - p.step) * this.chunkMs) / 1000;
    }
    return undefined;
  }
}
