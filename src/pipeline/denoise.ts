/**
 * Step 8 of the pipeline, the denoising loop, in two forms that compute the same thing:
 * - on the CPU: UNet outputs come back each step; guidance and the sampler's step run in ../numerics;
 * - on the device (WebGPU): the UNet and the sampler's weightless step graph (`denoise_step` for Euler,
 *   `consistency_step` for AnimateLCM) hand GPU buffers to each other, so nothing is read back until the loop ends
 *   (one readback of the final latents).
 * The sampler (./sampler.ts) is the model's: Euler for SVD, the consistency sampler for fast models.
 */
import type { GraphName, ModelManifest } from '../contract/manifest.ts';
import type { ModelRuntime } from '../runtime/types.ts';
import type { DeviceResidency, DeviceSession, DeviceSessionOptions, DeviceTensor, GraphSession, Tensor32 } from '../runtime/types.ts';
import { applyGuidance } from '../numerics/guidance.ts';
import type { LoopSampler } from './sampler.ts';

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
  sampler: LoopSampler;
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
  /** device loop: record the UNet's GPU commands at the first step and replay them at the others */
  capture?: boolean;
  /** called before each step (rejects to cancel) and after it */
  beforeStep(i: number): Promise<void>;
  afterStep(i: number): void;
}

/** Opens a session (the pipeline times it as loading). */
export type Opener<S> = (graph: GraphName) => Promise<S>;
export type DeviceOpener = (graph: GraphName, options: DeviceSessionOptions) => Promise<DeviceSession>;

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
  const { sampler, dims: d } = input;
  const imageLatents = batchedImageLatents(input.imageLatent, d);
  const latentSize = d.F * d.C * d.h * d.w;
  let latents = input.latents;
  const unet = await open('unet');
  try {
    for (let i = 0; i < sampler.timesteps.length; i++) {
      await input.beforeStep(i);
      const sample = unetSample(sampler.scaleInput(latents, i), imageLatents, d);
      const timestep = { data: Float32Array.of(sampler.timesteps[i]), dims: [1] };
      const noisePred = await runUnet(unet, sample, input.embeds, input.timeIds, timestep, d, !!input.splitGuidanceBatch);
      const guided = d.batch === 2 ? applyGuidance(noisePred.subarray(0, latentSize), noisePred.subarray(latentSize), input.scales, d.F, latentSize / d.F) : noisePred;
      latents = sampler.step(guided, i, latents);
      input.afterStep(i);
    }
  } finally {
    await unet.release();
  }
  return latents;
}

/** What the loop did: the final latents, where it ran, its readbacks and whether it replayed captured commands. */
export interface LoopReport {
  latents: Float32Array;
  where: 'device' | 'cpu';
  /** UNet runs the loop made (one per step; two with split guidance halves) */
  unetCalls: number;
  readbacks: { denoise: number };
  graphCapture: { on: boolean; reason?: string };
}

/**
 * Step 8, choosing where it runs: on the device when the runtime keeps tensors there and the model ships the
 * step graphs (and the halves are not split), else on the CPU. Out of memory with the guidance batch of 2: the
 * loop starts again with the two halves as separate UNet calls.
 */
export async function denoise(runtime: ModelRuntime, manifest: ModelManifest, input: DenoiseInput, openOnDevice: DeviceOpener, open: Opener<GraphSession>): Promise<LoopReport> {
  const d = input.dims;
  const steps = input.sampler.timesteps.length;
  const device = runtime.resident && !input.splitGuidanceBatch && canDenoiseOnDevice(manifest, input.sampler, d) ? runtime.resident : undefined;
  // one UNet run per step (the guidance batch of 2 in one run), two with split halves; on the CPU each output is read back
  const calls = (split: boolean) => steps * (split && d.batch === 2 ? 2 : 1);
  try {
    if (!device) {
      const split = !!input.splitGuidanceBatch;
      return { latents: await denoiseOnCpu(open, input), where: 'cpu', unetCalls: calls(split), readbacks: { denoise: calls(split) }, graphCapture: { on: false, reason: 'the loop runs on the CPU' } };
    }
    const before = device.readbacks;
    const onDevice = await denoiseOnDevice(device, openOnDevice, input);
    return { latents: onDevice.latents, where: 'device', unetCalls: calls(false), readbacks: { denoise: device.readbacks - before }, graphCapture: onDevice.capture };
  } catch (e) {
    if (d.batch === 1 || input.splitGuidanceBatch || !isOutOfMemory(e)) throw e;
    const latents = await denoiseOnCpu(open, { ...input, splitGuidanceBatch: true });
    return {
      latents, where: 'cpu', unetCalls: calls(true), readbacks: { denoise: calls(true) },
      graphCapture: { on: false, reason: 'out of memory with the guidance batch of 2: the loop ran again as batch-1 calls on the CPU side' },
    };
  }
}

/** Allocation failures as onnxruntime (CPU, wasm, WebGPU) reports them. */
export function isOutOfMemory(e: unknown): boolean {
  return /out of memory|bad_alloc|failed to allocate|allocation failed|OOM\b/i.test(String((e as Error)?.message ?? e));
}

/** Whether the model ships the step graph the device loop needs for this sampler and batch. */
export function canDenoiseOnDevice(manifest: ModelManifest, sampler: Pick<LoopSampler, 'stepGraphs'>, d: LatentDims): boolean {
  return Boolean(manifest.graphs[sampler.stepGraphs[d.batch - 1]]);
}

/** What the device loop did beyond its result. */
export interface DeviceLoopReport {
  latents: Float32Array;
  /** whether the UNet's runs replayed captured GPU commands, and why not */
  capture: DeviceSession['capture'];
}

/**
 * The loop on the device. Every buffer is allocated once, before the first step: the UNet reads `sample` and
 * `timestep` and writes `noise_pred`; the step graph reads those and writes the next latents (two buffers, used in
 * turn) and the next `sample`. With `capture`, the UNet's GPU commands are recorded at the first step and replayed
 * at the others (the runtime keeps the buffers they were recorded on). Per step the CPU only writes the timestep
 * (4 bytes) and passes the step's four scheduler coefficients; nothing comes back until the final latents.
 *
 * One step is kept in flight: step i is queued before the loop waits for the device to finish step i − 1, so the
 * GPU never idles while the CPU queues the next step, and each step is reported when the device has really done
 * it (progress, ETA and cancel follow the GPU, not the queue).
 */
export async function denoiseOnDevice(device: DeviceResidency, open: DeviceOpener, input: DenoiseInput): Promise<DeviceLoopReport> {
  const { sampler, dims: d } = input;
  const latentDims = [1, d.F, d.C, d.h, d.w];
  const batchDims = [d.batch, d.F, d.C, d.h, d.w];
  const sampleDims = [d.batch, d.F, 2 * d.C, d.h, d.w];
  const imageLatentsCpu = batchedImageLatents(input.imageLatent, d);
  const owned: DeviceTensor[] = [];
  const keep = (t: DeviceTensor) => (owned.push(t), t);
  let inFlight: Promise<void> | undefined; // the device finishing the step queued last
  let unet: DeviceSession | undefined;
  let step: DeviceSession | undefined;
  try {
    // Inputs that every step reads, uploaded once.
    const imageLatents = keep(device.upload({ data: imageLatentsCpu, dims: batchDims }));
    const embeds = keep(device.upload({ data: input.embeds, dims: [d.batch, 1, d.D] }));
    const timeIds = keep(device.upload({ data: input.timeIds, dims: [d.batch, 3] }));
    const guidance = d.batch === 2 ? keep(device.upload({ data: input.scales, dims: [d.F] })) : undefined;
    // The loop's own buffers.
    const sample = keep(device.upload({ data: unetSample(sampler.scaleInput(input.latents, 0), imageLatentsCpu, d), dims: sampleDims }));
    const timestep = keep(device.upload({ data: Float32Array.of(sampler.timesteps[0]), dims: [1] }));
    // the consistency sampler's fresh noise: written by the CPU each step (4 bytes a latent value), never read back
    const noise = sampler.stepNoise ? keep(device.allocate(latentDims)) : undefined;
    const noisePred = keep(device.allocate(batchDims));
    const latents = [keep(device.upload({ data: input.latents, dims: latentDims })), keep(device.allocate(latentDims))];

    unet = await open('unet', {
      shapes: { sample: sampleDims, timestep: [1], encoder_hidden_states: [d.batch, 1, d.D], added_time_ids: [d.batch, 3] },
      capture: input.capture,
    });
    const coefCount = sampler.stepInputs(0).coefs.length;
    step = await open(sampler.stepGraphs[d.batch - 1], {
      shapes: {
        latents: latentDims, noise_pred: batchDims, image_latents: batchDims, coefs: [coefCount], next_divisor: [1],
        ...(guidance ? { guidance: [d.F] } : {}), ...(noise ? { noise: latentDims } : {}),
      },
    });

    const steps = sampler.timesteps.length;
    for (let i = 0; i < steps; i++) {
      await input.beforeStep(i);
      if (i > 0) device.write(timestep, Float32Array.of(sampler.timesteps[i]));
      await unet.run({ sample, timestep, encoder_hidden_states: embeds, added_time_ids: timeIds }, { noise_pred: noisePred });
      const k = sampler.stepInputs(i);
      if (noise) device.write(noise, k.noise!);
      await step.run(
        {
          latents: latents[i % 2],
          noise_pred: noisePred,
          image_latents: imageLatents,
          coefs: { data: k.coefs, dims: [k.coefs.length] },
          next_divisor: { data: Float32Array.of(k.nextDivisor), dims: [1] },
          ...(guidance ? { guidance } : {}),
          ...(noise ? { noise } : {}),
        },
        { latents_next: latents[(i + 1) % 2], sample_next: sample },
      );
      const done = device.whenIdle();
      if (inFlight) {
        await inFlight;
        input.afterStep(i - 1);
      }
      inFlight = done;
    }
    await inFlight;
    inFlight = undefined;
    if (steps > 0) input.afterStep(steps - 1);
    return { latents: (await device.read(latents[steps % 2])).data, capture: unet.capture };
  } finally {
    // a cancelled or failed loop may leave a step on the device: let it finish before its buffers go
    await inFlight?.catch(() => undefined);
    for (const t of owned) t.dispose();
    await unet?.release();
    await step?.release();
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
