/**
 * Fast mode in Node (onnxruntime-node, CPU): guidance 1 skips the unconditional half (one batch-1 UNet call per step,
 * counted) and equals the guided pipeline run at min = max = 1; a fast model (AnimateLCM layout: the base checkpoint
 * plus a single-file UNet) converts and runs its consistency sampler. Chromium (wasm and WebGPU): e2e/pipeline.e2e.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFrames, type GenerateOptions } from '../../src/pipeline/pipeline.ts';
import { NodeRuntime } from '../../src/runtime/node.ts';
import { readModelManifest } from '../../src/engine/node-host.ts';
import { validateRequest, contextForModel } from '../../src/contract/request.ts';
import type { GraphName, ModelManifest } from '../../src/contract/manifest.ts';
import type { GraphSession, ModelRuntime, Tensor32 } from '../../src/runtime/types.ts';
import { convertCheckpoint } from '../../src/compiler/convert-folder.ts';
import { synthesizeCheckpoint, synthesizeUnetFile, ANIMATELCM_UNET_FILE } from '../../src/compiler/synthetic/write.ts';
import { animateLcmSchedule } from '../../src/numerics/animatelcm.ts';
import { applyGuidance, guidanceScales } from '../../src/numerics/guidance.ts';
import { samplerFor } from '../../src/pipeline/sampler.ts';
import { randn } from '../../src/numerics/rng.ts';
import { fixtureImage, fixturePath, maxAbs, maxAbsDiff } from '../support/fixtures.ts';
import { fixtureModel } from '../support/models.ts';

/** Counts the UNet's runs and keeps what it was fed. */
function counting(runtime: ModelRuntime): { runtime: ModelRuntime; unetFeeds: Record<string, Tensor32>[] } {
  const unetFeeds: Record<string, Tensor32>[] = [];
  return {
    unetFeeds,
    runtime: {
      device: runtime.device,
      stats: runtime.stats,
      async open(graph: GraphName): Promise<GraphSession> {
        const s = await runtime.open(graph);
        if (graph !== 'unet') return s;
        return {
          run: (feeds) => {
            unetFeeds.push(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { data: v.data.slice(), dims: [...v.dims] }])));
            return s.run(feeds);
          },
          release: () => s.release(),
        };
      },
    },
  };
}

function request(manifest: ModelManifest, fields: Record<string, unknown>) {
  const checked = validateRequest(fields, contextForModel(manifest.pipeline));
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.request;
}

async function run(dir: string, fields: Record<string, unknown>, options: GenerateOptions = {}) {
  const manifest = readModelManifest(dir);
  const { runtime, unetFeeds } = counting(new NodeRuntime(dir, manifest, { device: 'cpu' }));
  const image = fixtureImage(fixturePath('A', 'pipeline', 'input.png'));
  const result = await generateFrames(runtime, manifest, image, request(manifest, fields), { keepFloatFrames: true, ...options });
  return { result, unetFeeds, manifest };
}

/** The float frames of a result, concatenated (keepFloatFrames). */
function floatFrames(r: Awaited<ReturnType<typeof run>>['result'], collected: Float32Array[]): Float32Array {
  const n = collected.reduce((a, f) => a + f.length, 0);
  const out = new Float32Array(n);
  let at = 0;
  for (const f of collected) (out.set(f, at), (at += f.length));
  expect(r.frames.length).toBeGreaterThan(0);
  return out;
}

describe('guidance 1 skips the unconditional half (fixture A, fp32)', () => {
  const fields = { seed: 31, steps: 4, frames: 3, min_guidance: 1, max_guidance: 1, width: 64, height: 64, cond_aug: 0.02, decode_chunk: 3 };

  it('one batch-1 UNet call per step, equal to the guided batch of 2 at min = max = 1 within 1e-6 relative', async () => {
    const dir = fixtureModel('fp32').dir;
    const skipped: Float32Array[] = [];
    const a = await run(dir, fields, { onFrames: (b) => skipped.push(b.float!) });
    const guided: Float32Array[] = [];
    const b = await run(dir, fields, { forceGuidanceBatch: true, onFrames: (x) => guided.push(x.float!) });

    // counted at the UNet: 4 steps → 4 calls of batch 1, against 4 calls of batch 2
    expect(a.unetFeeds).toHaveLength(4);
    expect(a.unetFeeds.every((f) => f.sample.dims[0] === 1 && f.encoder_hidden_states.dims[0] === 1)).toBe(true);
    expect(a.result.work).toMatchObject({ steps: 4, unetCalls: 4, batch: 1 });
    expect(b.unetFeeds).toHaveLength(4);
    expect(b.unetFeeds.every((f) => f.sample.dims[0] === 2)).toBe(true);
    expect(b.result.work).toMatchObject({ unetCalls: 4, batch: 2 });
    // the fitted work: the guided run does about twice the FLOPs (the timestep embedding is shared by the batch)
    expect(a.result.work.flops).toBeGreaterThan(0);
    expect(b.result.work.flops! / a.result.work.flops!).toBeGreaterThan(1.99);
    expect(b.result.work.flops! / a.result.work.flops!).toBeLessThanOrEqual(2);

    const x = floatFrames(a.result, skipped);
    const y = floatFrames(b.result, guided);
    const rel = maxAbsDiff(x, y) / maxAbs(y);
    console.log(`guidance 1: batch 1 vs guided batch 2 at scale 1, frames max|Δ|/max|ref| = ${rel.toExponential(2)}`);
    // u + 1·(c − u) is c up to float32 rounding; the bound is the 1e-6 relative
    expect(rel).toBeLessThanOrEqual(1e-6);
    // the same request at guidance 3 differs (the comparison can fail)
    const g3: Float32Array[] = [];
    const c = await run(dir, { ...fields, max_guidance: 3 }, { onFrames: (x2) => g3.push(x2.float!) });
    expect(maxAbsDiff(floatFrames(c.result, g3), y) / maxAbs(y)).toBeGreaterThan(1e-4);
  }, 120_000);
});

describe('a fast model (AnimateLCM layout) converts and runs its consistency sampler', () => {
  const work = mkdtempSync(join(tmpdir(), 'svd-fast-'));
  let fastDir: string;
  beforeAll(() => {
    synthesizeCheckpoint({ out: join(work, 'svd'), preset: 'tiny', seed: 0 });
    synthesizeUnetFile({ out: join(work, 'lcm'), preset: 'tiny', seed: 7 });
    fastDir = join(work, 'fast');
    convertCheckpoint({ from: join(work, 'svd'), unetFile: join(work, 'lcm', ANIMATELCM_UNET_FILE), sampler: 'animatelcm', precision: 'fp32', out: fastDir, defaultHeight: 64, defaultWidth: 64 });
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the manifest records the sampler, its scheduler, 4 steps without guidance, and the consistency step graphs', () => {
    const m = readModelManifest(fastDir);
    expect(m.sampler).toBe('animatelcm');
    expect(m.requestDefaults).toEqual({ steps: 4, min_guidance: 1, max_guidance: 1 });
    expect(m.scheduler).toMatchObject({ _class_name: 'AnimateLCMSVDStochasticIterativeScheduler', sigma_max: 700, sigma_data: 1 });
    expect(Object.keys(m.graphs)).toEqual(['image_encoder', 'vae_encoder', 'unet', 'vae_decoder', 'consistency_step', 'consistency_step_cfg']);
  });

  it('4 steps: the UNet sees AnimateLCM\'s timesteps and the scaled initial latents; the same seed gives the same video', async () => {
    const fields = { seed: 5, steps: 4, frames: 3, min_guidance: 1, max_guidance: 1, width: 64, height: 64, decode_chunk: 3 };
    const a = await run(fastDir, fields);
    const schedule = animateLcmSchedule(4);
    expect(a.unetFeeds.map((f) => f.timestep.data[0])).toEqual([...schedule.timesteps]);
    expect(a.result.work).toMatchObject({ sampler: 'animatelcm', steps: 4, unetCalls: 4, batch: 1 });
    // first UNet input: seeded latents × √(700²+1) / √(σ0²+1), then the image latents on the channel axis
    const [, F, C2, h, w] = a.unetFeeds[0].sample.dims;
    const frame = (C2 / 2) * h * w;
    const draws = randn(5, F * frame, { stream: 0 });
    const first = a.unetFeeds[0].sample.data;
    const d0 = Math.fround(Math.sqrt(Math.fround(schedule.sigmas[0] * schedule.sigmas[0]) + 1));
    for (const i of [0, 17, frame - 1]) expect(first[i]).toBeCloseTo(Math.fround(draws[i] * schedule.initNoiseSigma) / d0, 5);
    expect(a.result.frames.every((f) => f.length === 64 * 64 * 4)).toBe(true);
    const b = await run(fastDir, fields);
    expect(b.result.frames.map((f) => Buffer.from(f).toString('base64'))).toEqual(a.result.frames.map((f) => Buffer.from(f).toString('base64')));
    const c = await run(fastDir, { ...fields, seed: 6 });
    expect(c.result.frames.map((f) => Buffer.from(f).toString('base64'))).not.toEqual(a.result.frames.map((f) => Buffer.from(f).toString('base64')));
  }, 120_000);

  it('the consistency step graphs (batch 1 and CFG) compute the CPU step in onnxruntime: next latents and next UNet input', async () => {
    const m = readModelManifest(fastDir);
    const runtime = new NodeRuntime(fastDir, m, { device: 'cpu' });
    const [F, C, h, w] = [3, 4, 2, 3];
    const n = F * C * h * w;
    const sampler = samplerFor(m, 4, 9, n);
    const latents = randn(1, n, { stream: 0 }).map((v) => v * 13);
    const imageLatent = randn(1, n, { stream: 1 });
    for (const batch of [1, 2] as const) {
      const noisePred = randn(2, batch * n, { stream: 0 });
      const scales = guidanceScales(1, 2.5, F);
      const session = await runtime.open(batch === 2 ? 'consistency_step_cfg' : 'consistency_step');
      for (const i of [1, 3]) {
        const k = sampler.stepInputs(i);
        const image = new Float32Array(batch * n);
        for (let b = 0; b < batch; b++) image.set(imageLatent, b * n);
        const out = await session.run({
          latents: { data: latents, dims: [1, F, C, h, w] },
          noise_pred: { data: noisePred, dims: [batch, F, C, h, w] },
          image_latents: { data: image, dims: [batch, F, C, h, w] },
          noise: { data: k.noise!, dims: [1, F, C, h, w] },
          coefs: { data: k.coefs, dims: [3] },
          next_divisor: { data: Float32Array.of(k.nextDivisor), dims: [1] },
          ...(batch === 2 ? { guidance: { data: scales, dims: [F] } } : {}),
        });
        const guided = batch === 2 ? applyGuidance(noisePred.subarray(0, n), noisePred.subarray(n), scales, F, n / F) : noisePred;
        const expected = sampler.step(guided, i, latents);
        // the same float32 operations: equal up to the EP's fused multiply-adds, 1e-6 of the largest value
        expect(maxAbsDiff(out.latents_next.data, expected) / maxAbs(expected), `batch ${batch} step ${i}`).toBeLessThanOrEqual(1e-6);
        const scaledNext = sampler.scaleInput(expected, i + 1);
        const sample = out.sample_next.data;
        expect(out.sample_next.dims).toEqual([batch, F, 2 * C, h, w]);
        for (let b = 0; b < batch; b++) {
          for (let f = 0; f < F; f++) {
            const row = (b * F + f) * 2 * C * h * w;
            const frame = C * h * w;
            expect(maxAbsDiff(sample.subarray(row, row + frame), scaledNext.subarray(f * frame, (f + 1) * frame))).toBeLessThanOrEqual(1e-6 * maxAbs(scaledNext));
            expect(maxAbsDiff(sample.subarray(row + frame, row + 2 * frame), imageLatent.subarray(f * frame, (f + 1) * frame))).toBe(0);
          }
        }
        // the last step adds no noise: the consistency function alone
        if (i === 3) expect(k.coefs[2]).toBe(0);
      }
      await session.release();
    }
  });
});
