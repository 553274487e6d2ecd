/**
 * The generation worker in real Chromium, on the wasm and WebGPU EPs: parity with diffusers on fixture A, the
 * same frames as Node for the same seed, cancel within one step, and the CLI's validation messages.
 * Every test opens its own harness page (fixture `harnessPage`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.ts';
import { expect, test } from './support/fixtures.ts';
import type { PipelineJob, PipelineJobReport } from '../src/devtools/api.ts';
import { fixtureImage, loadTensors, fixturePath, maxAbsDiff } from '../tests/support/fixtures.ts';
import { runCli } from '../tests/support/cli.ts';
import { NodeRuntime } from '../src/runtime/node.ts';
import { generateFrames } from '../src/pipeline/pipeline.ts';
import { parseManifest } from '../src/contract/manifest.ts';
import { validateRequest } from '../src/contract/request.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startModelServer } from './support/model-server.ts';

const MODEL_DIR = join(ROOT, 'public', 'models', 'tiny-random');
const MODEL_URL = '/models/tiny-random/';
const ref = loadTensors(fixturePath('A', 'pipeline', 'tensors.safetensors'));
const image = fixtureImage(fixturePath('A', 'pipeline', 'input.png'));
const [, F, H, W] = ref.get('output.frames').shape;

/** The fixture's call: cond_aug 0, 4 steps, guidance 1→3, fps 7, motion 127, one decode chunk. */
const parityRequest = { fps: 7, motion: 127, cond_aug: 0, frames: F, steps: 4, min_guidance: 1, max_guidance: 3, width: W, height: H, decode_chunk: F, seed: 0 };
const seededRequest = { ...parityRequest, cond_aug: 0.02, seed: 424242, steps: 3 };

function referenceFramesChw(): Float32Array {
  const r = ref.get('output.frames').data;
  const out = new Float32Array(F * 3 * H * W);
  for (let f = 0; f < F; f++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
    out[((f * 3 + c) * H + y) * W + x] = r[((f * H + y) * W + x) * 3 + c];
  }
  return out;
}

const imageJson = { width: image.width, height: image.height, rgba: Array.from(image.rgba) };

async function nodeFrames(request: Record<string, unknown>): Promise<Float32Array> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')));
  const checked = validateRequest(request, { backend: 'local', maxFrames: 25, defaultFrames: manifest.pipeline.defaultFrames });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  const floats: Float32Array[] = [];
  await generateFrames(new NodeRuntime(MODEL_DIR, manifest, { device: 'cpu' }), manifest, image, checked.request, {
    keepFloatFrames: true,
    onFrames: (b) => floats.push(b.float!),
  });
  const out = new Float32Array(floats.reduce((a, f) => a + f.length, 0));
  floats.reduce((o, f) => (out.set(f, o), o + f.length), 0);
  return out;
}

test.describe('generation worker in Chromium', () => {
  const parityJob = (): PipelineJob => ({ image: imageJson, request: parityRequest, latents: Array.from(ref.get('input.latents').data), floatFrames: true });

  function expectParity(device: string, job: PipelineJobReport): void {
    expect(job.error).toBeUndefined();
    expect(job.outcome).toBe('result');
    const err = maxAbsDiff(Float32Array.from(job.floatFrames!), referenceFramesChw());
    console.log(`${device}: worker frames vs diffusers max|Δ| = ${err.toExponential(2)} (${job.ms.toFixed(0)} ms)`);
    expect(err).toBeLessThanOrEqual(1e-3);
    // progress went through the denoise steps one by one, and every frame arrived
    expect(job.progress.filter((p) => p.stage === 'denoise').map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(job.frameCount).toBe(F);
  }

  test('wasm: fixture A parity within 1e-3; one seed twice gives identical frames, equal to Node\'s within 1e-4', async ({ harnessPage: app }) => {
    const seeded: PipelineJob = { image: imageJson, request: seededRequest, floatFrames: true };
    const report = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [parityJob(), seeded, seeded] });
    expect(report.device).toBe('wasm');
    const [parity, first, second] = report.jobs;
    expectParity('wasm', parity);
    expect(first.outcome).toBe('result');
    expect(first.result!.seed).toBe(seededRequest.seed);
    expect(second.rgbaChecksum).toBe(first.rgbaChecksum);
    expect(maxAbsDiff(Float32Array.from(second.floatFrames!), Float32Array.from(first.floatFrames!))).toBe(0);
    const fromNode = await nodeFrames(seededRequest);
    const nodeErr = maxAbsDiff(Float32Array.from(first.floatFrames!), fromNode);
    console.log(`wasm: browser vs Node, same seed, max|Δ| = ${nodeErr.toExponential(2)}`);
    expect(nodeErr).toBeLessThanOrEqual(1e-4);
  });

  // Guidance 1 (min = max = 1, the fast model's default) skips the unconditional half: one batch-1 UNet call per
  // step, counted by the loop; the same request run as the guided batch of 2 at scale 1 must give the same frames.
  function expectGuidanceOneSkips(device: string, skipped: PipelineJobReport, guided: PipelineJobReport, steps: number): void {
    expect(skipped.outcome, skipped.error?.message).toBe('result');
    expect(guided.outcome, guided.error?.message).toBe('result');
    expect(skipped.result!.work).toMatchObject({ steps, unetCalls: steps, batch: 1 });
    expect(guided.result!.work).toMatchObject({ steps, unetCalls: steps, batch: 2 });
    const a = Float32Array.from(skipped.floatFrames!);
    const b = Float32Array.from(guided.floatFrames!);
    let scale = 0;
    for (const v of b) scale = Math.max(scale, Math.abs(v));
    const rel = maxAbsDiff(a, b) / scale;
    console.log(`${device}: guidance 1, batch 1 vs the guided batch of 2 at scale 1: max|Δ|/max = ${rel.toExponential(2)}`);
    // u + 1·(c − u) equals c up to float32 rounding: the bound, 1e-6 relative
    expect(rel).toBeLessThanOrEqual(1e-6);
    expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(0.01);
  }

  test('wasm: guidance 1 runs one batch-1 UNet call per step and equals the guided batch of 2 at scale 1 (1e-6 relative)', async ({ harnessPage: app }) => {
    const request = { ...seededRequest, min_guidance: 1, max_guidance: 1 };
    const job: PipelineJob = { image: imageJson, request, floatFrames: true };
    const report = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [job, { ...job, forceGuidanceBatch: true }] });
    expectGuidanceOneSkips('wasm', report.jobs[0], report.jobs[1], request.steps);
  });

  // The reference's own size on WebGPU: 4 guided steps at 32×32 latents take 15 min on SwiftShader here (934 s in the
  // clean-clone run of 2026-12-07, 7–9 min on a faster host of 2026-12-03), half of CI's budget, so it is opt-in
  // (`E2E_LONG=1`, `npm run test:long`). CI keeps the chain that proves the same thing: every network's WebGPU graph at
  // the reference's size against diffusers (e2e/compiler.e2e.ts), the wasm pipeline against diffusers (above), and the
  // GPU-resident loop against the wasm loop on a guided request (below).
  test('webgpu: fixture A parity within 1e-3 at the reference\'s size, loop resident on the GPU (E2E_LONG=1)', { tag: ['@webgpu', '@long'] }, async ({ harnessPage: app }) => {
    test.skip(!process.env.E2E_LONG, 'opt-in (E2E_LONG=1): 15 min on SwiftShader; CI checks the networks at this size and the loop against wasm');
    test.setTimeout(60 * 60_000);
    const report = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'webgpu', jobs: [parityJob()] });
    expect(report.device).toBe('webgpu');
    const [parity] = report.jobs;
    expectParity('webgpu', parity);
    expect(parity.result!.loop).toBe('device');
    expect(parity.result!.readbacks.denoise).toBe(1);
    expect(parity.result!.graphCapture).toEqual({ on: true });
  });

  // Sizes for WebGPU-vs-CPU comparisons. The tiny random UNet normalises 32 groups at its lowest level; at 8×8 latents
  // (a 16×16 picture) that level is 2×2, a group holds 8 numbers, and dividing by their small spread turns float32
  // rounding into 1e-3-sized differences between EPs (measured: UNet output 1.7e-3 at 2 frames, 1.7e-4 at 3; frames
  // 9.4e-4 and 8.8e-5). At 16×16 latents (32×32 pixels) groups hold 32 numbers and the EPs agree to 6e-6. So the
  // comparisons across EPs run at 32×32; jobs that compare WebGPU with itself keep the smallest size.
  const wellConditioned = { width: 32, height: 32 };

  // The GPU-resident loop (denoise_step_cfg: scheduler step and per-frame guidance on the device, graph capture on)
  // against the CPU loop on wasm for the same guided request (guidance 1→3, cond_aug, seed), 2 steps, 2 frames. Then small
  // jobs (16×16, 1 frame, 2 steps) at guidance 1 (batch 1, one UNet call a step) compare capture with a run without it:
  // captured, the cached captured session again (replayed onto the new job's buffers), and no capture. All three must
  // give the same frames, and the same as the guided batch of 2 run at scale 1 (forceGuidanceBatch).
  test('webgpu: the GPU-resident loop equals the CPU loop (wasm) within 1e-4 on a guided request; graph capture equals a run without it; guidance 1 equals the guided batch at scale 1', { tag: '@webgpu' }, async ({ harnessPage: app }) => {
    test.setTimeout(30 * 60_000);
    // 2 steps each (the loop steps more than once); SwiftShader's time grows with the frames (CI time): 2 frames for the
    // comparison with the CPU, 1 for the jobs that compare WebGPU with itself
    const guidedJob: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2, frames: 2, decode_chunk: 2, ...wellConditioned }, floatFrames: true };
    const small: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2, frames: 1, decode_chunk: 1, width: 16, height: 16, min_guidance: 1, max_guidance: 1 }, floatFrames: true };
    const cpu = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [guidedJob] });
    const report = await app.harness('pipeline', {
      modelBaseUrl: MODEL_URL,
      device: 'webgpu',
      jobs: [guidedJob, small, small, { ...small, graphCapture: false }, { ...small, forceGuidanceBatch: true }],
    });
    expect(report.device).toBe('webgpu');
    const [onCpu] = cpu.jobs;
    expect(onCpu.outcome, onCpu.error?.message).toBe('result');
    expect(onCpu.result!.loop).toBe('cpu');
    const [guided2, captured, replayed, plain, guided] = report.jobs;
    const named = [['guided, 32×32', guided2], ['small, graph capture', captured], ['small, captured session again', replayed], ['small, no capture', plain], ['small, guided batch at scale 1', guided]] as const;
    for (const [name, job] of named) {
      expect(job.outcome, `${name}: ${job.error?.message}`).toBe('result');
      // the one readback of the loop is the final latents
      expect(job.result!.readbacks.denoise, name).toBe(1);
      expect(job.result!.loop, name).toBe('device');
      // ORT's time counts until the device finished (run() alone returns earlier), and never exceeds the job
      const t = job.result!.timings;
      expect(t.ortCall, name).toBeLessThanOrEqual(t.ortRun);
      // the loop's share of the time inside run() is part of it, and the loop did call run()
      expect(t.ortCallLoop, name).toBeGreaterThan(0);
      expect(t.ortCallLoop, name).toBeLessThanOrEqual(t.ortCall);
      expect(t.ortRun, name).toBeLessThanOrEqual(t.total);
    }
    const frames = (j: PipelineJobReport) => Float32Array.from(j.floatFrames!);
    // the guided request: the CFG step graph on the GPU, the same frames as the CPU loop
    expect(guided2.result!.work).toMatchObject({ steps: 2, unetCalls: 2, batch: 2 });
    expect(guided2.result!.graphCapture).toEqual({ on: true });
    expect(guided2.progress.filter((p) => p.stage === 'denoise').map((p) => p.step)).toEqual([1, 2]);
    const vsCpu = maxAbsDiff(frames(guided2), frames(onCpu));
    console.log(`webgpu: guided request at 32×32, 2 frames, GPU-resident loop vs wasm CPU loop: frames max|Δ| = ${vsCpu.toExponential(2)} (${guided2.ms.toFixed(0)} ms)`);
    // two EPs' float32 kernels on random weights: the browser-vs-Node bound of this file
    expect(vsCpu).toBeLessThanOrEqual(1e-4);
    expect(Math.max(...frames(onCpu)) - Math.min(...frames(onCpu))).toBeGreaterThan(0.01);

    expect(captured.result!.graphCapture).toEqual({ on: true });
    expect(replayed.result!.graphCapture).toEqual({ on: true });
    expect(plain.result!.graphCapture.on).toBe(false);
    const again = maxAbsDiff(frames(replayed), frames(captured));
    const vsPlain = maxAbsDiff(frames(plain), frames(captured));
    console.log(`webgpu: small job, captured session replayed in the next job vs the first: max|Δ| = ${again.toExponential(2)}; graph capture vs none: ${vsPlain.toExponential(2)}`);
    // replays issue the recorded kernels on the same data, so the frames should be identical; 1e-6 leaves room for
    // float32 rounding only (a replay onto stale buffers would be off by the whole signal)
    expect(again).toBeLessThanOrEqual(1e-6);
    expect(vsPlain).toBeLessThanOrEqual(1e-6);
    // guidance 1 on the device loop: the batch-1 step graph, one UNet call a step, equal to the CFG graph at scale 1
    expectGuidanceOneSkips('webgpu', captured, guided, 2);
    // and the small jobs moved: their frames are not all one value
    expect(Math.max(...frames(captured)) - Math.min(...frames(captured))).toBeGreaterThan(0.01);
  });

  // A fast model (AnimateLCM layout: synthetic base checkpoint + single-file UNet, converted fp32): its consistency
  // sampler on the CPU loop (wasm) and on the device loop (WebGPU, consistency_step graph, fresh noise written to the
  // GPU each step) give the same frames, and the UNet ran once per step at batch 1.
  // At 32×32 (wellConditioned: at 16×16 this comparison measured 4.0e-3 at 2 frames — the random UNet's conditioning,
  // the same 9.4e-4 the Euler model shows there — and 7.1e-5 at 3).
  test('webgpu: a fast model\'s consistency sampler on the device loop equals the CPU loop (wasm) within 1e-4', { tag: '@webgpu' }, async ({ harnessPage: app }) => {
    test.setTimeout(30 * 60_000);
    const root = mkdtempSync(join(tmpdir(), 'svd-fast-e2e-'));
    const { synthesizeCheckpoint, synthesizeUnetFile, ANIMATELCM_UNET_FILE } = await import('../src/compiler/synthetic/write.ts');
    const { convertCheckpoint } = await import('../src/compiler/convert-folder.ts');
    synthesizeCheckpoint({ out: join(root, 'svd'), preset: 'tiny', seed: 0 });
    synthesizeUnetFile({ out: join(root, 'lcm'), preset: 'tiny', seed: 7 });
    convertCheckpoint({ from: join(root, 'svd'), unetFile: join(root, 'lcm', ANIMATELCM_UNET_FILE), sampler: 'animatelcm', precision: 'fp32', out: join(root, 'models', 'fast'), defaultHeight: 64, defaultWidth: 64 });
    const server = await startModelServer(join(root, 'models'));
    try {
      // 2 steps (noise after the first, none after the last), 2 frames
      const job: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2, frames: 2, decode_chunk: 2, min_guidance: 1, max_guidance: 1, ...wellConditioned }, floatFrames: true };
      const cpu = await app.harness('pipeline', { modelBaseUrl: `${server.url}fast/`, device: 'wasm', jobs: [job] });
      const gpu = await app.harness('pipeline', { modelBaseUrl: `${server.url}fast/`, device: 'webgpu', jobs: [job] });
      expect(gpu.device).toBe('webgpu');
      const [c, g] = [cpu.jobs[0], gpu.jobs[0]];
      expect(c.outcome, c.error?.message).toBe('result');
      expect(g.outcome, g.error?.message).toBe('result');
      expect(g.result!.loop).toBe('device');
      expect(g.result!.readbacks.denoise).toBe(1);
      for (const j of [c, g]) expect(j.result!.work).toMatchObject({ sampler: 'animatelcm', steps: 2, unetCalls: 2, batch: 1 });
      expect(g.frameCount).toBe(2);
      const err = maxAbsDiff(Float32Array.from(g.floatFrames!), Float32Array.from(c.floatFrames!));
      console.log(`fast model: WebGPU device loop vs wasm CPU loop, frames max|Δ| = ${err.toExponential(2)}`);
      // two EPs' float32 kernels on random weights: the browser-vs-Node bound of this file
      expect(err).toBeLessThanOrEqual(1e-4);
      expect(Math.max(...c.floatFrames!) - Math.min(...c.floatFrames!)).toBeGreaterThan(0.01);
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('cancel during the UNet loop stops within one step, then the worker takes the next job', async ({ harnessPage: app }) => {
    const long: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 10 }, cancelAtDenoiseStep: 2 };
    const next: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2 } };
    const report = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [long, next] });
    const [cancelled, after] = report.jobs;
    expect(cancelled.outcome).toBe('cancelled');
    const lastStep = Math.max(...cancelled.progress.filter((p) => p.stage === 'denoise').map((p) => p.step));
    // cancel was sent when step 2 was reported; at most the step already running (3) may finish
    expect(lastStep).toBeLessThanOrEqual(3);
    expect(cancelled.frameCount).toBe(0);
    expect(after.outcome).toBe('result');
    expect(after.frameCount).toBe(F);
  });

  // A GPU device lost mid-job (issue 14; laptops under memory pressure, driver resets): the worker destroys its own
  // device (GPUDevice.destroy()) when denoise step 1 is reported. That job must fail in words, promptly (a lost device
  // may never finish its queued work), and the next job on the same engine must run: a fresh worker, a fresh device.
  test('webgpu: a device lost mid-job fails that job in words; the next job runs on a fresh device', { tag: '@webgpu' }, async ({ harnessPage: app }) => {
    test.setTimeout(10 * 60_000);
    const small: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2, frames: 1, decode_chunk: 1, width: 16, height: 16 } };
    const report = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'webgpu', jobs: [{ ...small, loseDeviceAtDenoiseStep: 1 }, small] });
    expect(report.device).toBe('webgpu');
    const [lost, next] = report.jobs;
    console.log(`webgpu, device destroyed at step 1: "${lost.error?.message}" after ${lost.ms.toFixed(0)} ms; the next job took ${next.ms.toFixed(0)} ms`);
    expect(lost.outcome).toBe('error');
    expect(lost.error?.code).toBe('device');
    expect(lost.error?.message).toMatch(/^The GPU stopped working during this job \(destroyed.*\), so the job was stopped\. The next job starts on a fresh GPU device; your model and settings are kept\.$/);
    expect(lost.frameCount).toBe(0);
    expect(lost.progress.filter((p) => p.stage === 'denoise').map((p) => p.step)).toEqual([1]);
    expect(next.outcome, next.error?.message).toBe('result');
    expect(next.frameCount).toBe(1);
    expect(next.result!.loop).toBe('device');
  });

  // The memory plan (issue 14) before a job: the demo model's graphs at 1024×576 need tens of GB (its spatial attention
  // over 512×288 latents), past the CPU's 4 GB wasm memory and past this adapter's own buffer limits. Refused at once
  // with the plan's numbers, before any session is created (no progress at all); the next job on the same worker runs.
  test('a request the memory plan says does not fit is refused before any session, with its numbers; the next job runs', async ({ harnessPage: app }) => {
    const large: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2, width: 1024, height: 576 } };
    const small: PipelineJob = { image: imageJson, request: { ...seededRequest, steps: 2, width: 16, height: 16 } };
    const cpu = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [large, small] });
    const [refused, next] = cpu.jobs;
    console.log(`wasm: ${refused.error?.message} (${refused.ms.toFixed(0)} ms)`);
    expect(refused.outcome).toBe('error');
    expect(refused.error?.code).toBe('too-large');
    expect(refused.error?.message).toMatch(/^3 frames at 1024×576 need about [\d.]+ [GT]B of memory \(wasm\) and a [\d.]+ [GT]B buffer; the CPU \(wasm\) allows 3\.87 GB of 4\.29 GB \(10% kept free\)/);
    expect(refused.progress).toEqual([]);
    expect(next.outcome, next.error?.message).toBe('result');
    expect(next.frameCount).toBe(3);

    // WebGPU here (SwiftShader): the adapter's own maxBufferSize / maxStorageBufferBindingSize, and a stated GPU memory
    const gpu = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'webgpu', jobs: [large, { ...small, memoryBudget: { gpuBytes: 20e6 } }] });
    expect(gpu.device).toBe('webgpu');
    const [onGpu, budget] = gpu.jobs;
    console.log(`webgpu: ${onGpu.error?.message}`);
    console.log(`webgpu, 20 MB stated: ${budget.error?.message}`);
    expect(onGpu.error?.code).toBe('too-large');
    expect(onGpu.error?.message).toMatch(/^3 frames at 1024×576 need about [\d.]+ [GT]B of GPU memory and a [\d.]+ [GT]B buffer; this GPU allows buffers up to [\d.]+ [MG]B/);
    expect(onGpu.progress).toEqual([]);
    expect(budget.error?.code).toBe('too-large');
    expect(budget.error?.message).toMatch(/^3 frames at 16×16 need about [\d.]+ MB of GPU memory and a [\d.]+ [kM]B buffer; this GPU allows 18\.0 MB of 20\.0 MB \(10% kept free\) and buffers up to/);
    expect(budget.progress).toEqual([]);
  });

  test('refuses every out-of-range field with the CLI\'s message', async ({ harnessPage: app }) => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ fps: 0 }, ['--fps', '0']],
      [{ motion: 181 }, ['--motion', '181']],
      [{ seed: -2 }, ['--seed=-2']], // a value starting with '-' needs the = form
      [{ cond_aug: 1.5 }, ['--cond-aug', '1.5']],
      [{ frames: 0 }, ['--frames', '0']],
      [{ resize_method: 'stretch' }, ['--resize-method', 'stretch']],
      [{ steps: 0 }, ['--steps', '0']],
      [{ decode_chunk: 0 }, ['--decode-chunk', '0']],
    ];
    const jobs = cases.map(([fields]) => ({ image: imageJson, request: { ...seededRequest, ...fields } }));
    const report = await app.harness('pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs });
    cases.forEach(([, flags], i) => {
      const job = report.jobs[i];
      expect(job.outcome).toBe('error');
      expect(job.error!.code).toBe('invalid-request');
      const cli = runCli(['generate', '--model', MODEL_DIR, '--image', fixturePath('A', 'pipeline', 'input.png'), '--out', '/tmp/never.mp4', ...flags]);
      expect(cli.code).toBe(2);
      expect(cli.stderr).toContain(job.error!.message);
    });
  });
});
