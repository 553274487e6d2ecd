/**
 * The gallery ("Your videos"): every finished result kept in this browser (src/gallery), listed across reloads and
 * offline, with open, download, re-run, continue and delete. Its errors and notices are its own: a result that could
 * not be kept, or a stored one that is damaged, is said in the gallery and never touches the job's result or error.
 */
import { FIELD_NAMES, type FieldName, type SvdRequest } from '../../contract/request.ts';
import { formatBytes } from '../../common/format.ts';
import type { GalleryStore } from '../../gallery/gallery-store.ts';
import { GalleryError, type GalleryErrorCode, type GalleryItem, type KeptResult } from '../../gallery/types.ts';
import { describeWhen, unavailableWords } from '../../gallery/words.ts';
import type { LoadedImage } from '../image-check.ts';
import { isRunning } from '../format.ts';
import { MODEL_FIELDS, recommendedValues, sameValue } from '../model-defaults.ts';
import { selectedModel } from '../models.ts';
import type { Draft } from '../persist.ts';
import type { GetState, SetState } from './types.ts';

export type GalleryAction = 'save' | 'open' | 'download' | 'rerun' | 'extend' | 'delete';

export interface GalleryPoster {
  frame?: { width: number; height: number; rgba: Uint8ClampedArray };
  video?: Blob;
}

export interface GallerySlice {
  /** the kept results, newest first */
  galleryItems: GalleryItem[];
  /** bytes the kept results take in this browser's storage */
  galleryUsage: number;
  galleryStatus: 'idle' | 'loading' | 'ready' | 'unavailable' | 'error';
  /** what the last gallery action could not do (`id`: the result it was about) */
  galleryError?: { code: GalleryErrorCode; message: string; id?: string };
  /** a short line after a gallery action ("Kept in Your videos (1.2 MB).") */
  galleryNotice?: string;
  /** the gallery action in progress */
  galleryBusy?: { action: GalleryAction; id?: string };
  loadGallery(): Promise<void>;
  /** keeps a finished result; resolves to its gallery id, or undefined when it could not be kept (the gallery says why) */
  keepResult(kept: KeptResult): Promise<string | undefined>;
  /** puts a kept result on screen as the current result, frames included */
  openItem(id: string): Promise<void>;
  /** the kept video, checked (undefined when it cannot be read: the gallery says why) */
  downloadItem(id: string): Promise<Blob | undefined>;
  /** the result's settings with the seed it used, and its picture, back in the form; then the user presses Generate */
  rerunItem(id: string): Promise<void>;
  /** opens the result and continues it from its last frame */
  extendItem(id: string): Promise<void>;
  deleteItem(id: string): Promise<void>;
  /** the first frame (or the video) for a thumbnail; undefined when it cannot be read */
  galleryPoster(id: string): Promise<GalleryPoster | undefined>;
  dismissGalleryError(): void;
}

export interface GalleryDeps {
  /** absent: this browser cannot keep results (the gallery says so) */
  gallery?: GalleryStore;
  /** decodes a kept picture for Re-run (browser only) */
  decodeImage?: (blob: Blob, name: string) => Promise<LoadedImage>;
}

/** The form's values for a request (strings as the form holds them), with `seed` as the seed. */
export function draftOfRequest(request: SvdRequest, seed: number): Draft {
  const draft: Draft = {};
  for (const name of FIELD_NAMES) {
    const v = (request as unknown as Partial<Record<FieldName, unknown>>)[name];
    if (typeof v === 'boolean') draft[name] = v;
    else if (typeof v === 'number' || typeof v === 'string') draft[name] = String(v);
    else draft[name] = '';
  }
  draft.seed = String(seed);
  return draft;
}

const PICTURE_EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif', 'image/avif': 'avif' };

export function createGallerySlice(set: SetState, get: GetState, deps: GalleryDeps = {}): GallerySlice {
  const store = deps.gallery;
  let refreshSeq = 0;

  /** Reloads the list and the usage; the newest call wins. */
  async function refresh(): Promise<void> {
    if (!store) return;
    const seq = ++refreshSeq;
    const items = await store.list();
    const usage = await store.usage();
    if (seq === refreshSeq) set({ galleryItems: items, galleryUsage: usage, galleryStatus: 'ready' });
  }

  const failed = (e: unknown, id?: string) => {
    const code: GalleryErrorCode = e instanceof GalleryError ? e.code : 'io';
    const message = e instanceof GalleryError ? e.message : `Your videos could not be read: ${(e as Error)?.message ?? String(e)}. Reload the page; if it happens again, delete the result.`;
    set({ galleryError: { code, message, id }, galleryNotice: undefined });
    // a result gone (another tab) or damaged: the list shows what is really there
    if (code === 'missing' || code === 'corrupt') void refresh().catch(() => undefined);
  };

  /** Runs a gallery action: one at a time, its error shown by the gallery. */
  async function act<T>(action: GalleryAction, id: string | undefined, work: (s: GalleryStore) => Promise<T>): Promise<T | undefined> {
    if (!store) {
      set({ galleryError: { code: 'unavailable', message: unavailableWords(), id } });
      return undefined;
    }
    set({ galleryBusy: { action, id }, galleryError: undefined, galleryNotice: undefined });
    try {
      return await work(store);
    } catch (e) {
      failed(e, id);
      return undefined;
    } finally {
      if (get().galleryBusy?.action === action && get().galleryBusy?.id === id) set({ galleryBusy: undefined });
    }
  }

  const itemOf = (id: string) => get().galleryItems.find((i) => i.id === id);
  const whenOf = (id: string) => {
    const item = itemOf(id);
    return item ? `the video of ${describeWhen(item.createdAt)}` : 'this video';
  };
  const busyWithJob = () => {
    if (!isRunning(get().job.phase)) return false;
    set({ galleryError: { code: 'io', message: 'A video is being made: wait until it is done (or cancel it), then try again.' } });
    return true;
  };

  return {
    galleryItems: [],
    galleryUsage: 0,
    galleryStatus: store ? 'idle' : 'unavailable',
    galleryError: undefined,
    galleryNotice: undefined,
    galleryBusy: undefined,

    async loadGallery() {
      if (!store) {
        set({ galleryStatus: 'unavailable' });
        return;
      }
      set({ galleryStatus: 'loading' });
      try {
        await refresh();
      } catch (e) {
        set({ galleryStatus: 'error' });
        failed(e);
      }
    },

    async keepResult(kept) {
      if (!store) return undefined;
      const item = await act('save', undefined, async (s) => {
        try {
          return await s.save(kept);
        } finally {
          await refresh().catch(() => undefined);
        }
      });
      if (item) set({ galleryNotice: `Kept in Your videos (${formatBytes(item.bytes)}).` });
      return item?.id;
    },

    async openItem(id) {
      if (busyWithJob()) return;
      const opened = await act('open', id, (s) => s.open(id));
      if (!opened) return;
      get().showStoredResult(opened);
      set({ galleryNotice: `Opened the video of ${describeWhen(opened.item.createdAt)}.` });
    },

    async downloadItem(id) {
      return act('download', id, (s) => s.video(id));
    },

    async rerunItem(id) {
      if (busyWithJob()) return;
      const item = itemOf(id);
      if (!item || item.damaged) {
        set({ galleryError: { code: item ? 'corrupt' : 'missing', message: item?.damaged ?? 'This result is not in Your videos any more; the list is refreshed.', id } });
        await refresh().catch(() => undefined);
        return;
      }
      const done = await act('rerun', id, async (s) => {
        const picture = item.hasPicture ? await s.picture(id) : undefined;
        let image: LoadedImage | undefined;
        if (picture) {
          if (!deps.decodeImage) throw new GalleryError('io', 'The kept picture cannot be decoded here.');
          try {
            image = await deps.decodeImage(picture, `picture of ${describeWhen(item.createdAt)}.${PICTURE_EXT[picture.type] ?? 'png'}`);
          } catch (e) {
            throw new GalleryError('corrupt', `The picture kept with the video of ${describeWhen(item.createdAt)} cannot be decoded (${(e as Error).message}); the settings were not changed.`);
          }
        }
        return { image };
      });
      if (!done) return;
      const st = get();
      let modelNote = '';
      if (item.model) {
        if (st.models.some((m) => m.id === item.model!.id)) st.setModel(item.model.id);
        else modelNote = ` Its model, ${item.model.label}, is not in this browser any more: ${selectedModel(st)?.label ?? 'another model'} is used.`;
      }
      const seed = item.seed ?? item.request.seed;
      const draft = { ...get().draft, ...draftOfRequest(item.request, seed) };
      const want = recommendedValues(selectedModel(get())?.manifest);
      set({ draft, setByUser: MODEL_FIELDS.filter((f) => !sameValue(draft[f], want[f])) });
      if (done.image) get().setImage(done.image);
      const where = item.backend === 'segmind' && get().backendChoice !== 'segmind' ? ' It was made on Segmind: pick Segmind under "Where it runs" for the same video.' : '';
      set({
        galleryNotice: `The settings and seed ${seed} of the video of ${describeWhen(item.createdAt)} are back in the form` +
          `${done.image ? ', with its picture' : ' (its picture was not kept: add it again)'}; press Generate to make it again.${modelNote}${where}`,
      });
    },

    async extendItem(id) {
      if (busyWithJob()) return;
      await get().openItem(id);
      if (get().galleryError || get().result?.galleryId !== id) return;
      await get().extendFrom();
    },

    async deleteItem(id) {
      const words = whenOf(id);
      const bytes = itemOf(id)?.bytes;
      const ok = await act('delete', id, async (s) => {
        await s.remove(id);
        await refresh();
        return true;
      });
      if (ok) set({ galleryNotice: `Deleted ${words}${bytes ? ` (${formatBytes(bytes)} freed)` : ''}.` });
    },

    async galleryPoster(id) {
      if (!store) return undefined;
      try {
        return await store.poster(id);
      } catch {
        return undefined;
      }
    },

    dismissGalleryError() {
      set({ galleryError: undefined });
    },
  };
}
