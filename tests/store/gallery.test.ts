/**
 * The gallery slice with the in-memory gallery (tests/gallery/memory-folders.ts) and a scripted worker: a finished
 * video is kept and listed; a failure to keep it is shown by the gallery and leaves the result and the job's error
 * alone; open, re-run (settings, seed and picture back), delete; no gallery in this browser.
 */
import { describe, expect, it } from 'vitest';
import { createAppStore, type AppDeps } from '../../src/store/app-store.ts';
import { memoryStorage } from '../../src/store/persist.ts';
import type { GalleryStore } from '../../src/gallery/gallery-store.ts';
import { VIDEO } from '../../src/gallery/gallery-store.ts';
import { FakeWorker, tinyImage, demoManifest, demoModel } from '../support/fakes.ts';
import { memoryGallery } from '../gallery/memory-folders.ts';

const manifest = demoManifest;
const demo = demoModel;
const cpu = { device: 'wasm' as const, reason: 'no WebGPU', features: [], crossOriginIsolated: true };

/** A worker that makes `frames` 16×16 frames, frame i filled with i + 1, and reports seed 1234. */
function worker() {
  return new FakeWorker((m, w) => {
    if (m.kind === 'probe') w.reply({ kind: 'probed', id: m.id, payload: cpu });
    if (m.kind === 'load') w.reply({ kind: 'loaded', id: m.id, payload: { backend: 'local', manifest, device: cpu } });
    if (m.kind === 'generate') {
      const { frames } = m.payload.request;
      w.reply({ kind: 'frames', id: m.id, payload: { start: 0, width: 16, height: 16, frames: Array.from({ length: frames }, (_, i) => new Uint8ClampedArray(16 * 16 * 4).fill(i + 1)) } });
      w.reply({ kind: 'result', id: m.id, payload: { backend: 'local', seed: 1234, width: 16, height: 16, fps: m.payload.request.fps, frameCount: frames, local: { device: 'wasm', timings: { load: 1, encode: 1, denoise: 1, decode: 1, ortRun: 1, ortCall: 1, ortCallLoop: 1, ortCreate: 1, total: 4 }, readbacks: { denoise: 1 }, loop: 'cpu', graphCapture: { on: false, reason: 'wasm' }, work: { sampler: 'euler', steps: m.payload.request.steps, unetCalls: m.payload.request.steps, batch: 1 } } } });
    }
  });
}

function setup(over: Partial<AppDeps> & { quota?: number } = {}) {
  const mem = memoryGallery({ quota: over.quota ?? 1e9, usage: 0 });
  const decoded: { name: string; bytes: number }[] = [];
  const deps: AppDeps = {
    storage: memoryStorage(),
    createWorker: worker,
    mux: async (f) => new Blob([new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, f.rgba.length])], { type: 'video/mp4' }),
    discoverModels: async () => [demo],
    imageBase64: async () => 'iVBORw0KGgo=',
    createObjectURL: () => `blob:${Math.random()}`,
    revokeObjectURL: () => undefined,
    gallery: mem.gallery,
    decodeImage: async (blob, name) => {
      decoded.push({ name, bytes: blob.size });
      return { ...tinyImage(40, 24), name, file: blob };
    },
    ...over,
  };
  return { store: createAppStore(deps), ...mem, decoded };
}

/** Waits until the gallery has settled (keepResult runs after the job is done). */
async function settled(store: ReturnType<typeof setup>['store'], items: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = store.getState();
    if (!s.galleryBusy && s.galleryItems.length === items) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`the gallery never settled at ${items} items (has ${store.getState().galleryItems.length}, busy ${JSON.stringify(store.getState().galleryBusy)})`);
}

async function makeVideo(store: ReturnType<typeof setup>['store'], fields: Record<string, string> = {}) {
  store.getState().setImage(tinyImage(40, 24));
  store.getState().setField('frames', '3');
  store.getState().setField('fps', '6');
  for (const [k, v] of Object.entries(fields)) store.getState().setField(k as 'steps', v);
  await store.getState().generate();
  expect(store.getState().job.phase).toBe('done');
}

describe('gallery slice', () => {
  it('keeps every finished video: listed with seed and frames, the result learns its gallery id; survives a new store (a reload)', async () => {
    const { store, gallery } = setup();
    await store.getState().init();
    expect(store.getState().galleryStatus).toBe('ready');
    await makeVideo(store, { steps: '2', motion: '90' });
    await settled(store, 1);
    const s = store.getState();
    const [item] = s.galleryItems;
    expect(item).toMatchObject({ seed: 1234, frameCount: 3, fps: 6, backend: 'local', device: 'wasm', model: { id: 'tiny-random' }, hasFrames: true, hasPicture: true });
    expect(item.request).toMatchObject({ steps: 2, motion: 90, frames: 3 });
    expect(item.clips).toEqual([{ seed: 1234, backend: 'local', frames: 3 }]);
    expect(s.result?.galleryId).toBe(item.id);
    expect(s.galleryUsage).toBe(item.bytes);
    expect(s.galleryNotice).toMatch(/^Kept in Your videos \([\d.]+ kB\)\.$/);
    // a reload: a new app store over the same storage lists it at init
    const again = createAppStore({ storage: memoryStorage(), createWorker: worker, mux: async () => new Blob(), discoverModels: async () => [demo], imageBase64: async () => '', gallery });
    await again.getState().init();
    expect(again.getState().galleryItems.map((i) => i.id)).toEqual([item.id]);
  });

  it('a quota shortfall while keeping is shown by the gallery; the result on screen and the job are untouched; earlier videos stay', async () => {
    const { store, space } = setup();
    await store.getState().init();
    await makeVideo(store);
    await settled(store, 1);
    const earlier = store.getState().galleryItems[0];
    space.usage = 1e9 - 1e6; // 1 MB left
    await makeVideo(store);
    await settled(store, 1);
    const s = store.getState();
    expect(s.galleryError?.code).toBe('quota');
    expect(s.galleryError?.message).toMatch(/^Not enough storage to keep this video: .* only 1\.0 MB more/);
    expect(s.error).toBeUndefined();
    expect(s.job.phase).toBe('done');
    expect(s.result).toBeDefined();
    expect(s.result?.galleryId).toBeUndefined();
    expect(s.galleryItems).toEqual([earlier]);
  });

  it('keepResult failing does not change the result object at all', async () => {
    const failing: GalleryStore = { ...memoryGallery().gallery, save: async () => { throw new Error('boom'); } };
    const { store } = setup({ gallery: failing });
    await store.getState().init();
    await makeVideo(store);
    const result = store.getState().result;
    await settled(store, 0);
    expect(store.getState().result).toBe(result);
    expect(store.getState().galleryError).toMatchObject({ code: 'io' });
    expect(store.getState().galleryError?.message).toMatch(/boom/);
    expect(store.getState().error).toBeUndefined();
  });

  it('Open puts a kept result on screen with its frames; a damaged one says which file, and leaves the screen alone', async () => {
    const { store, folders } = setup();
    await store.getState().init();
    await makeVideo(store);
    await settled(store, 1);
    const id = store.getState().galleryItems[0].id;
    store.getState().clearImage();
    await store.getState().openItem(id);
    let s = store.getState();
    expect(s.galleryError).toBeUndefined();
    expect(s.result).toMatchObject({ galleryId: id, seed: 1234, frameCount: 3, fps: 6 });
    expect(s.frames.map((f) => f?.rgba[0])).toEqual([1, 2, 3]);
    const shown = s.result;
    folders.data.get(id)!.set(VIDEO, new Uint8Array(2));
    await store.getState().openItem(id);
    s = store.getState();
    expect(s.galleryError).toMatchObject({ code: 'corrupt', id });
    expect(s.galleryError?.message).toMatch(/is damaged \(video\.mp4 has 2 B of 9 B\): delete it; the other results are fine\./);
    expect(s.result).toBe(shown);
    expect(s.error).toBeUndefined();
  });

  it('Re-run puts the settings, the seed used and the picture back; the user then presses Generate', async () => {
    const { store, decoded } = setup();
    await store.getState().init();
    await makeVideo(store, { steps: '2', motion: '90', cond_aug: '0.1' });
    await settled(store, 1);
    const id = store.getState().galleryItems[0].id;
    // the form moves on
    store.getState().setField('steps', '7');
    store.getState().setField('motion', '20');
    store.getState().setField('frames', '2');
    store.getState().rollSeed();
    store.getState().clearImage();
    await store.getState().rerunItem(id);
    const s = store.getState();
    expect(s.galleryError).toBeUndefined();
    expect(s.draft).toMatchObject({ steps: '2', motion: '90', cond_aug: '0.1', frames: '3', fps: '6', seed: '1234' });
    expect(s.setByUser).toContain('steps');
    expect(s.image?.name).toMatch(/^picture of .*\.png$/);
    expect(decoded).toEqual([{ name: s.image!.name, bytes: 4 }]);
    expect(s.galleryNotice).toMatch(/settings and seed 1234 .* back in the form, with its picture; press Generate/);
    // the same seed and settings go to the worker
    await store.getState().generate();
    expect(store.getState().result?.seed).toBe(1234);
  });

  it('Delete removes it from the list and the storage; the usage follows', async () => {
    const { store, folders } = setup();
    await store.getState().init();
    await makeVideo(store);
    await settled(store, 1);
    await makeVideo(store);
    await settled(store, 2);
    const [newest, older] = store.getState().galleryItems;
    await store.getState().deleteItem(newest.id);
    const s = store.getState();
    expect(s.galleryItems.map((i) => i.id)).toEqual([older.id]);
    expect(s.galleryUsage).toBe(older.bytes);
    expect(folders.data.has(newest.id)).toBe(false);
    expect(s.galleryNotice).toMatch(/^Deleted the video of .* \([\d.]+ kB freed\)\.$/);
    expect(await store.getState().downloadItem(older.id)).toBeInstanceOf(Blob);
  });

  it('without a gallery (no OPFS) the gallery says it is unavailable and a finished video is simply not kept', async () => {
    const { store } = setup({ gallery: undefined });
    await store.getState().init();
    expect(store.getState().galleryStatus).toBe('unavailable');
    await makeVideo(store);
    expect(await store.getState().keepResult({} as never)).toBeUndefined();
    await store.getState().openItem('x');
    expect(store.getState().galleryError?.message).toMatch(/cannot be kept in this browser/);
    expect(store.getState().result).toBeDefined();
  });
});
