/**
 * The work next to Generate and the time estimate (issue 18): FLOPs from the model's fitted work at the framed size,
 * this device's seconds per TFLOP measured from finished runs (an exponential average, kept in localStorage per device
 * and precision), the time in words, and the job's expectedStepSeconds from it.
 */
import { describe, expect, it } from 'vitest';
import { createAppStore, deriveView } from '../../src/store/app-store.ts';
import { memoryStorage } from '../../src/store/persist.ts';
import { defaultFramingManifest, type ModelChoice } from '../../src/store/models.ts';
import {
  estimateWork, loadSpeeds, measuredSecondsPerTflop, SPEED_KEY, speedKey, updateSpeed, workWords,
} from '../../src/store/estimate.ts';
import { formatAbout, formatFlops } from '../../src/store/format.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';
import type { DeviceInfo } from '../../src/contract/job.ts';
import type { ToGenerateWorker as ToWorker } from '../../src/protocol/generate.ts';
import { FakeWorker, tinyImage } from '../support/fakes.ts';

/** Coefficients chosen so each basis term is visible: 1, F, B, B·F, B·F·hw, B·F·hw², B·F²·hw. */
const COEFFICIENTS = [10, 20, 30, 40, 1e6, 100, 1000];
function manifestOf(over: Partial<ModelManifest> = {}): ModelManifest {
  const m = defaultFramingManifest() as ModelManifest;
  return {
    ...m, precision: 'q4f16', sampler: 'animatelcm', requestDefaults: { steps: 4, min_guidance: 1, max_guidance: 1 }, work: { coefficients: COEFFICIENTS },
    pipeline: { ...m.pipeline, defaultWidth: 64, defaultHeight: 64, defaultFrames: 3, vaeScaleFactor: 2, sizeMultiple: 16 }, ...over,
  };
}
// 64×64 pixels → 32×32 latents (hw 1024), 3 frames. By hand, batch 1: 10 + 20·3 + 30 + 40·3 + 1e6·3·1024 +
// 100·3·1024² + 1000·9·1024 = 3 395 789 020 FLOPs a call; batch 2: 10 + 60 + 60 + 240 + 6.144e9 + 629 145 600 + 18 432 000 = 6 791 577 970.
const CALL_B1 = 3_395_789_020;
const CALL_B2 = 6_791_577_970;
const adapter = { vendor: 'nvidia', architecture: 'ampere', description: 'RTX 3080', isFallbackAdapter: false };

describe('work and time, pure', () => {
  it('plans the FLOPs of the request at the framed size: steps × calls × the fitted FLOPs per call', () => {
    const m = manifestOf();
    const fast = estimateWork(m, { steps: 4, frames: 3, max_guidance: 1 }, { width: 64, height: 64 }, 'webgpu', adapter, {});
    expect(fast.work).toEqual({ sampler: 'animatelcm', steps: 4, unetCalls: 4, batch: 1, flops: 4 * CALL_B1 });
    expect(fast.secondsPerTflop).toBeUndefined();
    expect(workWords(fast)).toEqual({ work: '4 steps × 1 UNet call · 13.6 GFLOP', time: 'The time is shown after the first run on this GPU.' });
    const cfg = estimateWork(m, { steps: 25, frames: 3, max_guidance: 3 }, { width: 64, height: 64 }, 'wasm', undefined, {});
    expect(cfg.work).toMatchObject({ unetCalls: 25, batch: 2, flops: 25 * CALL_B2 });
    expect(workWords(cfg).work).toBe('25 steps × 1 UNet call (batch of 2: guidance) · 170 GFLOP');
    expect(workWords(cfg).time).toBe('The time is shown after the first run on this CPU.');
    // a model converted before its work was recorded: steps and calls only
    const old = estimateWork(manifestOf({ work: undefined }), { steps: 4, frames: 3, max_guidance: 1 }, { width: 64, height: 64 }, 'webgpu', adapter, {});
    expect(workWords(old).work).toBe('4 steps × 1 UNet call');
    expect(workWords(old).time).toMatch(/does not record its work/);
  });

  it('measures seconds per TFLOP, averages runs (the newest counts half) and turns it into a time', () => {
    // 2e12 FLOPs in 5 s → 2.5 s/TFLOP
    expect(measuredSecondsPerTflop(2e12, 5000)).toBeCloseTo(2.5, 12);
    expect(measuredSecondsPerTflop(undefined, 5000)).toBeUndefined();
    expect(measuredSecondsPerTflop(2e12, 0)).toBeUndefined();
    const one = updateSpeed(undefined, 2.5);
    expect(one).toEqual({ secondsPerTflop: 2.5, runs: 1 });
    const two = updateSpeed(one, 4.5);
    expect(two.secondsPerTflop).toBeCloseTo(3.5, 12);
    expect(two.runs).toBe(2);
    expect(updateSpeed(two, 3.5).secondsPerTflop).toBeCloseTo(3.5, 12);

    const key = speedKey('webgpu', adapter, 'q4f16');
    expect(key).toBe('webgpu:nvidia ampere RTX 3080|q4f16');
    expect(speedKey('wasm', adapter, 'fp32')).toBe('cpu|fp32');
    // 12.3 TFLOP of SVD-XT-like work at 9.6 s/TFLOP: 118 s, "about 2 min"
    const big = manifestOf({ work: { coefficients: [12.3e12 / 4, 0, 0, 0, 0, 0, 0] } });
    const e = estimateWork(big, { steps: 4, frames: 3, max_guidance: 1 }, { width: 64, height: 64 }, 'webgpu', adapter, { [key]: { secondsPerTflop: 9.6, runs: 3 } });
    expect(e.work.flops).toBeCloseTo(12.3e12, 0);
    expect(e.denoiseSeconds).toBeCloseTo(118.08, 9);
    expect(e.stepSeconds).toBeCloseTo(29.52, 9);
    expect(workWords(e)).toEqual({ work: '4 steps × 1 UNet call · 12.3 TFLOP', time: 'Denoising about 2 min on this GPU.' });
  });

  it('keeps the speed per device and model, and adds the measured rest of the job (loading, encoding, decoding)', () => {
    // a tiny model's speed (fixed costs dominate) must not price a real model on the same device
    expect(speedKey('wasm', undefined, 'tiny-random')).not.toBe(speedKey('wasm', undefined, 'svd-xt-fast-q4f32'));
    expect(speedKey('webgpu', adapter, 'svd-xt-fast-q4f16')).toBe('webgpu:nvidia ampere RTX 3080|svd-xt-fast-q4f16');
    // the rest of the job is averaged like the speed: 40 s, then 20 s → 30 s
    const one = updateSpeed(undefined, 9.6, undefined, 40);
    expect(one).toEqual({ secondsPerTflop: 9.6, runs: 1, otherSeconds: 40 });
    const two = updateSpeed(one, 9.6, undefined, 20);
    expect(two.otherSeconds).toBeCloseTo(30, 12);
    // a run that does not say keeps the average
    expect(updateSpeed(two, 9.6).otherSeconds).toBeCloseTo(30, 12);
    const key = speedKey('webgpu', adapter, 'svd-xt-fast-q4f16');
    const big = manifestOf({ work: { coefficients: [12.3e12 / 4, 0, 0, 0, 0, 0, 0] } });
    const e = estimateWork(big, { steps: 4, frames: 3, max_guidance: 1 }, { width: 64, height: 64 }, 'webgpu', adapter, { [key]: two }, 'svd-xt-fast-q4f16');
    // 118.08 s of denoising + 30 s = 148 s
    expect(e.totalSeconds).toBeCloseTo(148.08, 9);
    expect(workWords(e).time).toBe('About 2 min on this GPU (denoising about 2 min).');
    // the stored table keeps the rest of the job across a reload
    const storage = memoryStorage();
    storage.setItem(SPEED_KEY, JSON.stringify({ [key]: two, bad: { secondsPerTflop: -1, runs: 1 } }));
    expect(loadSpeeds(storage)).toEqual({ [key]: { secondsPerTflop: two.secondsPerTflop, runs: 2, otherSeconds: two.otherSeconds } });
  });

  it('says FLOPs and times in words', () => {
    expect([12.34e12, 840e9, 1.049e15, 999.6e9, 3.3e6].map(formatFlops)).toEqual(['12.3 TFLOP', '840 GFLOP', '1.05 PFLOP', '1.00 TFLOP', '3.30 MFLOP']);
    expect([0.4, 12.4, 118, 5400, -1].map(formatAbout)).toEqual(['under a second', 'about 12 s', 'about 2 min', 'about 1.5 h', 'an unknown time']);
  });

  it('keeps only well-formed entries from storage', () => {
    const storage = memoryStorage();
    storage.setItem(SPEED_KEY, JSON.stringify({ a: { secondsPerTflop: 2, runs: 1 }, b: { secondsPerTflop: -1, runs: 1 }, c: 'x', d: { secondsPerTflop: 1, runs: 0.5 } }));
    expect(loadSpeeds(storage)).toEqual({ a: { secondsPerTflop: 2, runs: 1 } });
    storage.setItem(SPEED_KEY, '{not json');
    expect(loadSpeeds(storage)).toEqual({});
  });
});

describe('work and time in the store', () => {
  const gpuInfo: DeviceInfo = { device: 'webgpu', reason: 'WebGPU adapter nvidia ampere', features: [], crossOriginIsolated: true, adapter };

  function setup(results: { denoiseMs: number; flops?: number }[]) {
    const storage = memoryStorage();
    const sent: ToWorker[] = [];
    const model: ModelChoice = { id: 'fast', label: 'SVD fast', source: { kind: 'url', baseUrl: 'http://app/fast/' }, manifest: manifestOf() };
    let run = 0;
    const worker = () => new FakeWorker((m, w) => {
      sent.push(m);
      if (m.kind === 'probe') w.reply({ kind: 'probed', id: m.id, payload: gpuInfo });
      if (m.kind === 'load') w.reply({ kind: 'loaded', id: m.id, payload: { backend: 'local', manifest: model.manifest!, device: gpuInfo } });
      if (m.kind === 'generate') {
        const r = results[run++];
        const { request } = m.payload;
        w.reply({ kind: 'frames', id: m.id, payload: { start: 0, width: 64, height: 64, frames: Array.from({ length: request.frames }, () => new Uint8ClampedArray(64 * 64 * 4)) } });
        w.reply({ kind: 'result', id: m.id, payload: {
          backend: 'local', seed: 1, width: 64, height: 64, fps: request.fps, frameCount: request.frames,
          local: {
            device: 'webgpu', timings: { load: 1, encode: 1, denoise: r.denoiseMs, decode: 1, ortRun: 1, ortCall: 1, ortCallLoop: 1, ortCreate: 1, total: 4 },
            readbacks: { denoise: 1 }, loop: 'device', graphCapture: { on: true },
            work: { sampler: 'animatelcm', steps: request.steps, unetCalls: request.steps, batch: 1, ...(r.flops !== undefined ? { flops: r.flops } : {}) },
          },
        } });
      }
    });
    const store = createAppStore({
      storage, createWorker: worker, mux: async () => new Blob([new Uint8Array([0])], { type: 'video/mp4' }), discoverModels: async () => [model],
      imageBase64: async () => '', createObjectURL: () => 'blob:x', revokeObjectURL: () => undefined,
    });
    const generateMessages = () => sent.filter((m) => m.kind === 'generate').map((m) => m.payload as { expectedStepSeconds?: number });
    return { store, storage, generateMessages };
  }

  it('Automatic picks the CPU for this model once runs here measured the CPU faster than this GPU', async () => {
    const { store } = setup([]);
    await store.getState().init();
    expect(deriveView(store.getState()).decision).toMatchObject({ device: 'webgpu' });
    store.setState({ speeds: { [speedKey('webgpu', adapter, 'fast')]: { secondsPerTflop: 50, runs: 2 }, [speedKey('wasm', undefined, 'fast')]: { secondsPerTflop: 20, runs: 1 } } });
    const d = deriveView(store.getState()).decision;
    expect(d).toMatchObject({ backend: 'local', device: 'wasm', ready: true });
    expect(d.reason).toMatch(/Measured on this device: the CPU ran SVD fast faster than the GPU/);
    // another model's measurements do not count for this one
    store.setState({ speeds: { [speedKey('webgpu', adapter, 'other')]: { secondsPerTflop: 50, runs: 2 }, [speedKey('wasm', undefined, 'other')]: { secondsPerTflop: 20, runs: 1 } } });
    expect(deriveView(store.getState()).decision).toMatchObject({ device: 'webgpu' });
  });

  it('shows the work before a run; after runs, the measured time, stored, and the expected step time sent to the engine', async () => {
    const flops = 4 * CALL_B1;
    // run 1 at 500 s/TFLOP (the result reports its FLOPs), run 2 at 300 s/TFLOP (an engine without FLOPs: planned work)
    const { store, storage, generateMessages } = setup([{ denoiseMs: 500 * flops / 1e9, flops }, { denoiseMs: 300 * flops / 1e9 }]);
    await store.getState().init();
    store.getState().setImage(tinyImage(64, 64));
    store.getState().setField('frames', '3');
    const before = deriveView(store.getState()).estimate!;
    expect(before).toMatchObject({ width: 64, height: 64, device: 'webgpu', key: 'webgpu:nvidia ampere RTX 3080|fast', work: { steps: 4, flops } });
    expect(workWords(before).time).toBe('The time is shown after the first run on this GPU.');

    await store.getState().generate();
    expect(store.getState().job.phase).toBe('done');
    expect(generateMessages()[0].expectedStepSeconds).toBeUndefined();
    expect(store.getState().speeds[before.key].secondsPerTflop).toBeCloseTo(500, 9);
    const after = deriveView(store.getState()).estimate!;
    expect(after.denoiseSeconds).toBeCloseTo(500 * flops / 1e12, 9); // 6.79 s
    expect(workWords(after).time).toBe('Denoising about 7 s on this GPU.');

    await store.getState().generate();
    // the second job carried the first run's speed × one step's work
    expect(generateMessages()[1].expectedStepSeconds).toBeCloseTo(500 * CALL_B1 / 1e12, 9);
    expect(store.getState().speeds[before.key]).toEqual({ secondsPerTflop: expect.closeTo(400, 9), runs: 2 });
    expect(JSON.parse(storage.getItem(SPEED_KEY)!)[before.key].secondsPerTflop).toBeCloseTo(400, 9);

    // a reload finds the measured speed
    const again = createAppStore({ storage, createWorker: () => new FakeWorker(), mux: async () => new Blob([]), discoverModels: async () => [], imageBase64: async () => '' });
    expect(again.getState().speeds[before.key].runs).toBe(2);
  });

  it('Segmind: no work line', async () => {
    const { store } = setup([]);
    await store.getState().init();
    store.getState().setImage(tinyImage(64, 64));
    store.getState().setBackendChoice('segmind');
    expect(deriveView(store.getState()).estimate).toBeUndefined();
  });
});
