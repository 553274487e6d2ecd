/**
 * The gallery's storage (src/gallery/gallery-store.ts) over memory folders: what is saved comes back field for field
 * and byte for byte; an unfinished save is ignored and cleaned; a damaged file is named on open; a quota shortfall is
 * refused before anything is written, with the numbers, and leaves the results already kept as they were.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_REQUEST } from '../../src/contract/request.ts';
import { GalleryError, type KeptResult } from '../../src/gallery/types.ts';
import { FRAMES, META, PICTURE, RAW_FRAMES, VIDEO } from '../../src/gallery/gallery-store.ts';
import { decodeFrames } from '../../src/gallery/frames-codec.ts';
import { createHash } from 'node:crypto';
import { memoryGallery } from './memory-folders.ts';

/** Bytes that differ everywhere (a byte swapped or dropped shows). */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

function kept(over: Partial<KeptResult> = {}, seed = 1): KeptResult {
  const width = 16, height = 8, count = 3;
  return {
    createdAt: Date.UTC(2026, 11, 7, 14, 2) + seed,
    backend: 'local',
    device: 'wasm',
    model: { id: 'tiny-random', label: 'Tiny demo model' },
    request: { ...DEFAULT_REQUEST, seed: -1, frames: count, steps: 2, width, height, resolution: 'custom' },
    seed: 1234 + seed,
    fps: 6,
    frameCount: count,
    width,
    height,
    elapsedMs: 4321,
    timings: { load: 1, encode: 2, denoise: 3, decode: 4, ortRun: 5, ortCall: 6, ortCallLoop: 7, ortCreate: 8, total: 9 },
    clips: [{ seed: 1234 + seed, backend: 'local', frames: count }],
    video: new Blob([noise(5000, seed) as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }),
    frames: Array.from({ length: count }, (_, i) => new Uint8ClampedArray(noise(width * height * 4, seed * 10 + i))),
    picture: new Blob([noise(700, seed + 99) as Uint8Array<ArrayBuffer>], { type: 'image/png' }),
    ...over,
  };
}

async function bytes(b: Blob): Promise<Uint8Array> {
  return new Uint8Array(await b.arrayBuffer());
}

async function galleryError(p: Promise<unknown>): Promise<GalleryError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a GalleryError').toBeInstanceOf(GalleryError);
  return e as GalleryError;
}

describe('gallery store', () => {
  it('save → list → open keeps every field, the video, the picture and the frames byte-exact', async () => {
    const { gallery, folders } = memoryGallery();
    const k = kept();
    const item = await gallery.save(k);
    const { video, frames, picture, ...record } = k;
    expect(item).toMatchObject({ ...record, hasFrames: true, hasPicture: true });
    // the files, meta.json last
    expect(folders.writes).toEqual([VIDEO, FRAMES, PICTURE, META].map((n) => `${item.id}/${n}`));
    const sizes = await folders.files(item.id);
    expect(item.bytes).toBe([...sizes!.values()].reduce((a, b) => a + b, 0));
    // the frames are kept gzip-compressed: the stored file is a gzip stream of exactly the raw frames
    const stored = folders.data.get(item.id)!.get(FRAMES)!;
    expect(sizes!.get(FRAMES)).toBe(stored.byteLength);
    const raw = await decodeFrames(new Blob([stored as Uint8Array<ArrayBuffer>]), 'gzip');
    expect(raw).toEqual(Uint8Array.from(k.frames!.flatMap((f) => [...f])));
    expect(await gallery.usage()).toBe(item.bytes);

    const [listed] = await gallery.list();
    expect(listed).toEqual(item);
    const opened = await gallery.open(item.id);
    expect(opened.item).toEqual(item);
    expect(await bytes(opened.video)).toEqual(await bytes(video));
    expect(opened.video.type).toBe('video/mp4');
    expect(await bytes(opened.picture!)).toEqual(await bytes(picture!));
    expect(opened.picture!.type).toBe('image/png');
    expect(opened.frames).toHaveLength(3);
    opened.frames!.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(frames![i])), `frame ${i}`).toBe(true));
    expect(await bytes(await gallery.video(item.id))).toEqual(await bytes(video));
    const poster = await gallery.poster(item.id);
    expect(poster.frame).toMatchObject({ width: 16, height: 8 });
    expect(Buffer.from(poster.frame!.rgba).equals(Buffer.from(frames![0]))).toBe(true);
  });

  it('a result without frames or picture (Segmind) round-trips too, and its poster is the video', async () => {
    const { gallery } = memoryGallery();
    const item = await gallery.save(kept({ backend: 'segmind', device: undefined, model: undefined, frames: undefined, picture: undefined, cost: 0.5 }));
    expect(item).toMatchObject({ backend: 'segmind', cost: 0.5, hasFrames: false, hasPicture: false });
    const opened = await gallery.open(item.id);
    expect(opened.frames).toBeUndefined();
    expect(opened.picture).toBeUndefined();
    expect((await gallery.poster(item.id)).video?.size).toBe(5000);
  });

  it('lists newest first; remove deletes one result only', async () => {
    const { gallery, clock } = memoryGallery();
    const a = await gallery.save(kept({}, 1));
    clock.now += 1000;
    const b = await gallery.save(kept({ createdAt: Date.UTC(2026, 11, 8) }, 2));
    clock.now += 1000;
    const c = await gallery.save(kept({ createdAt: Date.UTC(2026, 11, 6) }, 3));
    expect((await gallery.list()).map((i) => i.id)).toEqual([b.id, a.id, c.id]);
    await gallery.remove(a.id);
    expect((await gallery.list()).map((i) => i.id)).toEqual([b.id, c.id]);
    expect(await gallery.usage()).toBe(b.bytes + c.bytes);
    expect((await galleryError(gallery.open(a.id))).code).toBe('missing');
  });

  it('a folder without meta.json is an unfinished save: not listed, removed once it is old, left alone while it may be in progress', async () => {
    const { gallery, folders, clock } = memoryGallery();
    const kept1 = await gallery.save(kept());
    const old = `${clock.now - 3_600_000}-dead01`;
    const fresh = `${clock.now - 5_000}-busy01`;
    folders.data.set(old, new Map([[VIDEO, new Uint8Array(100)]]));
    folders.data.set(fresh, new Map([[VIDEO, new Uint8Array(100)]]));
    expect((await gallery.list()).map((i) => i.id)).toEqual([kept1.id]);
    expect(folders.data.has(old)).toBe(false);
    expect(folders.data.has(fresh)).toBe(true);
    // the in-progress one is counted in the usage (it takes space), and cleaned once it is old
    expect(await gallery.usage()).toBe(kept1.bytes + 100);
    clock.now += 3_600_000;
    await gallery.list();
    expect(folders.data.has(fresh)).toBe(false);
  });

  it('a write that fails removes only the folder being written, and says so', async () => {
    const { gallery, folders } = memoryGallery();
    const first = await gallery.save(kept({}, 1));
    folders.failNextWrite = { name: FRAMES, error: new Error('disk unplugged') };
    const e = await galleryError(gallery.save(kept({}, 2)));
    expect(e.code).toBe('io');
    expect(e.message).toMatch(/could not be kept in this browser \(disk unplugged\).*other videos are kept/);
    expect([...folders.data.keys()]).toEqual([first.id]);
    // the browser's own quota error while writing is a quota error
    folders.failNextWrite = { name: VIDEO, error: Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' }) };
    const q = await galleryError(gallery.save(kept({}, 3)));
    expect(q.code).toBe('quota');
    expect(q.message).toMatch(/ran out of storage.*Delete older results in Your videos/);
    expect([...folders.data.keys()]).toEqual([first.id]);
    expect(Buffer.from((await gallery.open(first.id)).frames![2]).equals(Buffer.from(kept({}, 1).frames![2]))).toBe(true);
  });

  it('a damaged file is named on open, with what to do; the other results still open', async () => {
    const { gallery, folders, clock } = memoryGallery();
    const a = await gallery.save(kept({}, 1));
    clock.now += 1;
    const b = await gallery.save(kept({}, 2));
    clock.now += 1;
    const c = await gallery.save(kept({}, 3));
    // truncated to nothing
    folders.data.get(a.id)!.set(VIDEO, new Uint8Array(0));
    const e = await galleryError(gallery.open(a.id));
    expect(e.code).toBe('corrupt');
    expect(e.message).toMatch(/^The result of \d{1,2} Dec 2026, \d\d:\d\d is damaged \(video\.mp4 has 0 of 5\.0 kB\): delete it; the other results are fine\.$/);
    expect((await galleryError(gallery.video(a.id))).code).toBe('corrupt');
    // same size, one byte changed
    const f = folders.data.get(b.id)!.get(FRAMES)!;
    f[100] ^= 1;
    expect((await galleryError(gallery.open(b.id))).message).toMatch(/\(frames\.rgba\.gz does not match its checksum\)/);
    // a file gone
    folders.data.get(c.id)!.delete(PICTURE);
    expect((await galleryError(gallery.open(c.id))).message).toMatch(/\(picture is missing\)/);
    // the listing is unaffected (it reads no pixels); an untouched result opens
    expect(await gallery.list()).toHaveLength(3);
    const d = await gallery.save(kept({}, 4));
    expect((await gallery.open(d.id)).frames).toHaveLength(3);
  });

  it('smooth frames take far less than raw; a result kept before compression (frames.rgba) still opens byte-exact', async () => {
    const { gallery, folders } = memoryGallery();
    const [w, h] = [64, 32];
    // a gradient with a moving square, alpha 255: what a generated frame is like, not noise
    const frames = Array.from({ length: 4 }, (_, t) => {
      const f = new Uint8ClampedArray(w * h * 4);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        const inSquare = x >= 8 + t * 4 && x < 20 + t * 4 && y >= 8 && y < 20;
        f.set(inSquare ? [255, 255, 255, 255] : [x * 4, y * 8, 128, 255], i);
      }
      return f;
    });
    const item = await gallery.save(kept({ frames, width: w, height: h, frameCount: 4 }));
    const stored = folders.data.get(item.id)!.get(FRAMES)!;
    expect(stored.byteLength).toBeLessThan((w * h * 4 * 4) / 4);
    expect((await gallery.open(item.id)).frames!.map((f) => [...f])).toEqual(frames.map((f) => [...f]));
    expect((await gallery.poster(item.id)).frame!.rgba).toEqual(frames[0]);

    // the same result as an earlier version kept it: raw frames, no encoding in meta.json
    const folder = folders.data.get(item.id)!;
    const raw = Uint8Array.from(frames.flatMap((f) => [...f]));
    folder.delete(FRAMES);
    folder.set(RAW_FRAMES, raw);
    const meta = JSON.parse(new TextDecoder().decode(folder.get(META)!));
    delete meta.files.frames.encoding;
    meta.files.frames.bytes = raw.byteLength;
    meta.files.frames.sha256 = createHash('sha256').update(raw).digest('hex');
    folder.set(META, new TextEncoder().encode(JSON.stringify(meta)));
    expect((await gallery.open(item.id)).frames!.map((f) => [...f])).toEqual(frames.map((f) => [...f]));
    expect((await gallery.poster(item.id)).frame!.rgba).toEqual(frames[0]);
  });

  it('an unreadable meta.json lists the result as damaged (so it can be deleted) and refuses to open it', async () => {
    const { gallery, folders } = memoryGallery();
    const a = await gallery.save(kept());
    folders.data.get(a.id)!.set(META, new TextEncoder().encode('{"format": "svd-web-gal'));
    const [item] = await gallery.list();
    expect(item.id).toBe(a.id);
    expect(item.damaged).toMatch(/is damaged \(its description \(meta\.json\) is not readable\): delete it/);
    expect(item.bytes).toBeGreaterThan(5000);
    expect((await galleryError(gallery.open(a.id))).code).toBe('corrupt');
    await gallery.remove(a.id);
    expect(await gallery.list()).toEqual([]);
  });

  it('a quota shortfall is refused before anything is written, naming the numbers and what to do; earlier results are intact', async () => {
    const { gallery, folders, space } = memoryGallery({ quota: 1e9, usage: 1e8 });
    const first = await gallery.save(kept({}, 1));
    const writes = folders.writes.length;
    // 10 MB left: more than this video (~6 kB + 8 kB for meta.json), less than that plus the 16 MiB kept free
    space.usage = 1e9 - 10e6;
    const e = await galleryError(gallery.save(kept({}, 2)));
    expect(e.code).toBe('quota');
    expect(e.message).toMatch(/^Not enough storage to keep this video: it needs [\d.]+ kB and 16\.8 MB kept free, but this browser lets the site store only 10\.0 MB more \(quota 1\.00 GB, 990\.0 MB used, [\d.]+ kB of it by Your videos\)\. Nothing was written/);
    expect(e.message).toMatch(/Delete older results in Your videos or a model you no longer use, or free disk space/);
    expect(folders.writes.length).toBe(writes);
    expect([...folders.data.keys()]).toEqual([first.id]);
    expect((await gallery.open(first.id)).item).toEqual(first);
    // room again: it is kept
    space.usage = 1e8;
    expect((await gallery.save(kept({}, 2))).hasFrames).toBe(true);
  });

  it('an unknown estimate (no navigator.storage.estimate) does not block saving', async () => {
    const { gallery } = memoryGallery({ quota: undefined });
    expect((await gallery.save(kept())).frameCount).toBe(3);
  });
});
