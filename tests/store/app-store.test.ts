import { describe, expect, it } from 'vitest';
import { createAppStore, deriveView, type AppDeps } from '../../src/store/app-store.ts';
import { memoryStorage, STORAGE_KEYS } from '../../src/store/persist.ts';
import { SegmindError } from '../../src/engine/segmind/api.ts';
import type { ToGenerateWorker as ToWorker } from '../../src/protocol/generate.ts';
import { FakeWorker, tick, tinyImage, demoManifest, demoModel } from '../support/fakes.ts';

const manifest = demoManifest;
const demo = demoModel;
const gpuInfo = { device: 'webgpu' as const, reason: 'WebGPU adapter google swiftshader', features: [], crossOriginIsolated: true };

/** A worker that loads instantly and generates `frames` frames in two decode batches. */
function scriptedWorker(log: ToWorker[]) {
  return new FakeWorker((m, w) => {
    log.push(m);
    if (m.kind === 'probe') w.reply({ kind: 'probed', id: m.id, payload: gpuInfo });
    if (m.kind === 'load') w.reply({ kind: 'loaded', id: m.id, payload: { backend: 'local', manifest, device: gpuInfo } });
    if (m.kind === 'generate') {
      const { frames } = m.payload.request;
      const px = () => new Uint8ClampedArray(16 * 16 * 4);
      w.reply({ kind: 'progress', id: m.id, payload: { stage: 'encode', step: 1, total: 2 } });
      w.reply({ kind: 'progress', id: m.id, payload: { stage: 'denoise', step: 1, total: 2, etaSeconds: 3 } });
      w.reply({ kind: 'frames', id: m.id, payload: { start: 0, width: 16, height: 16, frames: [px(), px()] } });
      w.reply({ kind: 'frames', id: m.id, payload: { start: 2, width: 16, height: 16, frames: Array.from({ length: frames - 2 }, px) } });
      w.reply({ kind: 'result', id: m.id, payload: { backend: 'local', seed: 1234, width: 16, height: 16, fps: m.payload.request.fps, frameCount: frames, local: { device: 'webgpu', timings: { load: 1, encode: 1, denoise: 1, decode: 1, ortRun: 1, ortCall: 1, ortCallLoop: 1, ortCreate: 1, total: 4 }, readbacks: { denoise: 1 }, loop: 'device', graphCapture: { on: true }, work: { sampler: 'euler', steps: m.payload.request.steps, unetCalls: m.payload.request.steps, batch: 1 } } } });
    }
  });
}

function setup(over: Partial<AppDeps> = {}) {
  const storage = memoryStorage();
  const sent: ToWorker[] = [];
  const muxed: { frames: number; fps: number; format: string }[] = [];
  const deps: AppDeps = {
    storage,
    createWorker: () => scriptedWorker(sent),
    mux: async (f, o) => {
      muxed.push({ frames: f.rgba.length, fps: o.fps, format: o.format });
      o.onProgress?.(1);
      return new Blob([new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70])], { type: o.format === 'mp4' ? 'video/mp4' : `image/${o.format}` });
    },
    discoverModels: async () => [demo],
    imageBase64: async () => 'iVBORw0KGgo=',
    createObjectURL: () => `blob:${Math.random()}`,
    revokeObjectURL: () => undefined,
    ...over,
  };
  return { store: createAppStore(deps), storage, sent, muxed };
}

describe('app store', () => {
  it('probes, finds the demo model and decides on local WebGPU', async () => {
    const { store } = setup();
    await store.getState().init();
    const view = deriveView(store.getState());
    expect(view.decision).toMatchObject({ backend: 'local', device: 'webgpu', ready: true });
    expect(view.blocker).toBe('Add a picture first.');
    store.getState().setImage(tinyImage(320, 192));
    expect(deriveView(store.getState()).canGenerate).toBe(true);
    expect(deriveView(store.getState()).framing).toMatchObject({ width: 80, height: 48 });
  });

  it('runs a local job: load, progress, frames, mux, result with the seed used', async () => {
    const { store, sent, muxed } = setup();
    await store.getState().init();
    store.getState().setImage(tinyImage());
    store.getState().setField('frames', '3');
    store.getState().setField('fps', '6');
    const phases: string[] = [];
    store.subscribe((s, p) => {
      if (s.job.phase !== p.job.phase) phases.push(s.job.phase);
    });
    await store.getState().generate();
    const s = store.getState();
    expect(phases).toEqual(['loading-model', 'encoding', 'denoising', 'muxing', 'done']);
    expect(sent.map((m) => m.kind)).toEqual(['probe', 'load', 'generate']);
    expect(s.frames.filter(Boolean)).toHaveLength(3);
    expect(muxed).toEqual([{ frames: 3, fps: 6, format: 'mp4' }]);
    expect(s.result).toMatchObject({ backend: 'local', seed: 1234, frameCount: 3, fps: 6 });
    // The model stays loaded: a second run does not load again.
    await store.getState().generate();
    expect(sent.map((m) => m.kind)).toEqual(['probe', 'load', 'generate', 'generate']);
    store.getState().reuseSeed();
    expect(store.getState().draft.seed).toBe('1234');
    await store.getState().exportAs('gif');
    expect(store.getState().exports.gif?.status).toBe('done');
  });

  it('Segmind: maps errors to plain words and keeps the key only in storage', async () => {
    const calls: { key: string; endpoint?: string; frames: number }[] = [];
    let fail: SegmindError | undefined = new SegmindError('rate_limited', "Segmind's rate limit was reached (429). Try again after 2030-01-01 12:00:00 UTC.", { status: 429 });
    const { store, storage } = setup({
      segmindEndpoint: 'http://127.0.0.1:9/v1/svd',
      generateRemote: async (request, _image, o) => {
        calls.push({ key: o.apiKey, endpoint: o.endpoint, frames: request.frames });
        if (fail) throw fail;
        return { video: new Uint8Array([1, 2, 3]), mimeType: 'video/mp4', seed: 99, remainingCredits: 4.5, cost: 0.5 };
      },
    });
    await store.getState().init();
    store.getState().setBackendChoice('segmind');
    store.getState().setImage(tinyImage());
    expect(deriveView(store.getState()).blocker).toMatch(/Enter your Segmind API key/);
    store.getState().setApiKey('k-123');
    expect(storage.getItem(STORAGE_KEYS.apiKey)).toBe('k-123');
    await store.getState().generate();
    expect(store.getState().job.phase).toBe('error');
    expect(store.getState().error).toMatchObject({ title: 'Too many requests to Segmind', status: 429 });
    expect(store.getState().error?.message).toMatch(/2030-01-01 12:00:00 UTC/);
    fail = undefined;
    await store.getState().generate();
    expect(store.getState()).toMatchObject({ remainingCredits: 4.5, result: { backend: 'segmind', seed: 99 }, error: undefined });
    expect(calls).toEqual([{ key: 'k-123', endpoint: 'http://127.0.0.1:9/v1/svd', frames: 14 }, { key: 'k-123', endpoint: 'http://127.0.0.1:9/v1/svd', frames: 14 }]);
    store.getState().forgetApiKey();
    expect(storage.getItem(STORAGE_KEYS.apiKey)).toBeNull();
  });

  it('cancel during a Segmind call ends as cancelled, not as an error', async () => {
    const { store } = setup({
      generateRemote: (_r, _i, o) => new Promise((_, reject) => o.signal!.addEventListener('abort', () => reject(new SegmindError('aborted', 'The Segmind request was cancelled.')))),
    });
    await store.getState().init();
    store.getState().setBackendChoice('segmind');
    store.getState().setApiKey('k');
    store.getState().setImage(tinyImage());
    const run = store.getState().generate();
    await tick();
    expect(store.getState().job.phase).toBe('remote');
    store.getState().cancel();
    await run;
    expect(store.getState().job.phase).toBe('cancelled');
    expect(store.getState().error).toBeUndefined();
  });

  it('restores settings, backend choice and key from storage', () => {
    const storage = memoryStorage();
    storage.setItem(STORAGE_KEYS.params, JSON.stringify({ motion: '42', frames: '25' }));
    storage.setItem(STORAGE_KEYS.backend, 'segmind');
    storage.setItem(STORAGE_KEYS.apiKey, 'saved');
    const store = createAppStore({ storage, createWorker: () => new FakeWorker(), mux: async () => new Blob([]), discoverModels: async () => [], imageBase64: async () => '' });
    expect(store.getState()).toMatchObject({ backendChoice: 'segmind', apiKey: 'saved', draft: { motion: '42', frames: '25', fps: '7' } });
    store.getState().setField('fps', '12');
    expect(JSON.parse(storage.getItem(STORAGE_KEYS.params)!)).toMatchObject({ fps: '12', motion: '42' });
  });
});
