/**
 * "Continue from here" and loops in the store (issue 15), with a scripted worker whose frames say which job and
 * which frame they are, so every join can be read off the pixels.
 */
import { describe, expect, it } from 'vitest';
import { createAppStore, type AppDeps } from '../../src/store/app-store.ts';
import { memoryStorage } from '../../src/store/persist.ts';
import type { ToGenerateWorker as ToWorker } from '../../src/protocol/generate.ts';
import type { KeptResult } from '../../src/gallery/types.ts';
import { FakeWorker, tick, tinyImage, demoManifest, demoModel } from '../support/fakes.ts';

const manifest = demoManifest;
const demo = demoModel;
const gpuInfo = { device: 'webgpu' as const, reason: 'WebGPU adapter', features: [], crossOriginIsolated: true };

/** pixel 0 of every frame: [job, frame index, 0, 255] */
const tagOf = (rgba: ArrayLike<number>) => `${rgba[0]}:${rgba[1]}`;

function setup(over: Partial<AppDeps> & { failJob?: number } = {}) {
  const sent: ToWorker[] = [];
  const muxed: { frames: string[]; format: string }[] = [];
  const kept: KeptResult[] = [];
  let jobs = 0;
  const worker = () => new FakeWorker((m, w) => {
    sent.push(m);
    if (m.kind === 'probe') w.reply({ kind: 'probed', id: m.id, payload: gpuInfo });
    if (m.kind === 'load') w.reply({ kind: 'loaded', id: m.id, payload: { backend: 'local', manifest, device: gpuInfo } });
    if (m.kind === 'generate') {
      const job = ++jobs;
      if (job === over.failJob) {
        w.reply({ kind: 'error', id: m.id, payload: { code: 'out-of-memory', message: 'the GPU ran out of memory' } } as never);
        return;
      }
      const { frames } = m.payload.request;
      const width = m.payload.request.width ?? 64, height = m.payload.request.height ?? 64;
      const px = (i: number) => { const a = new Uint8ClampedArray(width * height * 4); a[0] = job; a[1] = i; a[3] = 255; return a; };
      w.reply({ kind: 'frames', id: m.id, payload: { start: 0, width, height, frames: Array.from({ length: frames }, (_, i) => px(i)) } });
      w.reply({ kind: 'result', id: m.id, payload: { backend: 'local', seed: 1000 + job, width, height, fps: m.payload.request.fps, frameCount: frames, local: { device: 'webgpu', timings: { load: 1, encode: 1, denoise: 1, decode: 1, ortRun: 1, ortCall: 1, ortCallLoop: 1, ortCreate: 1, total: 4 }, readbacks: { denoise: 1 }, loop: 'device', graphCapture: { on: true }, work: { sampler: 'euler', steps: 2, unetCalls: 2, batch: 1 } } } });
    }
  });
  const deps: AppDeps = {
    storage: memoryStorage(),
    createWorker: worker,
    mux: async (f, o) => {
      muxed.push({ frames: f.rgba.map(tagOf), format: o.format });
      return new Blob([new Uint8Array([muxed.length])], { type: o.format === 'mp4' ? 'video/mp4' : `image/${o.format}` });
    },
    discoverModels: async () => [demo],
    imageBase64: async (image) => `png-of:${image.name}`,
    frameImage: async (frame, name) => ({ input: { width: frame.width, height: frame.height, rgba: frame.rgba }, previewUrl: '', name, file: new Blob([frame.rgba.slice(0, 4)], { type: 'image/png' }), format: 'png', animated: false }),
    createObjectURL: () => `blob:${Math.random()}`,
    revokeObjectURL: () => undefined,
    ...over,
  };
  const store = createAppStore(deps);
  const keepResult = store.getState().keepResult;
  store.setState({ keepResult: async (k: KeptResult) => { kept.push(k); return (await keepResult(k)) ?? `id-${kept.length}`; } });
  return { store, sent, muxed, kept };
}

async function firstVideo(over: Parameters<typeof setup>[0] = {}) {
  const t = setup(over);
  await t.store.getState().init();
  t.store.getState().setImage(tinyImage());
  t.store.getState().setField('frames', '3');
  await t.store.getState().generate();
  expect(t.store.getState().result?.frameCount).toBe(3);
  return t;
}

const generated = (sent: ToWorker[]) => sent.filter((m): m is Extract<ToWorker, { kind: 'generate' }> => m.kind === 'generate');

describe('continue a video from a frame', () => {
  it('from the last frame: the frame is the next picture; one video of F + F − 1 frames; twice: 3F − 2', async () => {
    const { store, sent, muxed, kept } = await firstVideo();
    await store.getState().extendFrom();
    let s = store.getState();
    expect(s.error).toBeUndefined();
    // the second job's picture is frame 3 of the first video, pixel for pixel
    const second = generated(sent)[1].payload.image;
    expect([second.width, second.height, tagOf(second.rgba)]).toEqual([64, 64, '1:2']);
    expect(s.result).toMatchObject({ frameCount: 5, seed: 1002, clips: [{ seed: 1001, frames: 3 }, { seed: 1002, frames: 3, continuedFrom: 2 }] });
    expect(s.frames.map((f) => tagOf(f!.rgba))).toEqual(['1:0', '1:1', '1:2', '2:1', '2:2']);
    expect(muxed.at(-1)).toEqual({ format: 'mp4', frames: ['1:0', '1:1', '1:2', '2:1', '2:2'] });
    // the user's picture is still the one in the picture panel
    expect(s.image?.name).toBe('test.png');
    await store.getState().extendFrom();
    s = store.getState();
    expect(s.result?.frameCount).toBe(3 * 3 - 2);
    expect(s.frames.map((f) => tagOf(f!.rgba))).toEqual(['1:0', '1:1', '1:2', '2:1', '2:2', '3:1', '3:2']);
    expect(s.result?.clips).toHaveLength(3);
    // every result went to the gallery with the joined frames and the first clip's picture (for Re-run)
    expect(kept.map((k) => [k.frameCount, k.frames?.length, k.clips.length])).toEqual([[3, 3, 1], [5, 5, 2], [7, 7, 3]]);
    for (const k of kept) expect(k.picture).toBe(s.image!.file);
    // the result on screen learns its gallery id once kept
    await tick();
    expect(store.getState().result?.galleryId).toBe('id-3');
  });

  it('from a middle frame: the rest of the video is replaced by the new clip', async () => {
    const { store } = await firstVideo();
    await store.getState().extendFrom(0);
    expect(store.getState().frames.map((f) => tagOf(f!.rgba))).toEqual(['1:0', '2:1', '2:2']);
    expect(store.getState().result?.clips[1]).toMatchObject({ continuedFrom: 0 });
  });

  it('settings that make another size: refused before any work, naming both sizes; the video stays', async () => {
    const { store, sent } = await firstVideo();
    const before = store.getState().result;
    store.getState().setField('resolution', 'custom');
    store.getState().setField('width', '128');
    store.getState().setField('height', '64');
    await store.getState().extendFrom();
    const s = store.getState();
    expect(generated(sent)).toHaveLength(1);
    expect(s.error?.title).toBe('This video cannot be continued');
    expect(s.error?.message).toContain('This video is 64×64, but the settings make 128×64 videos');
    expect(s.result).toBe(before);
    expect(s.frames).toHaveLength(3);
  });

  it('a continuation that fails leaves the video it continued on screen, frames and all', async () => {
    const { store } = await firstVideo({ failJob: 2 });
    const before = store.getState().result;
    await store.getState().extendFrom();
    const s = store.getState();
    expect(s.job.phase).toBe('error');
    expect(s.result).toBe(before);
    expect(s.frames.map((f) => tagOf(f!.rgba))).toEqual(['1:0', '1:1', '1:2']);
    expect(s.extending).toBeUndefined();
  });

  it('a frame that does not exist is refused in words', async () => {
    const { store, sent } = await firstVideo();
    await store.getState().extendFrom(3);
    expect(store.getState().notice).toBe('There is no frame 4: the video has 3 frames.');
    expect(generated(sent)).toHaveLength(1);
  });

  it('Segmind: the chosen frame is the next request\'s picture; the answer is decoded and joined', async () => {
    const pictures: string[] = [];
    const frame = (tag: number, i: number) => { const a = new Uint8Array(64 * 64 * 4); a[0] = tag; a[1] = i; return a; };
    const { store, muxed } = setup({
      generateRemote: async (_request, image) => {
        pictures.push(image);
        return { video: new Uint8Array([pictures.length]), mimeType: 'video/mp4', seed: 7 };
      },
      decodeVideo: async (blob) => {
        const n = new Uint8Array(await blob.arrayBuffer())[0];
        return { width: 64, height: 64, rgba: [0, 1, 2, 3].map((i) => frame(10 * n, i)) };
      },
    });
    await store.getState().init();
    store.getState().setBackendChoice('segmind');
    store.getState().setApiKey('k');
    store.getState().setImage(tinyImage());
    await store.getState().generate();
    expect(store.getState().frames).toEqual([]);
    await store.getState().extendFrom(1);
    const s = store.getState();
    expect(s.error).toBeUndefined();
    expect(pictures[1]).toBe('png-of:frame 2 of the video');
    expect(s.frames.map((f) => tagOf(f!.rgba))).toEqual(['10:0', '10:1', '20:1', '20:2', '20:3']);
    expect(muxed.at(-1)?.frames).toHaveLength(5);
    expect(s.result).toMatchObject({ backend: 'segmind', frameCount: 5 });
  });
});

describe('loops', () => {
  it('ping-pong previews and exports 2F − 2 frames in order; back to the video as made', async () => {
    const { store, muxed } = await firstVideo();
    await store.getState().setLoopMode('ping-pong');
    expect(store.getState().loopPreview).toMatchObject({ mode: 'ping-pong', status: 'done', frameCount: 4 });
    expect(muxed.at(-1)).toEqual({ format: 'mp4', frames: ['1:0', '1:1', '1:2', '1:1'] });
    await store.getState().exportAs('gif');
    expect(muxed.at(-1)).toEqual({ format: 'gif', frames: ['1:0', '1:1', '1:2', '1:1'] });
    await store.getState().setLoopMode('none');
    expect(store.getState().loopPreview).toBeUndefined();
    await store.getState().exportAs('webm');
    expect(muxed.at(-1)?.frames).toEqual(['1:0', '1:1', '1:2']);
  });

  it('cross-fade of a clip too short says why', async () => {
    const { store } = setup();
    await store.getState().init();
    store.getState().setImage(tinyImage());
    store.getState().setField('frames', '2');
    await store.getState().generate();
    await store.getState().setLoopMode('crossfade');
    expect(store.getState().loopPreview).toMatchObject({ status: 'error' });
    expect(store.getState().loopPreview?.error).toMatch(/needs at least 3 frames; the video has 2/);
  });
});

describe('a stored result on screen', () => {
  it('showStoredResult puts the video, its frames and its facts back, ready to continue', async () => {
    const { store } = await firstVideo();
    const rgba = Array.from({ length: 2 }, (_, i) => { const a = new Uint8ClampedArray(64 * 64 * 4); a[0] = 9; a[1] = i; return a; });
    const request = store.getState().result!.request;
    store.getState().showStoredResult({
      item: { id: 'g1', createdAt: 0, backend: 'local', request, seed: 5, fps: 7, frameCount: 2, width: 64, height: 64, elapsedMs: 1, clips: [{ seed: 5, backend: 'local', frames: 2 }], bytes: 1, hasFrames: true, hasPicture: false },
      video: new Blob([new Uint8Array([1])], { type: 'video/mp4' }),
      frames: rgba,
    });
    const s = store.getState();
    expect(s.result).toMatchObject({ galleryId: 'g1', seed: 5, frameCount: 2 });
    expect(s.frames.map((f) => tagOf(f!.rgba))).toEqual(['9:0', '9:1']);
    await store.getState().extendFrom();
    expect(store.getState().frames.map((f) => tagOf(f!.rgba))).toEqual(['9:0', '9:1', '2:1', '2:2']);
  });
});
