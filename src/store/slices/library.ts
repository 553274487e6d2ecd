/**
 * The model library slice, behind the model manager: registry records, cached models, one job per model (download or
 * import) with its progress and error. Vanilla store (`zustand/vanilla`) so it can live in the app store or alone:
 *
 *   const models = createModelStore();                  // or use the default `modelStore`
 *   <ModelManager store={models} />                     // src/ui/models/ModelManager.tsx
 *   models.getState().download('svd-xt-q4f16');         // actions are plain functions
 *
 * Cancellation: each job keeps an AbortController outside the state (not serialisable); cancel(id) aborts it and the
 * bytes fetched so far stay in OPFS (`.part`), so download(id) later resumes.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { deleteModel, listCachedModels, type CachedModel } from '../../models/cached-models.ts';
import { ModelDeliveryError } from '../../models/errors.ts';
import { downloadFromHub, downloadModel, importModelFolder, type TransferResult } from '../../models/model-delivery.ts';
import type { DownloadProgress } from '../../models/progress.ts';
import { HUB_CHECKPOINTS, MODEL_REGISTRY, hubEntryModelId, hubModelId, type HubCheckpoint, type ModelRecord } from '../../models/registry.ts';
import { HUB_URL, TOKENS_PAGE, modelPageUrl, parseRepoInput } from '../../hub/hub-api.ts';
import { replacementStorage } from '../../hub/checkpoint-files.ts';
import { CONVERSION_ORDER, estimateOutputBytes, planStorage, type ComponentSource } from '../../convert/storage-plan.ts';
import { localTestUrl } from '../../common/local-url.ts';
import type { GraphName, Precision } from '../../contract/manifest.ts';
import { storageStatus } from '../../models/site-storage.ts';
import type { TransferTuning } from '../../models/transfer-tuning.ts';

export const IMPORT_JOB = '__import__';
/** the job of the "any repository" field (its model id is known only once the repository is parsed) */
export const HUB_CUSTOM_JOB = '__hub__';

export interface ModelJob {
  kind: 'download' | 'import' | 'hub';
  running: boolean;
  progress?: DownloadProgress;
  /** user-facing message of the last failure */
  error?: { code: string; message: string };
  result?: Pick<TransferResult, 'id' | 'stats' | 'persisted'>;
}

export interface ModelStoreState {
  records: ModelRecord[];
  cached: CachedModel[];
  jobs: Record<string, ModelJob>;
  storage: { quota?: number; usage?: number; persisted: boolean | null };
  /** base URLs typed by the user for records without a hosted conversion */
  baseUrls: Record<string, string>;
  /** transfer tuning (tests shorten timeouts) */
  tuning?: Partial<TransferTuning>;
  refresh(): Promise<void>;
  setRecords(records: ModelRecord[]): void;
  setBaseUrl(id: string, url: string): void;
  download(id: string): Promise<void>;
  cancel(id: string): void;
  remove(id: string): Promise<void>;
  importFolder(source: File[] | FileSystemDirectoryHandle): Promise<void>;
  clearError(id: string): void;

  // The Hugging Face Hub: official checkpoints and any diffusers-layout repository, converted in the tab.
  hub: HubState;
  setHubToken(token: string): void;
  forgetHubToken(): void;
  setHubRepoInput(text: string): void;
  setHubPrecision(p: 'auto' | Precision): void;
  /** looks at the GPU once (shader-f16 decides the automatic precision) */
  detectGpu(): Promise<void>;
  /** downloads and converts an official checkpoint (by HubCheckpoint id) or, with no id, the repository typed */
  getFromHub(checkpointId?: string): Promise<void>;
}

export interface HubState {
  checkpoints: HubCheckpoint[];
  url: string;
  /** access token for gated repositories: kept in this origin's localStorage only, sent to the Hub only */
  token: string;
  repoInput: string;
  precision: 'auto' | Precision;
  /** the GPU offers shader-f16 (null: not known yet / no WebGPU) */
  gpuF16: boolean | null;
  /** tests: hold after this graph is written */
  holdAfter?: GraphName;
  notice?: string;
}

export const HUB_TOKEN_KEY = 'svd-web:hf-token';
export { TOKENS_PAGE };
export type { HubCheckpoint };

/**
 * What the Hub panel shows for a registry entry at a precision: the converted size, the storage needed at the peak,
 * the model page of each repository it downloads from (an fp32 UNet from another repository counts as fp32).
 */
export function hubEntryFacts(
  c: HubCheckpoint,
  precision: Precision,
): { modelId: string; convertedBytes: number; peakBytes: number; pageUrl: string; unet?: { pageUrl: string; storage: 'fp16' | 'fp32' } } {
  const w = c.weightBytes;
  const source = (k: keyof typeof w): ComponentSource => ({ bytes: w[k], storage: k === 'unet' && c.unet ? replacementStorage(c.unet.path) : 'fp16' });
  const sources = { image_encoder: source('image_encoder'), vae: source('vae'), unet: source('unet') };
  return {
    modelId: hubEntryModelId(c, precision),
    convertedBytes: CONVERSION_ORDER.reduce((a, k) => a + estimateOutputBytes(sources[k], precision, 1), 0),
    peakBytes: planStorage(sources, precision).peakBytes,
    pageUrl: modelPageUrl('https://huggingface.co', c.repo),
    ...(c.unet ? { unet: { pageUrl: modelPageUrl('https://huggingface.co', c.unet.repo), storage: sources.unet.storage } } : {}),
  };
}

/** The precision a Hub conversion uses: q4f16 where the GPU has shader-f16, else q4f32. */
export function hubPrecision(hub: Pick<HubState, 'precision' | 'gpuF16'>): Precision {
  return hub.precision !== 'auto' ? hub.precision : hub.gpuF16 ? 'q4f16' : 'q4f32';
}

/** Only a local test server may stand in for the Hub (so a crafted link cannot redirect the token). */
export function hubUrlOverride(search: string): string | undefined {
  return localTestUrl(search, 'hubUrl')?.origin;
}

function storedToken(): string {
  try {
    return globalThis.localStorage?.getItem(HUB_TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export type ModelStore = StoreApi<ModelStoreState>;

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof ModelDeliveryError) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'error', message: e.message };
  return { code: 'error', message: String(e) };
}

export function createModelStore(records: ModelRecord[] = MODEL_REGISTRY, tuning?: Partial<TransferTuning>, hubUrl: string = HUB_URL): ModelStore {
  const controllers = new Map<string, AbortController>();
  return createStore<ModelStoreState>()((set, get) => {
    const patchJob = (id: string, patch: Partial<ModelJob>) =>
      set((s) => ({ jobs: { ...s.jobs, [id]: { ...(s.jobs[id] ?? { kind: 'download', running: false }), ...patch } } }));

    const run = async (id: string, kind: ModelJob['kind'], work: (o: { onProgress: (p: DownloadProgress) => void; signal: AbortSignal }) => Promise<TransferResult>) => {
      if (get().jobs[id]?.running) return;
      const ctl = new AbortController();
      controllers.set(id, ctl);
      patchJob(id, { kind, running: true, error: undefined, result: undefined, progress: undefined });
      try {
        const r = await work({ onProgress: (progress) => patchJob(id, { progress }), signal: ctl.signal });
        patchJob(id, { running: false, result: { id: r.id, stats: r.stats, persisted: r.persisted } });
      } catch (e) {
        patchJob(id, { running: false, error: errorOf(e) });
      } finally {
        controllers.delete(id);
        await get().refresh();
      }
    };

    return {
      records,
      cached: [],
      jobs: {},
      storage: { persisted: null },
      baseUrls: {},
      tuning,
      hub: { checkpoints: HUB_CHECKPOINTS, url: hubUrl, token: storedToken(), repoInput: '', precision: 'auto', gpuF16: null },
      async refresh() {
        const [cached, storage] = await Promise.all([listCachedModels().catch(() => get().cached), storageStatus()]);
        set({ cached, storage });
      },
      setRecords: (r) => set({ records: r }),
      setBaseUrl: (id, url) => set((s) => ({ baseUrls: { ...s.baseUrls, [id]: url } })),
      async download(id) {
        const record = get().records.find((r) => r.id === id);
        const cached = get().cached.find((c) => c.id === id);
        const hubSource = cached?.source?.kind === 'hub' ? cached.source.hub : undefined;
        if (hubSource) {
          const label = cached?.source?.label ?? id;
          const { token, url, holdAfter } = get().hub;
          await run(id, 'hub', (o) => downloadFromHub({ id, label, ...hubSource, token: token || undefined, hubUrl: url, holdAfter }, { ...o, tuning: get().tuning }));
          return;
        }
        const baseUrl = get().baseUrls[id]?.trim() || record?.baseUrl || cached?.source?.baseUrl;
        if (!baseUrl) {
          patchJob(id, {
            running: false,
            error: { code: 'no-url', message: record?.note ?? 'No download address is known for this model: enter the base URL of a `svd-web convert` output.' },
          });
          return;
        }
        const label = record?.label ?? cached?.source?.label ?? id;
        await run(id, 'download', (o) => downloadModel({ id, label, baseUrl }, { ...o, tuning: get().tuning }));
      },
      setHubToken(token) {
        const t = token.trim();
        try {
          if (t) globalThis.localStorage?.setItem(HUB_TOKEN_KEY, t);
          else globalThis.localStorage?.removeItem(HUB_TOKEN_KEY);
        } catch {
          // storage blocked: the token lives for this page only
        }
        set((s) => ({ hub: { ...s.hub, token: t, notice: undefined } }));
      },
      forgetHubToken() {
        try {
          globalThis.localStorage?.removeItem(HUB_TOKEN_KEY);
        } catch {
          // nothing stored
        }
        set((s) => ({ hub: { ...s.hub, token: '', notice: 'The Hugging Face token was removed from this browser.' } }));
      },
      setHubRepoInput: (text) => set((s) => ({ hub: { ...s.hub, repoInput: text } })),
      setHubPrecision: (p) => set((s) => ({ hub: { ...s.hub, precision: p } })),
      async detectGpu() {
        let f16: boolean | null = null;
        try {
          const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> } }).gpu;
          const adapter = gpu ? await gpu.requestAdapter() : null;
          f16 = adapter ? adapter.features.has('shader-f16') : null;
        } catch {
          f16 = null;
        }
        set((s) => ({ hub: { ...s.hub, gpuF16: f16 } }));
      },
      async getFromHub(checkpointId) {
        const { hub } = get();
        const precision = hubPrecision(hub);
        let repo: string;
        let revision: string;
        let label: string;
        const known = checkpointId ? hub.checkpoints.find((c) => c.id === checkpointId) : undefined;
        const unet = known?.unet ? { repo: known.unet.repo, revision: known.unet.revision, path: known.unet.path, sampler: known.unet.sampler } : undefined;
        if (known) {
          ({ repo, revision } = known);
          label = `${known.label} — ${precision}`;
        } else {
          try {
            ({ repo, revision } = parseRepoInput(hub.repoInput));
          } catch (e) {
            patchJob(HUB_CUSTOM_JOB, { kind: 'hub', running: false, error: errorOf(e) });
            return;
          }
          label = `${repo}${revision !== 'main' ? `@${revision}` : ''} — ${precision}`;
        }
        const id = known ? hubEntryModelId(known, precision) : hubModelId(repo, precision);
        const jobId = known ? id : HUB_CUSTOM_JOB;
        await run(jobId, 'hub', (o) =>
          downloadFromHub({ id, label, repo, revision, precision, unet, token: hub.token || undefined, hubUrl: hub.url, holdAfter: hub.holdAfter }, { ...o, tuning: get().tuning }),
        );
        if (!known) set((s) => ({ jobs: { ...s.jobs, [id]: s.jobs[HUB_CUSTOM_JOB] } }));
      },
      cancel(id) {
        controllers.get(id)?.abort();
      },
      async remove(id) {
        controllers.get(id)?.abort();
        try {
          await deleteModel(id);
          set((s) => {
            const jobs = { ...s.jobs };
            delete jobs[id];
            return { jobs };
          });
        } catch (e) {
          patchJob(id, { error: errorOf(e) });
        }
        await get().refresh();
      },
      async importFolder(source) {
        await run(IMPORT_JOB, 'import', (o) => importModelFolder(source, { ...o, tuning: get().tuning }));
      },
      clearError: (id) => patchJob(id, { error: undefined }),
    };
  });
}

/** The app's model store (one per page). */
export const modelStore: ModelStore = createModelStore(MODEL_REGISTRY, undefined, (typeof location !== 'undefined' && hubUrlOverride(location.search)) || HUB_URL);

export type { CachedModel } from '../../models/cached-models.ts';
export type { ModelRecord } from '../../models/registry.ts';
