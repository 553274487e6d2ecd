/**
 * The app's store with the real browser dependencies: localStorage, the generation worker, ffmpeg.wasm, the
 * Segmind client and the clipboard. Components use `useApp(selector)` and `appStore.getState().<action>()`.
 */
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { createAppStore, deriveView, endpointOverride, type AppStore, type AppView } from './app-store.ts';
import { browserStorage } from './persist.ts';
import { DEMO_MODEL_ID, discoverDemoModel, type ModelChoice } from './models.ts';
import { modelStore } from './slices/library.ts';
import type { CachedModel } from '../models/cached-models.ts';
import { decodeImageBlob, fetchImage, ImageInputError, imageBase64ForApi, imageFromFrame } from './image-input.ts';
import { muxFrames } from '../video/mux.ts';
import { blobToBase64 } from '../common/base64.ts';
import { createGalleryStore } from '../gallery/gallery-store.ts';
import { opfsAvailable, opfsGalleryFolders } from '../gallery/opfs-folders.ts';
import { storageStatus } from '../models/site-storage.ts';

export const appStore = createAppStore({
  storage: browserStorage(),
  createWorker: () => new Worker(new URL('../../workers/generate.worker.ts', import.meta.url), { type: 'module', name: 'svd-generate' }),
  mux: muxFrames,
  discoverModels: () => discoverDemoModel(document.baseURI),
  imageBase64: imageBase64ForApi,
  // finished results kept in OPFS (gallery/), checked against the site's quota before writing
  gallery: opfsAvailable() ? createGalleryStore(opfsGalleryFolders(), { estimate: storageStatus }) : undefined,
  decodeImage: decodeImageBlob,
  frameImage: imageFromFrame,
  // mediabunny (WebCodecs) is loaded only when a video file has to be read
  decodeVideo: async (blob, signal) => (await import('../video/decode.ts')).decodeVideoFrames(blob, { signal }),
  blobToBase64,
  copyText: async (text) => {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
  },
  segmindEndpoint: endpointOverride(location.search),
});

// Models stored in this browser (downloaded or imported with the model manager) join the bundled demo model.
modelStore.subscribe((s, prev) => {
  if (s.cached !== prev.cached) appStore.getState().setLibraryModels(libraryChoices(s.cached));
});

export function libraryChoices(cached: CachedModel[]): ModelChoice[] {
  return cached
    .filter((c) => c.complete && c.manifest)
    .map((c) => ({
      id: c.id,
      label: c.source?.label ?? c.id,
      source: { kind: 'opfs', modelId: c.id },
      manifest: c.manifest,
      demo: c.id === DEMO_MODEL_ID || undefined,
      note: c.id === DEMO_MODEL_ID ? 'Random weights: the video is coloured noise (stored in this browser).' : 'Stored in this browser; works offline.',
    }));
}

export function useApp<T>(selector: (s: AppStore) => T): T {
  return useStore(appStore, useShallow(selector));
}

/** The derived view (backend decision, validated request, framing), recomputed when the state changes. */
export function useView(): AppView {
  return useStore(appStore, (s) => viewOf(s));
}

let lastState: AppStore | undefined;
let lastView: AppView | undefined;
function viewOf(s: AppStore): AppView {
  if (s !== lastState || !lastView) {
    lastState = s;
    lastView = deriveView(s);
  }
  return lastView;
}

export const actions = (): AppStore => appStore.getState();

let imageJob = 0;

/** Checks and decodes a picture from a file, a drop or a paste; the result or the refusal goes to the store. */
export async function loadImageBlob(blob: Blob, name: string): Promise<void> {
  const job = ++imageJob;
  appStore.getState().setImageBusy(true);
  try {
    const image = await decodeImageBlob(blob, name);
    if (job === imageJob) appStore.getState().setImage(image);
    else URL.revokeObjectURL(image.previewUrl);
  } catch (e) {
    if (job === imageJob) appStore.getState().setImageError(e instanceof ImageInputError ? e.message : `The picture could not be read: ${(e as Error).message}`);
  }
}

/** Fetches a picture by its web address (CORS), then as loadImageBlob. */
export async function loadImageUrl(url: string): Promise<void> {
  const job = ++imageJob;
  appStore.getState().setImageBusy(true);
  try {
    const image = await fetchImage(url);
    if (job === imageJob) appStore.getState().setImage(image);
    else URL.revokeObjectURL(image.previewUrl);
  } catch (e) {
    if (job === imageJob) appStore.getState().setImageError(e instanceof ImageInputError ? e.message : `The picture could not be loaded: ${(e as Error).message}`);
  }
}
