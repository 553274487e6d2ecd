/**
 * The app's state and the ONLY bridge between the UI and the generation worker, the Segmind backend and the
 * muxer. Components read state with `useApp(selector)` and call actions; they never talk to a worker, fetch or
 * ffmpeg themselves.
 *
 * Dependencies (storage, worker factory, muxer, Segmind endpoint, fetch) are injected so the logic can be tested
 * in Node with fakes; src/store/index.ts wires the real ones.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { FramingError, planFraming, type Framing } from '../pipeline/image.ts';
import { drawSeed } from '../contract/seed.ts';
import { type Backend, type FieldName, type SvdRequest } from '../contract/request.ts';
import type { DeviceInfo, ResultInfo } from '../protocol/messages.ts';
import type { FrameBatch, Progress } from '../pipeline/pipeline.ts';
import type { ModelManifest } from '../contract/manifest.ts';
import { generateRemote, SegmindError, type RemoteResult, type SegmindOptions } from '../remote/segmind.ts';
import type { MuxFormat, MuxOptions, RgbaFrames } from '../video/mux.ts';
import { decideBackend, type BackendChoice, type BackendDecision, type ProbeState } from './backend.ts';
import { checkDraft, completeDraft, defaultDraft, localMaxFrames, type DraftCheck } from './draft.ts';
import { isRunning, overallFraction, phaseLabel, phaseOfStage, type JobPhase } from './format.ts';
import { defaultFramingManifest, sourceKey, type ModelChoice } from './models.ts';
import {
  loadDraft, loadString, saveDraft, saveString, STORAGE_KEYS, type Draft, type KeyValueStorage,
} from './persist.ts';
import { WorkerCallError, WorkerClient, type WorkerLike } from '../protocol/client.ts';
import type { LoadedImage } from './image-check.ts';

// ---------------------------------------------------------------------------------------------------------
// State

export interface JobState {
  phase: JobPhase;
  backend?: Backend;
  device?: 'webgpu' | 'wasm';
  step: number;
  total: number;
  /** 0..1 over the whole job; -1 = indeterminate (Segmind gives no progress) */
  fraction: number;
  etaSeconds?: number;
  label: string;
  startedAt?: number;
  finishedAt?: number;
}

export interface FrameSlot {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface ResultState {
  blob: Blob;
  url: string;
  mimeType: string;
  backend: Backend;
  device?: 'webgpu' | 'wasm';
  /** the seed actually used */
  seed?: number;
  fps: number;
  frameCount: number;
  width?: number;
  height?: number;
  elapsedMs: number;
  /** Segmind: what the call cost and its request id */
  cost?: number;
  requestId?: string;
  timings?: ResultInfo['timings'];
  /** local runs: where the denoising loop ran, and whether its UNet commands were replayed (graph capture) */
  loop?: ResultInfo['loop'];
  graphCapture?: ResultInfo['graphCapture'];
}

export type ExportFormat = Exclude<MuxFormat, 'mp4'>;

export interface ExportState {
  status: 'busy' | 'done' | 'error';
  fraction: number;
  blob?: Blob;
  url?: string;
  error?: string;
}

export interface AppError {
  /** a short headline */
  title: string;
  /** plain words: what happened and what to do */
  message: string;
  source: 'segmind' | 'local' | 'video' | 'app';
  /** SegmindError.kind / worker error code / MuxError code */
  kind?: string;
  status?: number;
}

export interface AppState {
  image?: LoadedImage;
  /** why the last picture was refused (shown next to the drop zone) */
  imageError?: string;
  imageBusy: boolean;
  draft: Draft;
  backendChoice: BackendChoice;
  probe: ProbeState;
  models: ModelChoice[];
  modelsStatus: 'pending' | 'done';
  modelId?: string;
  apiKey: string;
  /** a test/dev override of Segmind's endpoint (only http://127.0.0.1 / localhost are honoured) */
  segmindEndpoint?: string;
  job: JobState;
  frames: (FrameSlot | undefined)[];
  result?: ResultState;
  exports: Partial<Record<ExportFormat, ExportState>>;
  error?: AppError;
  remainingCredits?: number;
  /** a short status line for the last small action ("Copied …"); shown politely */
  notice?: string;
  /** when copying to the clipboard is refused: the text, shown for manual copy */
  base64Fallback?: string;
}

export interface AppActions {
  init(): Promise<void>;
  setImage(image: LoadedImage): void;
  setImageError(message: string | undefined): void;
  setImageBusy(busy: boolean): void;
  clearImage(): void;
  setField(name: FieldName, value: string | boolean): void;
  resetSettings(): void;
  rollSeed(): void;
  reuseSeed(): void;
  setBackendChoice(choice: BackendChoice): void;
  setModel(id: string): void;
  setLibraryModels(models: ModelChoice[]): void;
  setApiKey(key: string): void;
  forgetApiKey(): void;
  generate(): Promise<void>;
  cancel(): void;
  exportAs(format: ExportFormat): Promise<void>;
  copyBase64(): Promise<void>;
  dismissError(): void;
  setNotice(notice: string | undefined): void;
}

export type AppStore = AppState & AppActions;

export interface AppDeps {
  storage: KeyValueStorage;
  createWorker: () => WorkerLike;
  mux: (frames: RgbaFrames, options: MuxOptions) => Promise<Blob>;
  /** finds the models that can run locally (bundled demo; the library adds more) */
  discoverModels: () => Promise<ModelChoice[]>;
  /** makes the base64 picture for Segmind */
  imageBase64: (image: LoadedImage) => Promise<string>;
  generateRemote?: (request: SvdRequest, image: string, options: SegmindOptions) => Promise<RemoteResult>;
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

const IDLE_JOB: JobState = { phase: 'idle', step: 0, total: 0, fraction: 0, label: phaseLabel('idle') };

/** Only a local test server may replace Segmind's endpoint (so a crafted link cannot redirect the key). */
export function endpointOverride(search: string): string | undefined {
  const raw = new URLSearchParams(search).get('segmindEndpoint');
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost')) return url.href;
  } catch {
    // ignored
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Derived view (pure)

export interface AppView {
  model?: ModelChoice;
  decision: BackendDecision;
  check: DraftCheck;
  /** how the picture will be framed (output size + crop), when there is a picture and valid settings */
  framing?: Pick<Framing, 'width' | 'height' | 'crop'>;
  framingError?: string;
  canGenerate: boolean;
  /** why Generate is disabled, in words ('' when it is enabled) */
  blocker: string;
  running: boolean;
}

let framingCache: { key: string; value: AppView['framing']; error?: string } | undefined;

function framingFor(image: LoadedImage, request: SvdRequest, backend: Backend, manifest: ModelManifest | undefined) {
  const m = manifest ?? defaultFramingManifest();
  const size = backend === 'local' ? { width: request.width, height: request.height } : {};
  const key = [image.input.width, image.input.height, request.resize_method, size.width, size.height,
    m.pipeline.defaultWidth, m.pipeline.defaultHeight, m.pipeline.vaeScaleFactor].join('|');
  if (framingCache?.key === key) return framingCache;
  try {
    // Only the size matters for the plan: a pixel-less stand-in keeps this cheap for big pictures.
    const stub = { width: image.input.width, height: image.input.height, rgba: new Uint8ClampedArray(0) };
    const f = planFraming(stub, { resize_method: request.resize_method, ...size }, m);
    framingCache = { key, value: { width: f.width, height: f.height, crop: f.crop } };
  } catch (e) {
    framingCache = { key, value: undefined, error: e instanceof FramingError ? e.message : String((e as Error).message) };
  }
  return framingCache;
}

export function deriveView(s: AppState): AppView {
  const model = s.models.find((m) => m.id === s.modelId) ?? s.models[0];
  const decision = decideBackend({
    choice: s.backendChoice,
    probe: s.probe,
    model: model ? { label: model.label, requiredFeatures: model.manifest?.requiredFeatures ?? [] } : undefined,
    hasApiKey: s.apiKey.trim() !== '',
  });
  const manifest = decision.backend === 'local' ? model?.manifest : undefined;
  const check = checkDraft(s.draft, {
    backend: decision.backend,
    maxFrames: decision.backend === 'local' ? localMaxFrames(manifest?.pipeline.defaultFrames) : undefined,
    defaultFrames: manifest?.pipeline.defaultFrames,
  });
  let framing: AppView['framing'];
  let framingError: string | undefined;
  if (s.image && check.request) {
    const f = framingFor(s.image, check.request, decision.backend, manifest);
    framing = f.value;
    framingError = f.error;
  }
  const running = isRunning(s.job.phase);
  let blocker = '';
  if (running) blocker = 'A video is being made.';
  else if (!s.image) blocker = 'Add a picture first.';
  else if (!check.request) blocker = 'Fix the settings marked in red.';
  else if (framingError) blocker = framingError;
  else if (!decision.ready) blocker = decision.reason;
  return { model, decision, check, framing, framingError, canGenerate: blocker === '', blocker, running };
}

// ---------------------------------------------------------------------------------------------------------
// Errors in plain words

const SEGMIND_TITLES: Record<string, string> = {
  unauthorized: 'Segmind did not accept the API key',
  payment: 'Your Segmind account cannot pay for this video',
  content_type: 'Segmind refused the request format',
  rate_limited: 'Too many requests to Segmind',
  server: 'Segmind had a server error',
  bad_request: 'Segmind refused the request',
  network: 'Could not reach Segmind',
  timeout: 'Segmind took too long',
  unexpected: 'Segmind sent an unexpected answer',
};

export function describeError(e: unknown): AppError {
  if (e instanceof SegmindError) {
    return { title: SEGMIND_TITLES[e.kind] ?? 'Segmind failed', message: e.message, source: 'segmind', kind: e.kind, status: e.status };
  }
  if (e instanceof WorkerCallError) {
    const hints: Record<string, [string, string]> = {
      'out-of-memory': ['Not enough GPU memory', ' Try a smaller resolution, fewer frames or a smaller decode chunk, or close other GPU-heavy tabs.'],
      device: ['The GPU could not be used', ' Pick the CPU (slow) or Segmind, or try another browser.'],
      model: ['The model could not be loaded', ' Check it under Models (download or import it again).'],
      'invalid-request': ['These settings cannot be used', ''],
      'invalid-image': ['The picture cannot be used', ''],
      timeout: ['The generation stopped responding', ' The worker was restarted; try again, perhaps with smaller settings.'],
      crashed: ['The generation stopped unexpectedly', ' This can happen when the GPU runs out of memory or the GPU driver resets. Try again with smaller settings.'],
      busy: ['A generation is already running', ''],
      internal: ['Something went wrong while generating', ''],
    };
    const [title, hint] = hints[e.code] ?? ['Something went wrong while generating', ''];
    return { title, message: `${capital(e.message)}.${hint}`.replace(/\.\./g, '.'), source: 'local', kind: e.code };
  }
  const err = e as Error;
  if (err?.name === 'MuxError') {
    return { title: 'Could not encode the video', message: `${err.message.split('\n')[0]}. The frames are still shown above; try the download again.`, source: 'video', kind: (err as { code?: string }).code };
  }
  return { title: 'Something went wrong', message: String(err?.message ?? e), source: 'app' };
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/\.$/, '');
}

function isAbort(e: unknown): boolean {
  if (e instanceof SegmindError) return e.kind === 'aborted';
  if (e instanceof WorkerCallError) return e.code === 'aborted';
  const err = e as { name?: string; code?: string };
  return err?.name === 'AbortError' || (err?.name === 'MuxError' && err.code === 'aborted');
}

// ---------------------------------------------------------------------------------------------------------
// The store

export function createAppStore(deps: AppDeps): StoreApi<AppStore> {
  const now = deps.now ?? (() => Date.now());
  const createUrl = deps.createObjectURL ?? ((b: Blob) => URL.createObjectURL(b));
  const revokeUrl = deps.revokeObjectURL ?? ((u: string) => URL.revokeObjectURL(u));
  const client = new WorkerClient(deps.createWorker);
  let loaded: { key: string; manifest: ModelManifest; device: DeviceInfo } | undefined;
  // Models bundled with the app (found by discoverModels) and models in this browser's storage (the library);
  // a stored copy wins over the bundled one with the same id.
  let bundled: ModelChoice[] = [];
  let library: ModelChoice[] = [];
  let controller: AbortController | undefined;
  let initialised = false;

  const storedKey = loadString(deps.storage, STORAGE_KEYS.apiKey) ?? '';
  const storedChoice = loadString(deps.storage, STORAGE_KEYS.backend);
  const choice: BackendChoice = storedChoice === 'webgpu' || storedChoice === 'wasm' || storedChoice === 'segmind' ? storedChoice : 'auto';

  const store = createStore<AppStore>()((set, get) => {
    const patchJob = (patch: Partial<JobState>) => set((s) => ({ job: { ...s.job, ...patch } }));
    const releaseResult = () => {
      const s = get();
      if (s.result) revokeUrl(s.result.url);
      for (const e of Object.values(s.exports)) if (e?.url) revokeUrl(e.url);
    };

    async function runLocal(request: SvdRequest, model: ModelChoice, device: 'webgpu' | 'wasm', signal: AbortSignal, started: number) {
      const image = get().image!;
      const key = `${sourceKey(model.source)}|${device}`;
      if (!client.alive) loaded = undefined;
      if (loaded?.key !== key) {
        patchJob({ phase: 'loading-model', label: phaseLabel('loading-model'), fraction: 0.02 });
        const { done } = client.call('load', { source: model.source, device }, { timeoutMs: deps.loadTimeoutMs ?? 30 * 60_000, signal });
        const answer = await done;
        loaded = { key, manifest: answer.payload.manifest, device: answer.payload.device };
        set((s) => ({ probe: s.probe.info ? s.probe : { status: 'done', info: answer.payload.device } }));
      }
      // The worker reports a step when it is done; when a stage is complete, say what runs next (the UNet's
      // session is created before its first step, which can take a while on slow devices).
      const onProgress = (p: Progress) => {
        let phase = phaseOfStage(p.stage);
        let { step, total } = p;
        if (total > 0 && step >= total && p.stage === 'encode') {
          phase = 'denoising';
          step = 0;
          total = request.steps;
        } else if (total > 0 && step >= total && p.stage === 'denoise') {
          phase = 'decoding';
          step = 0;
          total = Math.ceil(request.frames / Math.max(1, request.decode_chunk));
        }
        patchJob({ phase, step, total, etaSeconds: p.etaSeconds, fraction: overallFraction(phase, step, total), label: phaseLabel(phase, step, total) });
      };
      const onFrames = (b: FrameBatch) => {
        set((s) => {
          const frames = s.frames.slice();
          b.frames.forEach((rgba, i) => {
            frames[b.start + i] = { width: b.width, height: b.height, rgba };
          });
          return { frames };
        });
      };
      const { done } = client.call('generate', { image: image.input, request }, {
        idleTimeoutMs: deps.generateIdleTimeoutMs ?? 15 * 60_000, signal, onProgress, onFrames,
      });
      const answer = await done;
      if (answer.kind === 'cancelled') {
        patchJob({ phase: 'cancelled', label: phaseLabel('cancelled'), finishedAt: now() });
        return;
      }
      const info = answer.payload;
      const frames = get().frames;
      const rgba: Uint8Array[] = [];
      for (let i = 0; i < info.frameCount; i++) {
        const f = frames[i];
        if (!f) throw new WorkerCallError('internal', `frame ${i + 1} of ${info.frameCount} never arrived from the worker`);
        rgba.push(new Uint8Array(f.rgba.buffer, f.rgba.byteOffset, f.rgba.byteLength));
      }
      patchJob({ phase: 'muxing', label: phaseLabel('muxing'), fraction: overallFraction('muxing', 0, 1), etaSeconds: undefined, step: 0, total: 0 });
      const blob = await deps.mux({ width: info.width, height: info.height, rgba }, {
        fps: info.fps, format: 'mp4', signal,
        onProgress: (f) => patchJob({ fraction: overallFraction('muxing', f, 1) }),
      });
      set({
        result: {
          blob, url: createUrl(blob), mimeType: blob.type || 'video/mp4', backend: 'local', device, seed: info.seed,
          fps: info.fps, frameCount: info.frameCount, width: info.width, height: info.height,
          elapsedMs: now() - started, timings: info.timings, loop: info.loop, graphCapture: info.graphCapture,
        },
      });
      patchJob({ phase: 'done', label: phaseLabel('done'), fraction: 1, etaSeconds: undefined, finishedAt: now() });
    }

    async function runRemote(request: SvdRequest, signal: AbortSignal, started: number) {
      const s = get();
      patchJob({ phase: 'remote', label: 'Preparing the picture', fraction: -1 });
      const image = await deps.imageBase64(s.image!);
      patchJob({ label: phaseLabel('remote') });
      const call = deps.generateRemote ?? generateRemote;
      const res = await call(request, image, { apiKey: s.apiKey.trim(), endpoint: deps.segmindEndpoint, signal });
      const blob = new Blob([res.video as Uint8Array<ArrayBuffer>], { type: res.mimeType });
      set((st) => ({
        remainingCredits: res.remainingCredits ?? st.remainingCredits,
        result: {
          blob, url: createUrl(blob), mimeType: res.mimeType, backend: 'segmind', seed: res.seed,
          fps: request.fps, frameCount: request.frames, elapsedMs: now() - started, cost: res.cost, requestId: res.requestId,
        },
      }));
      patchJob({ phase: 'done', label: phaseLabel('done'), fraction: 1, finishedAt: now() });
    }

    return {
      image: undefined,
      imageError: undefined,
      imageBusy: false,
      draft: completeDraft(loadDraft(deps.storage)),
      backendChoice: choice,
      probe: { status: 'pending' },
      models: [],
      modelsStatus: 'pending',
      modelId: loadString(deps.storage, STORAGE_KEYS.model),
      apiKey: storedKey,
      segmindEndpoint: deps.segmindEndpoint,
      job: IDLE_JOB,
      frames: [],
      result: undefined,
      exports: {},
      error: undefined,
      remainingCredits: undefined,
      notice: undefined,

      async init() {
        if (initialised) return;
        initialised = true;
        const probing = client.call('probe', {}, { timeoutMs: deps.probeTimeoutMs ?? 30_000 }).done.then(
          (m) => set({ probe: { status: 'done', info: m.payload } }),
          (e: Error) => set({ probe: { status: 'failed', error: e.message } }),
        );
        const discovering = deps.discoverModels().then(
          (models) => {
            bundled = models;
            set({ models: mergeModels(bundled, library), modelsStatus: 'done' });
          },
          () => set({ modelsStatus: 'done' }),
        );
        await Promise.all([probing, discovering]);
      },

      setImage(image) {
        const old = get().image;
        if (old && old.previewUrl !== image.previewUrl) revokeUrl(old.previewUrl);
        set({ image, imageError: undefined, imageBusy: false });
      },
      setImageError(message) {
        set({ imageError: message, imageBusy: false });
      },
      setImageBusy(busy) {
        set({ imageBusy: busy });
      },
      clearImage() {
        const old = get().image;
        if (old) revokeUrl(old.previewUrl);
        set({ image: undefined, imageError: undefined });
      },

      setField(name, value) {
        set((s) => ({ draft: { ...s.draft, [name]: value } }));
      },
      resetSettings() {
        set({ draft: defaultDraft() });
      },
      rollSeed() {
        set((s) => ({ draft: { ...s.draft, seed: String(drawSeed()) } }));
      },
      reuseSeed() {
        const seed = get().result?.seed;
        if (seed !== undefined) set((s) => ({ draft: { ...s.draft, seed: String(seed) }, notice: `Seed set to ${seed}.` }));
      },

      setBackendChoice(backendChoice) {
        set({ backendChoice });
      },
      setModel(modelId) {
        set({ modelId });
      },
      setLibraryModels(models) {
        library = models;
        set({ models: mergeModels(bundled, library) });
      },
      setApiKey(apiKey) {
        set({ apiKey });
      },
      forgetApiKey() {
        set({ apiKey: '', notice: 'The Segmind API key was removed from this browser.' });
      },

      async generate() {
        const s = get();
        const view = deriveView(s);
        if (!view.canGenerate || !view.check.request) {
          set({ notice: view.blocker });
          return;
        }
        const request = view.check.request;
        const decision = view.decision;
        releaseResult();
        controller = new AbortController();
        const signal = controller.signal;
        const started = now();
        set({
          result: undefined, exports: {}, error: undefined, notice: undefined, base64Fallback: undefined,
          frames: decision.backend === 'local' ? new Array<FrameSlot | undefined>(request.frames).fill(undefined) : [],
          job: { ...IDLE_JOB, phase: decision.backend === 'local' ? 'loading-model' : 'remote', backend: decision.backend, device: decision.device, startedAt: started, label: 'Starting', fraction: decision.backend === 'local' ? 0 : -1 },
        });
        try {
          if (decision.backend === 'local') await runLocal(request, view.model!, decision.device ?? 'webgpu', signal, started);
          else await runRemote(request, signal, started);
        } catch (e) {
          if (isAbort(e) || signal.aborted) {
            patchJob({ phase: 'cancelled', label: phaseLabel('cancelled'), finishedAt: now(), etaSeconds: undefined });
          } else {
            if (e instanceof WorkerCallError && (e.code === 'out-of-memory' || e.code === 'device' || e.code === 'internal')) {
              client.terminate('restarting the worker after an error');
              loaded = undefined;
            }
            set({ error: describeError(e) });
            patchJob({ phase: 'error', label: phaseLabel('error'), finishedAt: now(), etaSeconds: undefined });
          }
        } finally {
          controller = undefined;
        }
      },

      cancel() {
        if (!controller) return;
        patchJob({ label: 'Cancelling…' });
        controller.abort();
      },

      async exportAs(format) {
        const s = get();
        const result = s.result;
        if (!result || s.frames.length === 0 || s.frames.some((f) => !f)) {
          set({ notice: 'GIF and WebM are made from the frames, which are only available for videos made on this device.' });
          return;
        }
        if (s.exports[format]?.status === 'busy') return;
        set((st) => ({ exports: { ...st.exports, [format]: { status: 'busy', fraction: 0 } } }));
        const frames = s.frames as FrameSlot[];
        try {
          const blob = await deps.mux(
            { width: frames[0].width, height: frames[0].height, rgba: frames.map((f) => new Uint8Array(f.rgba.buffer, f.rgba.byteOffset, f.rgba.byteLength)) },
            { fps: result.fps, format, onProgress: (fraction) => set((st) => ({ exports: { ...st.exports, [format]: { status: 'busy', fraction } } })) },
          );
          if (get().result !== result) return; // a newer video replaced this one
          set((st) => ({ exports: { ...st.exports, [format]: { status: 'done', fraction: 1, blob, url: createUrl(blob) } }, notice: `${format.toUpperCase()} is ready to download.` }));
        } catch (e) {
          set((st) => ({ exports: { ...st.exports, [format]: { status: 'error', fraction: 0, error: describeError(e).message } } }));
        }
      },

      async copyBase64() {
        const result = get().result;
        if (!result) return;
        const toBase64 = deps.blobToBase64;
        if (!toBase64) return;
        const text = await toBase64(result.blob);
        try {
          if (!deps.copyText) throw new Error('no clipboard');
          await deps.copyText(text);
          set({ notice: `Copied the video as base64 (${text.length.toLocaleString('en-US')} characters), like the API's base64 answer.`, base64Fallback: undefined });
        } catch {
          set({ notice: 'The clipboard is not available here; the base64 text is shown below to copy by hand.', base64Fallback: text });
        }
      },

      dismissError() {
        set({ error: undefined });
      },
      setNotice(notice) {
        set({ notice });
      },
    };
  });

  // Persist what the user chose, on every change.
  store.subscribe((s, prev) => {
    if (s.draft !== prev.draft) saveDraft(deps.storage, s.draft);
    if (s.backendChoice !== prev.backendChoice) saveString(deps.storage, STORAGE_KEYS.backend, s.backendChoice);
    if (s.modelId !== prev.modelId) saveString(deps.storage, STORAGE_KEYS.model, s.modelId);
    if (s.apiKey !== prev.apiKey) saveString(deps.storage, STORAGE_KEYS.apiKey, s.apiKey.trim() === '' ? undefined : s.apiKey);
  });
  return store;
}

function mergeModels(a: ModelChoice[], b: ModelChoice[]): ModelChoice[] {
  const byId = new Map<string, ModelChoice>();
  for (const m of [...a, ...b]) byId.set(m.id, m);
  return [...byId.values()];
}

export type { BackendChoice } from './backend.ts';
