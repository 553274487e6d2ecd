/**
 * The gallery's storage: one folder per kept result, over any `GalleryFolders` (OPFS in the app, ./opfs-folders.ts;
 * memory in the tests, tests/gallery/memory-folders.ts). Lib-neutral: no DOM, no Node.
 *
 * Layout of one result folder (gallery/<id>/):
 *   video.mp4     the video as it was made
 *   frames.rgba.gz every frame, RGBA, back to back, gzip-compressed (./frames-codec.ts; count and size in meta.json);
 *                 absent for Segmind results. Results kept before 2026-12-07 have frames.rgba, uncompressed: still read.
 *   picture       the picture the first clip started from (its type in meta.json); absent when not kept
 *   meta.json     written LAST: the result's record and each file's byte size and SHA-256
 *
 * A folder without meta.json is a save that never finished (the tab closed, the disk filled): the next list() removes
 * it. open() re-reads every file and checks its size and hash; a mismatch is a 'corrupt' GalleryError naming the file.
 * Before writing, the bytes needed are compared with the browser's estimate of what the site may still store; a
 * shortfall is refused with the numbers, and a failure while writing removes only the folder being written.
 */
import { createHasher } from '../models/hasher.ts';
import { QUOTA_MARGIN_BYTES } from '../models/plan.ts';
import { formatBytes } from '../common/format.ts';
import { DEFAULT_REQUEST } from '../contract/request.ts';
import { GalleryError, type GalleryItem, type KeptResult, type OpenedResult, type ResultRecord } from './types.ts';
import { compressFrames, decodeFrames, firstFrameBytes } from './frames-codec.ts';
import { damagedWords, describeWhen, missingWords, quotaWords, writeFailedWords } from './words.ts';

export interface GalleryStore {
  /** keeps a result; throws GalleryError ('quota' before anything is written, 'io' after a failed write) */
  save(kept: KeptResult): Promise<GalleryItem>;
  /** every kept result, newest first (unfinished saves are removed on the way) */
  list(): Promise<GalleryItem[]>;
  /** a kept result with its files, each checked against its size and hash ('corrupt' / 'missing' GalleryError) */
  open(id: string): Promise<OpenedResult>;
  /** the video alone, checked like open() */
  video(id: string): Promise<Blob>;
  /** the picture alone (undefined when none was kept), checked like open() */
  picture(id: string): Promise<Blob | undefined>;
  /** what a thumbnail needs, unchecked and cheap: the first frame when there are frames, else the video */
  poster(id: string): Promise<{ frame?: { width: number; height: number; rgba: Uint8ClampedArray }; video?: Blob }>;
  remove(id: string): Promise<void>;
  /** bytes every result folder takes (unfinished ones included) */
  usage(): Promise<number>;
}

/** Where the result folders live. */
export interface GalleryFolders {
  /** the names of the result folders */
  folders(): Promise<string[]>;
  /** the files of a folder and their sizes; null when the folder does not exist */
  files(id: string): Promise<Map<string, number> | null>;
  /** writes `name` in folder `id` (both created when absent): the parts back to back */
  write(id: string, name: string, parts: Uint8Array[]): Promise<void>;
  /** the file, null when absent */
  read(id: string, name: string): Promise<Blob | null>;
  /** removes the folder and everything in it (nothing when absent) */
  removeFolder(id: string): Promise<void>;
}

export interface StorageEstimateLike {
  quota?: number;
  usage?: number;
}

export interface GalleryOptions {
  /** the site's quota and usage (navigator.storage.estimate); undefined: unknown, no check before writing */
  estimate?: () => Promise<StorageEstimateLike | undefined>;
  now?: () => number;
  /** a folder without meta.json younger than this is taken for a save in progress in another tab and left alone */
  unfinishedAfterMs?: number;
  randomSuffix?: () => string;
}

export const META = 'meta.json';
export const VIDEO = 'video.mp4';
export const FRAMES = 'frames.rgba.gz';
/** uncompressed frames, as results kept before 2026-12-07 have them */
export const RAW_FRAMES = 'frames.rgba';
export const PICTURE = 'picture';
/** what meta.json takes at most, counted before writing (its exact size is known only at the end) */
const META_ALLOWANCE = 8 * 1024;

interface StoredFile {
  bytes: number;
  sha256: string;
  type?: string;
}

interface Meta {
  format: 'svd-web-gallery';
  version: 1;
  id: string;
  record: ResultRecord;
  files: {
    video: StoredFile;
    /** bytes/sha256: of the stored file; `encoding` absent: uncompressed (RAW_FRAMES) */
    frames?: StoredFile & { count: number; frameBytes: number; width: number; height: number; encoding?: 'gzip' };
    picture?: StoredFile;
  };
}

function fileName(meta: Meta, which: keyof Meta['files']): string {
  if (which === 'frames') return meta.files.frames?.encoding === 'gzip' ? FRAMES : RAW_FRAMES;
  return which === 'video' ? VIDEO : PICTURE;
}

async function sha256Hex(parts: Uint8Array[]): Promise<string> {
  const h = await createHasher();
  for (const p of parts) h.update(p);
  return h.hex();
}

function bytesOf(a: Uint8ClampedArray | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The record fields of a kept result (no blobs), as meta.json keeps them. */
function recordOf(k: KeptResult): ResultRecord {
  return {
    createdAt: k.createdAt, backend: k.backend, device: k.device, model: k.model, request: k.request, seed: k.seed,
    fps: k.fps, frameCount: k.frameCount, width: k.width, height: k.height, elapsedMs: k.elapsedMs,
    timings: k.timings, cost: k.cost, clips: k.clips,
  };
}

function parseMeta(text: string, id: string): Meta | string {
  let m: Partial<Meta>;
  try {
    m = JSON.parse(text) as Partial<Meta>;
  } catch {
    return 'its description (meta.json) is not readable';
  }
  const r = m?.record as Partial<ResultRecord> | undefined;
  if (m?.format !== 'svd-web-gallery' || m.version !== 1 || !r || !m.files?.video) return 'its description (meta.json) is not one this app wrote';
  if (m.id !== id) return `its description (meta.json) belongs to another result (${String(m.id)})`;
  for (const k of ['createdAt', 'fps', 'frameCount', 'width', 'height', 'elapsedMs'] as const) {
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) return `its description (meta.json) has no valid ${k}`;
  }
  if (typeof r.request !== 'object' || r.request === null || !Array.isArray(r.clips)) return 'its description (meta.json) lacks the request or the clips';
  return m as Meta;
}

/** The time a folder was started, from its name (`<ms>-<suffix>`); undefined for a name this app did not make. */
export function folderTime(id: string): number | undefined {
  const m = /^(\d{10,})-[a-z0-9]+$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

export function createGalleryStore(folders: GalleryFolders, options: GalleryOptions = {}): GalleryStore {
  const now = options.now ?? (() => Date.now());
  const unfinishedAfter = options.unfinishedAfterMs ?? 10 * 60_000;
  const suffix = options.randomSuffix ?? (() => Math.random().toString(36).slice(2, 8).padEnd(6, '0'));
  /** folders this store is writing now (never taken for unfinished saves) */
  const saving = new Set<string>();

  const itemOf = (meta: Meta, metaBytes: number): GalleryItem => ({
    ...meta.record,
    id: meta.id,
    bytes: metaBytes + meta.files.video.bytes + (meta.files.frames?.bytes ?? 0) + (meta.files.picture?.bytes ?? 0),
    hasFrames: meta.files.frames !== undefined,
    hasPicture: meta.files.picture !== undefined,
  });

  /** A result whose meta.json cannot be used: listed so it can be deleted, with what is wrong. */
  const damagedItem = (id: string, bytes: number, why: string): GalleryItem => {
    const createdAt = folderTime(id) ?? 0;
    return {
      id, createdAt, backend: 'local', request: { ...DEFAULT_REQUEST }, fps: 0, frameCount: 0, width: 0, height: 0, elapsedMs: 0,
      clips: [], bytes, hasFrames: false, hasPicture: false, damaged: damagedWords(createdAt, why),
    };
  };

  async function readMeta(id: string): Promise<{ meta: Meta; metaBytes: number } | { damaged: string } | null> {
    const blob = await folders.read(id, META);
    if (!blob) return null;
    const meta = parseMeta(await blob.text(), id);
    return typeof meta === 'string' ? { damaged: meta } : { meta, metaBytes: blob.size };
  }

  async function metaOrThrow(id: string): Promise<{ meta: Meta; metaBytes: number }> {
    const m = await readMeta(id);
    if (!m) throw new GalleryError('missing', missingWords());
    if ('damaged' in m) throw new GalleryError('corrupt', damagedWords(folderTime(id) ?? 0, m.damaged));
    return m;
  }

  /** The bytes of one stored file, checked against its size and hash. */
  async function checkedFile(meta: Meta, which: keyof Meta['files']): Promise<{ blob: Blob; bytes: Uint8Array }> {
    const want = meta.files[which]!;
    const name = fileName(meta, which);
    const blob = await folders.read(meta.id, name);
    const problem = (what: string) => new GalleryError('corrupt', damagedWords(meta.record.createdAt, what));
    if (!blob) throw problem(`${name} is missing`);
    if (blob.size !== want.bytes) throw problem(`${name} has ${formatSize(blob.size, want.bytes)}`);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    if ((await sha256Hex([bytes])) !== want.sha256) throw problem(`${name} does not match its checksum`);
    return { blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: want.type ?? '' }), bytes };
  }

  const store: GalleryStore = {
    async save(kept) {
      const video = new Uint8Array(await kept.video.arrayBuffer());
      const frames = (kept.frames ?? []).map(bytesOf);
      const frameBytes = frames[0]?.byteLength ?? 0;
      if (frames.some((f) => f.byteLength !== frameBytes)) throw new GalleryError('io', 'The frames of this video are not all the same size; it was not kept.');
      const picture = kept.picture ? new Uint8Array(await kept.picture.arrayBuffer()) : undefined;
      const packed = frames.length > 0 ? await compressFrames(frames) : undefined;
      const needed = video.byteLength + (packed?.byteLength ?? 0) + (picture?.byteLength ?? 0) + META_ALLOWANCE;

      const estimate = await options.estimate?.().catch(() => undefined);
      if (estimate && typeof estimate.quota === 'number') {
        const available = Math.max(0, estimate.quota - (estimate.usage ?? 0));
        if (needed + QUOTA_MARGIN_BYTES > available) {
          throw new GalleryError('quota', quotaWords({ needed, margin: QUOTA_MARGIN_BYTES, available, quota: estimate.quota, usage: estimate.usage ?? 0, gallery: await store.usage().catch(() => 0) }));
        }
      }

      const id = `${now()}-${suffix()}`;
      saving.add(id);
      try {
        const files: Meta['files'] = { video: { bytes: video.byteLength, sha256: await sha256Hex([video]), type: kept.video.type || 'video/mp4' } };
        await folders.write(id, VIDEO, [video]);
        if (packed) {
          files.frames = { bytes: packed.byteLength, sha256: await sha256Hex([packed]), count: frames.length, frameBytes, width: kept.width, height: kept.height, encoding: 'gzip' };
          await folders.write(id, FRAMES, [packed]);
        }
        if (picture) {
          files.picture = { bytes: picture.byteLength, sha256: await sha256Hex([picture]), type: kept.picture!.type || undefined };
          await folders.write(id, PICTURE, [picture]);
        }
        const meta: Meta = { format: 'svd-web-gallery', version: 1, id, record: recordOf(kept), files };
        const text = new TextEncoder().encode(JSON.stringify(meta));
        await folders.write(id, META, [text]);
        return itemOf(meta, text.byteLength);
      } catch (e) {
        await folders.removeFolder(id).catch(() => undefined);
        if (e instanceof GalleryError) throw e;
        const name = (e as { name?: string })?.name;
        throw new GalleryError(name === 'QuotaExceededError' ? 'quota' : 'io', writeFailedWords(name === 'QuotaExceededError', (e as Error)?.message ?? String(e)));
      } finally {
        saving.delete(id);
      }
    },

    async list() {
      const items: GalleryItem[] = [];
      for (const id of await folders.folders()) {
        const m = await readMeta(id).catch(() => ({ damaged: 'its description (meta.json) could not be read' }));
        if (m === null) {
          // no meta.json: a save that never finished, unless it is being written now (here or in another tab)
          const started = folderTime(id);
          if (!saving.has(id) && (started === undefined || now() - started > unfinishedAfter)) await folders.removeFolder(id).catch(() => undefined);
          continue;
        }
        if ('damaged' in m) {
          const files = await folders.files(id).catch(() => null);
          items.push(damagedItem(id, [...(files?.values() ?? [])].reduce((a, b) => a + b, 0), m.damaged));
        } else items.push(itemOf(m.meta, m.metaBytes));
      }
      return items.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    },

    async open(id) {
      const { meta, metaBytes } = await metaOrThrow(id);
      const video = await checkedFile(meta, 'video');
      let frames: Uint8ClampedArray[] | undefined;
      if (meta.files.frames) {
        const { count, frameBytes, encoding } = meta.files.frames;
        const bytes = await decodeFrames((await checkedFile(meta, 'frames')).blob, encoding);
        if (!bytes || bytes.byteLength !== count * frameBytes) {
          throw new GalleryError('corrupt', damagedWords(meta.record.createdAt, `${fileName(meta, 'frames')} does not hold its ${count} frames`));
        }
        frames = Array.from({ length: count }, (_, i) => new Uint8ClampedArray(bytes.buffer, bytes.byteOffset + i * frameBytes, frameBytes));
      }
      const picture = meta.files.picture ? (await checkedFile(meta, 'picture')).blob : undefined;
      return { item: itemOf(meta, metaBytes), video: video.blob, frames, picture };
    },

    async video(id) {
      const { meta } = await metaOrThrow(id);
      return (await checkedFile(meta, 'video')).blob;
    },

    async picture(id) {
      const { meta } = await metaOrThrow(id);
      return meta.files.picture ? (await checkedFile(meta, 'picture')).blob : undefined;
    },

    async poster(id) {
      const { meta } = await metaOrThrow(id);
      const f = meta.files.frames;
      if (f && f.frameBytes === f.width * f.height * 4) {
        const blob = await folders.read(id, fileName(meta, 'frames'));
        const first = blob && (await firstFrameBytes(blob, f.frameBytes, f.encoding));
        if (first) return { frame: { width: f.width, height: f.height, rgba: new Uint8ClampedArray(first.buffer, first.byteOffset, first.byteLength) } };
      }
      const video = await folders.read(id, VIDEO);
      return video ? { video: new Blob([video], { type: meta.files.video.type ?? 'video/mp4' }) } : {};
    },

    async remove(id) {
      await folders.removeFolder(id);
    },

    async usage() {
      let total = 0;
      for (const id of await folders.folders()) {
        for (const size of (await folders.files(id).catch(() => null))?.values() ?? []) total += size;
      }
      return total;
    },
  };
  return store;
}

/** "0 of 1.2 MB", "1.1 MB of 1.2 MB" */
function formatSize(have: number, want: number): string {
  return `${have === 0 ? '0' : formatBytes(have)} of ${formatBytes(want)}`;
}

export { describeWhen };
