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
import { downloadModel, importModelFolder, type TransferResult } from '../../models/model-delivery.ts';
import type { DownloadProgress } from '../../models/progress.ts';
import { MODEL_REGISTRY, type ModelRecord } from '../../models/registry.ts';
import { storageStatus } from '../../models/site-storage.ts';
import type { TransferTuning } from '../../models/transfer-tuning.ts';

export const IMPORT_JOB = '__import__';

export interface ModelJob {
  kind: 'download' | 'import';
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
}

export type ModelStore = StoreApi<ModelStoreState>;

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof ModelDeliveryError) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'error', message: e.message };
  return { code: 'error', message: String(e) };
}

export function createModelStore(records: ModelRecord[] = MODEL_REGISTRY, tuning?: Partial<TransferTuning>): ModelStore {
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
      async refresh() {
        const [cached, storage] = await Promise.all([listCachedModels().catch(() => get().cached), storageStatus()]);
        set({ cached, storage });
      },
      setRecords: (r) => set({ records: r }),
      setBaseUrl: (id, url) => set((s) => ({ baseUrls: { ...s.baseUrls, [id]: url } })),
      async download(id) {
        const record = get().records.find((r) => r.id === id);
        const cached = get().cached.find((c) => c.id === id);
        const baseUrl = get().baseUrls[id]?.trim() || record?.baseUrl || cached?.source?.baseUrl;
        if (!baseUrl || (record?.placeholder && !get().baseUrls[id]?.trim())) {
          patchJob(id, {
            running: false,
            error: { code: 'no-url', message: record?.note ?? 'No download address is known for this model: enter the base URL of a `svd-web convert` output.' },
          });
          return;
        }
        const label = record?.label ?? cached?.source?.label ?? id;
        await run(id, 'download', (o) => downloadModel({ id, label, baseUrl }, { ...o, tuning: get().tuning }));
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
export const modelStore: ModelStore = createModelStore();

export type { CachedModel } from '../../models/cached-models.ts';
export type { ModelRecord } from '../../models/registry.ts';
