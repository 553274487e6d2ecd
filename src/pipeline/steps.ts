/**
 * The pipeline's steps other than the loop, each a function of its inputs (docs/svd-spec.md, "Pipeline steps";
 * the names are diffusers' StableVideoDiffusionPipeline methods). Networks come through `StepContext.open`, and
 * every network call is timed under its stage.
 */
import type { GraphName, PipelineFacts } from '../contract/manifest.ts';
import type { SvdRequest } from '../contract/fields.ts';
import type { FrameBatch, Stage } from '../contract/job.ts';
import type { GraphSession, Tensor32 } from '../runtime/types.ts';
import { randn } from '../numerics/rng.ts';
import { clipPreprocess } from '../numerics/resize.ts';
import { prepareConditioningImage, rgbaToFloatChw, type Framing } from './image.ts';

export interface StepContext {
  facts: PipelineFacts;
  /** opens a graph's session (timed as loading) */
  open(graph: GraphName): Promise<GraphSession>;
  /** times a section under a stage */
  time<T>(stage: Stage, fn: () => Promise<T>): Promise<T>;
}

/** Step 2: the CLIP image embedding [D] of the image as framed, resized to the encoder's size. */
export async function encodeImage(ctx: StepContext, framing: Framing): Promise<Float32Array> {
  const { clip } = ctx.facts;
  const input = rgbaToFloatChw(framing.source);
  const pixelValues = clipPreprocess(input.data, input.height, input.width, { size: clip.imageSize, mean: clip.mean, std: clip.std });
  const out = await withSession(await ctx.open('image_encoder'), (s) =>
    ctx.time('encode', () => s.run({ pixel_values: { data: pixelValues, dims: [1, 3, clip.imageSize, clip.imageSize] } })),
  );
  return out.image_embeds.data;
}

/**
 * Steps 3–4: the conditioning image resized to (W, H), in [−1, 1], plus cond_aug·noise, VAE-encoded to the latent
 * mean [1,C,h,w], unscaled (no scaling factor), as diffusers does.
 */
export async function encodeVaeImage(ctx: StepContext, framing: Framing, condAug: number, noise: Float32Array): Promise<Float32Array> {
  const sample = prepareConditioningImage(framing, condAug, noise);
  const out = await withSession(await ctx.open('vae_encoder'), (s) =>
    ctx.time('encode', () => s.run({ sample: { data: sample, dims: [1, 3, framing.height, framing.width] } })),
  );
  return out.latent.data;
}

/** Step 5: added_time_ids = [fps − 1, motion_bucket_id, noise_aug_strength], the same row for each batch half [batch,3]. */
export function addedTimeIds(request: Pick<SvdRequest, 'fps' | 'motion' | 'cond_aug'>, batch: number): Float32Array {
  const ids = new Float32Array(batch * 3);
  for (let b = 0; b < batch; b++) ids.set([request.fps - 1, request.motion, request.cond_aug], b * 3);
  return ids;
}

/** Step 6: initial latents = standard normal (the seed's stream 0, or the caller's draws) × init_noise_sigma. */
export function prepareLatents(seed: number, count: number, initNoiseSigma: number, draws?: Float32Array): Float32Array {
  const base = draws ?? randn(seed, count, { stream: 0 });
  const latents = new Float32Array(count);
  for (let i = 0; i < count; i++) latents[i] = base[i] * initNoiseSigma;
  return latents;
}

export interface DecodeOptions {
  /** frames per VAE call (the decoder's temporal window) */
  chunk: number;
  keepFloatFrames?: boolean;
  /** called before each chunk (rejects to cancel) */
  beforeChunk(): Promise<void>;
  /** each decoded chunk, in order */
  onChunk(batch: FrameBatch, index: number, count: number): void;
}

/**
 * Steps 9–10: latents [1,F,C,h,w] / scaling_factor, decoded chunk by chunk; frames = (x·0.5 + 0.5) clamped to
 * [0, 1], then rounded to RGBA bytes.
 */
export async function decodeLatents(ctx: StepContext, latents: Float32Array, F: number, framing: Pick<Framing, 'width' | 'height'>, o: DecodeOptions): Promise<Uint8ClampedArray[]> {
  const { latentChannels: C, vaeScaleFactor, scalingFactor } = ctx.facts;
  const { width, height } = framing;
  const h = height / vaeScaleFactor;
  const w = width / vaeScaleFactor;
  const frameLatent = C * h * w;
  const frames: Uint8ClampedArray[] = [];
  const chunks = Math.ceil(F / o.chunk);
  const decoder = await ctx.open('vae_decoder');
  try {
    for (let start = 0, k = 0; start < F; start += o.chunk, k++) {
      await o.beforeChunk();
      const n = Math.min(o.chunk, F - start);
      const chunk = new Float32Array(n * frameLatent);
      for (let i = 0; i < chunk.length; i++) chunk[i] = latents[start * frameLatent + i] / scalingFactor;
      const out = await ctx.time('decode', () => decoder.run({ latent: { data: chunk, dims: [n, C, h, w] } }));
      const batch = toFrames(out.frames, n, height, width, o.keepFloatFrames);
      frames.push(...batch.rgba);
      o.onChunk({ start, width, height, frames: batch.rgba, float: batch.float }, k, chunks);
    }
  } finally {
    await decoder.release();
  }
  return frames;
}

function toFrames(t: Tensor32, n: number, height: number, width: number, keepFloat?: boolean) {
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
