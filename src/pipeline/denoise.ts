/**
 * Step 8 of the pipeline, the denoising loop, in two forms that compute the same thing:
 * - on the CPU: UNet outputs come back each step; guidance and the Euler step run in ../numerics;
 * - on the device (WebGPU): the UNet and the weightless `denoise_step` graph hand GPU buffers to each other, so
 *   nothing is read back until the loop ends (one readback of the final latents).
 */
import type { GraphName, ModelManifest } from '../models/manifest.ts';
import type { DeviceResidency, DeviceTensor, GraphSession, Tensor32 } from '../runtime/types.ts';
import { eulerStep, eulerStepCoefficients, scaleModelInput, sqrtSigmaSqPlusOne, type EulerSchedule } from '../numerics/scheduler.ts';
import { applyGuidance } from '../numerics/guidance.ts';

export interface LatentDims {
  /** 2 with classifier-free guidance (unconditional first), else 1 */
  batch: 1 | 2;
  F: number;
  C: number;
  h: number;
  w: number;
  /** embedding size */
  D: number;
}

export interface DenoiseInput {
  schedule: EulerSchedule;
  /** initial latents [1,F,C,h,w], already multiplied by the initial sigma */
  latents: Float32Array;
  /** [1,C,h,w], unscaled; the unconditional half gets zeros */
  imageLatent: Float32Array;
  /** [batch,1,D] */
  embeds: Float32Array;
  /** [batch,3] */
  timeIds: Float32Array;
  /** per-frame guidance scales [F] */
  scales: Float32Array;
  dims: LatentDims;
  /** run the two guidance halves as two batch-1 UNet calls (less memory; CPU loop only) */
  splitGuidanceBatch?: boolean;
  /** called before each step (rejects to cancel) and after it */
  beforeStep(i: number): Promise<void>;
  afterStep(i: number): void;
}

/** Opens a session (the pipeline times it as loading). */
export type Opener<S> = (graph: GraphName) => Promise<S>;

/** The UNet's input for one step: per batch half, [latents/√(σ²+1) ‖ image latents] on the channel axis. */
function unetSample(scaled: Float32Array, imageLatents: Float32Array, d: LatentDims): Float32Array {
  const frame = d.C * d.h * d.w;
  const out = new Float32Array(d.batch * d.F * 2 * frame);
  for (let b = 0; b < d.batch; b++) {
    for (let f = 0; f < d.F; f++) {
      const row = (b * d.F + f) * 2 * frame;
      out.set(scaled.subarray(f * frame, (f + 1) * frame), row);
      out.set(imageLatents.subarray(row / 2, row / 2 + frame), row + frame);
    }
  }
  return out;
}

/** Image latents for both halves [batch,F,C,h,w]: zeros for the unconditional half, the encoded image repeated over frames otherwise. */
export function batchedImageLatents(imageLatent: Float32Array, d: LatentDims): Float32Array {
  const frame = d.C * d.h * d.w;
  const out = new Float32Array(d.batch * d.F * frame);
  for (let f = 0; f < d.F; f++) out.set(imageLatent, ((d.batch - 1) * d.F + f) * frame);
  return out;
}

export async function denoiseOnCpu(open: Opener<GraphSession>, input: DenoiseInput): Promise<Float32Array> {
  const { schedule, dims: d } = input;
  const imageLatents = batchedImageLatents(input.imageLatent, d);
  const latentSize = d.F * d.C * d.h * d.w;
  let latents = input.latents;
  const unet = await open('unet');
  try {
    for (let i = 0; i < schedule.timesteps.length; i++) {
      await input.beforeStep(i);
      const sigma = schedule.sigmas[i];
      const sample = unetSample(scaleModelInput(latents, sigma), imageLatents, d);
      const timestep = { data: Float32Array.of(schedule.timesteps[i]), dims: [1] };
      const noisePred = await runUnet(unet, sample, input.embeds, input.timeIds, timestep, d, !!input.splitGuidanceBatch);
      const guided = d.batch === 2 ? applyGuidance(noisePred.subarray(0, latentSize), noisePred.subarray(latentSize), input.scales, d.F, latentSize / d.F) : noisePred;
      latents = eulerStep(guided, sigma, schedule.sigmas[i + 1], latents);
      input.afterStep(i);
    }
  } finally {
    await unet.release();
  }
  return latents;
}

/** Whether the model ships the step graphs the device loop needs. */
export function canDenoiseOnDevice(manifest: ModelManifest, d: LatentDims): boolean {
  return Boolean(manifest.graphs[d.batch === 2 ? 'denoise_step_cfg' : 'denoise_step']);
}

export async function denoiseOnDevice(device: DeviceResidency, open: Opener<import('../runtime/types.ts').DeviceSession>, input: DenoiseInput): Promise<Float32Array> {
  const { schedule, dims: d } = input;
  const latentDims = [1, d.F, d.C, d.h, d.w];
  const imageLatentsCpu = batchedImageLatents(input.imageLatent, d);
  const owned: DeviceTensor[] = [];
  const keep = (t: DeviceTensor) => (owned.push(t), t);
  // Inputs that every step reads, uploaded once.
  const imageLatents = keep(device.upload({ data: imageLatentsCpu, dims: [d.batch, d.F, d.C, d.h, d.w] }));
  const embeds = keep(device.upload({ data: input.embeds, dims: [d.batch, 1, d.D] }));
  const timeIds = keep(device.upload({ data: input.timeIds, dims: [d.batch, 3] }));
  const guidance = d.batch === 2 ? keep(device.upload({ data: input.scales, dims: [d.F] })) : undefined;

  const unet = await open('unet');
  const step = await open(d.batch === 2 ? 'denoise_step_cfg' : 'denoise_step');
  let latents: DeviceTensor | Tensor32 = { data: input.latents, dims: latentDims };
  let sample: DeviceTensor | Tensor32 = { data: unetSample(scaleModelInput(input.latents, schedule.sigmas[0]), imageLatentsCpu, d), dims: [d.batch, d.F, 2 * d.C, d.h, d.w] };
  const release = (t: DeviceTensor | Tensor32) => 'dispose' in t && t.dispose();
  try {
    for (let i = 0; i < schedule.timesteps.length; i++) {
      await input.beforeStep(i);
      const { noise_pred } = await unet.run({
        sample,
        timestep: { data: Float32Array.of(schedule.timesteps[i]), dims: [1] },
        encoder_hidden_states: embeds,
        added_time_ids: timeIds,
      });
      const c = eulerStepCoefficients(schedule.sigmas[i], schedule.sigmas[i + 1]);
      const next = await step.run({
        latents,
        noise_pred,
        image_latents: imageLatents,
        coefs: { data: Float32Array.of(c.cOut, c.sigmaSqPlusOne, c.sigma, c.dt), dims: [4] },
        next_divisor: { data: Float32Array.of(sqrtSigmaSqPlusOne(schedule.sigmas[i + 1])), dims: [1] },
        ...(guidance ? { guidance } : {}),
      });
      noise_pred.dispose();
      release(latents);
      release(sample);
      latents = next.latents_next;
      sample = next.sample_next;
      input.afterStep(i);
    }
    return (await device.read(latents as DeviceTensor)).data;
  } finally {
    release(latents);
    release(sample);
    for (const t of owned) t.dispose();
    await unet.release();
    await step.release();
  }
}

/** Runs the UNet on the whole CFG batch, or on each half separately when memory is short. */
async function runUnet(unet: GraphSession, sample: Float32Array, embeds: Float32Array, timeIds: Float32Array, timestep: Tensor32, d: LatentDims, split: boolean): Promise<Float32Array> {
  const per = d.F * 2 * d.C * d.h * d.w;
  const run = async (b0: number, nb: number) => {
    const out = await unet.run({
      sample: { data: sample.subarray(b0 * per, (b0 + nb) * per), dims: [nb, d.F, 2 * d.C, d.h, d.w] },
      timestep,
      encoder_hidden_states: { data: embeds.subarray(b0 * d.D, (b0 + nb) * d.D), dims: [nb, 1, d.D] },
      added_time_ids: { data: timeIds.subarray(b0 * 3, (b0 + nb) * 3), dims: [nb, 3] },
    });
    return out.noise_pred.data;
  };
  if (!split || d.batch === 1) return run(0, d.batch);
  const [u, c] = [await run(0, 1), await run(1, 1)];
  const out = new Float32Array(u.length + c.length);
  out.set(u);
  out.set(c, u.length);
  return out;
}
