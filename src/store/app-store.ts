/**
 * The app's state and the ONLY bridge between the UI and the engines (the generation worker, Segmind) and the
 * muxer. Components read state with `useApp(selector)` and call actions; they never talk to a worker, fetch or
 * ffmpeg themselves.
 *
 * One zustand store made of slices, one per concern (./slices): the picture, the settings, the local models,
 * the Segmind key, the job, the first-run tour. The derived view lives in ./view.ts, the error wording in ./errors.ts.
 * Dependencies are injected so the logic can be tested in Node with fakes; src/store/index.ts wires the real ones.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { LocalEngine, SvdEngine } from '../engine/engine.ts';
import { WorkerEngine } from '../engine/worker-engine.ts';
import type { WorkerLike } from '../engine/worker-client.ts';
import { SegmindEngine } from '../engine/segmind/engine.ts';
import type { generateRemote } from '../engine/segmind/api.ts';
import type { MuxOptions, RgbaFrames } from '../video/mux.ts';
import { selectedModel, type ModelChoice } from './models.ts';
import { saveDraft, saveString, STORAGE_KEYS, writeJson, type KeyValueStorage } from './persist.ts';
import { adoptModelDefaults, recommendedValues } from './model-defaults.ts';
import { saveSpeeds } from './estimate.ts';
import type { LoadedImage } from './image-check.ts';
import { createImageSlice, type ImageSlice } from './slices/image.ts';
import { createSettingsSlice, type SettingsSlice } from './slices/settings.ts';
import { createModelsSlice, type ModelsSlice } from './slices/models.ts';
import { createRemoteKeySlice, type RemoteKeySlice } from './slices/remote-key.ts';
import { createJobSlice, type JobDeps, type JobSlice } from './slices/job.ts';
import { createSpeedSlice, type SpeedSlice } from './slices/speed.ts';
import { createTourSlice, type TourSlice } from './slices/tour.ts';
import { createGallerySlice, type GallerySlice } from './slices/gallery.ts';
import { createClipSlice, type ClipSlice } from './slices/clip.ts';
import type { GalleryStore } from '../gallery/gallery-store.ts';

export type { JobState, FrameSlot, ResultState, ExportFormat, ExportState } from './slices/job.ts';
export type { LoopPreview } from './slices/clip.ts';
export type { AppError } from './errors.ts';
export type { BackendChoice } from './backend.ts';
export { deriveView, type AppView } from './view.ts';
export { describeError } from './errors.ts';
export { endpointOverride } from './slices/remote-key.ts';

export interface LifecycleSlice {
  /** probes the device and finds the bundled models (once) */
  init(): Promise<void>;
}

export type AppState = ImageSlice & SettingsSlice & ModelsSlice & RemoteKeySlice & JobSlice & SpeedSlice & TourSlice & GallerySlice & ClipSlice;
export type AppStore = AppState & LifecycleSlice;

export interface AppDeps {
  storage: KeyValueStorage;
  /** the generation worker (the local engine runs in it) */
  createWorker: () => WorkerLike;
  mux: (frames: RgbaFrames, options: MuxOptions) => Promise<Blob>;
  /** a video frame as a picture for the next generation ("Continue from here"); needs a browser */
  frameImage?: JobDeps['frameImage'];
  /** the frames of a video file (continuing a Segmind result); needs a browser */
  decodeVideo?: JobDeps['decodeVideo'];
  /** where finished results are kept (OPFS in the app, memory in tests); absent: the gallery says it is unavailable */
  gallery?: GalleryStore;
  /** decodes a kept picture for the gallery's Re-run (browser only) */
  decodeImage?: (blob: Blob, name: string) => Promise<LoadedImage>;
  /** finds the models bundled with the app (the model library adds stored ones) */
  discoverModels: () => Promise<ModelChoice[]>;
  /** makes the base64 picture for Segmind */
  imageBase64: (image: LoadedImage) => Promise<string>;
  /** replaces Segmind's HTTP call (tests) */
  generateRemote?: typeof generateRemote;
  /** replaces the engines altogether (tests) */
  engines?: { local?: LocalEngine; remote?: SvdEngine };
  copyText?: (text: string) => Promise<void>;
  blobToBase64?: (blob: Blob) => Promise<string>;
  segmindEndpoint?: string;
  createObjectURL?: (blob: Blob) => string;
  revokeObjectURL?: (url: string) => void;
  now?: () => number;
  /** bounds (ms) */
  probeTimeoutMs?: number;
  loadTimeoutMs?: number;
  generateIdleTimeoutMs?: number;
}

export function createAppStore(deps: AppDeps): StoreApi<AppStore> {
  const now = deps.now ?? (() => Date.now());
  const createUrl = deps.createObjectURL ?? ((b: Blob) => URL.createObjectURL(b));
  const revokeUrl = deps.revokeObjectURL ?? ((u: string) => URL.revokeObjectURL(u));
  let initialised = false;
  const frameImage: JobDeps['frameImage'] = deps.frameImage ?? (() => Promise.reject(new Error('continuing a video needs a browser (no frameImage given)')));
  const decodeVideo: JobDeps['decodeVideo'] = deps.decodeVideo ?? (() => Promise.reject(new Error('reading a video file needs a browser (no decodeVideo given)')));

  const store = createStore<AppStore>()((set, get) => {
    const local = deps.engines?.local ?? new WorkerEngine(deps.createWorker, {
      probeTimeoutMs: deps.probeTimeoutMs, loadTimeoutMs: deps.loadTimeoutMs, generateIdleTimeoutMs: deps.generateIdleTimeoutMs,
    });
    const remote = deps.engines?.remote ?? new SegmindEngine({ apiKey: () => get().apiKey, endpoint: deps.segmindEndpoint, call: deps.generateRemote });
    return {
      ...createImageSlice(set, get, revokeUrl),
      ...createSettingsSlice(set, get, deps.storage),
      ...createModelsSlice(set, deps.storage),
      ...createRemoteKeySlice(set, deps.storage, deps.segmindEndpoint),
      ...createSpeedSlice(set, deps.storage),
      ...createTourSlice(set, deps.storage),
      ...createGallerySlice(set, get, { gallery: deps.gallery, decodeImage: deps.decodeImage }),
      ...createJobSlice(set, get, {
        engines: { local, remote }, mux: deps.mux, imageBase64: deps.imageBase64, copyText: deps.copyText,
        frameImage, decodeVideo, blobToBase64: deps.blobToBase64, createUrl, revokeUrl, now,
      }),
      ...createClipSlice(set, get, { frameImage, decodeVideo, mux: deps.mux, createUrl, revokeUrl }),
      async init() {
        if (initialised) return;
        initialised = true;
        const probing = local.probe().then(
          (info) => set({ probe: { status: 'done', info } }),
          (e: Error) => set({ probe: { status: 'failed', error: e.message } }),
        );
        const discovering = deps.discoverModels().then(
          (models) => get().setBundledModels(models),
          () => set({ modelsStatus: 'done' }),
        );
        await Promise.all([probing, discovering, get().loadGallery()]);
      },
    };
  });

  // Persist what the user chose, on every change.
  store.subscribe((s, prev) => {
    if (s.draft !== prev.draft) saveDraft(deps.storage, s.draft);
    if (s.setByUser !== prev.setByUser) writeJson(deps.storage, STORAGE_KEYS.setByUser, s.setByUser);
    if (s.speeds !== prev.speeds) saveSpeeds(deps.storage, s.speeds);
    if (s.backendChoice !== prev.backendChoice) saveString(deps.storage, STORAGE_KEYS.backend, s.backendChoice);
    if (s.modelId !== prev.modelId) saveString(deps.storage, STORAGE_KEYS.model, s.modelId);
    if (s.apiKey !== prev.apiKey) saveString(deps.storage, STORAGE_KEYS.apiKey, s.apiKey.trim() === '' ? undefined : s.apiKey);
  });
  // The selected model's recommended steps and guidance fill the settings the user has not set, whenever the
  // recommendation changes (a model picked, found at start, or added): the fast model's 4 steps without guidance,
  // and back to 25 steps with guidance 1 to 3 for an Euler model.
  let recommended: string | undefined;
  const adopt = (s: AppStore) => {
    const model = selectedModel(s);
    if (!model) return;
    const key = JSON.stringify(recommendedValues(model.manifest));
    if (key === recommended) return;
    recommended = key;
    const draft = adoptModelDefaults(s.draft, s.setByUser, model.manifest);
    if (draft !== s.draft) store.setState({ draft });
  };
  adopt(store.getState());
  store.subscribe((s, prev) => {
    if (s.models !== prev.models || s.modelId !== prev.modelId) adopt(s);
  });
  return store;
}
