/**
 * Model delivery self-test page (models-harness.html): renders the ModelManager and exposes `window.__svdModels`
 * so the e2e suite (e2e/models.e2e.ts) can drive downloads/imports directly and read back what OPFS holds.
 * Also handy by hand: open /models-harness.html to see what this browser has cached.
 */
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { ModelManager } from '../ui/models/ModelManager.tsx';
import { createModelStore } from '../store/slices/library.ts';
import { deleteModel, listCachedModels, modelFileReader } from '../models/cached-models.ts';
import { ModelDeliveryError } from '../models/errors.ts';
import { downloadFromHub, downloadModel, importModelFolder, type HubDownloadRequest } from '../models/model-delivery.ts';
import type { DownloadProgress } from '../models/progress.ts';
import { MODEL_REGISTRY, type ModelRecord } from '../models/registry.ts';
import type { TransferTuning } from '../models/transfer-tuning.ts';
import { parseManifest, type GraphName } from '../contract/manifest.ts';
import { listFiles, modelDirectory, stagingDirectory } from '../models/opfs.ts';
import type { HubState } from '../store/slices/library.ts';
import { Sha256 } from '../models/sha256.ts';

interface Run {
  events: number;
  last?: DownloadProgress;
  phases: string[];
  messages: string[];
  maxBytesPerSecond: number;
  sawEta: boolean;
  done: boolean;
  result?: unknown;
  error?: { code: string; message: string };
  promise: Promise<void>;
  ctl: AbortController;
}

const runs = new Map<string, Run>();
const store = createModelStore(MODEL_REGISTRY);

function track(id: string, work: (o: { onProgress: (p: DownloadProgress) => void; signal: AbortSignal }) => Promise<unknown>): void {
  const ctl = new AbortController();
  const run: Run = { events: 0, phases: [], messages: [], maxBytesPerSecond: 0, sawEta: false, done: false, ctl, promise: Promise.resolve() };
  run.promise = work({
    signal: ctl.signal,
    onProgress: (p) => {
      run.events++;
      run.last = p;
      if (!run.phases.includes(p.phase)) run.phases.push(p.phase);
      if (p.message && !run.messages.includes(p.message)) run.messages.push(p.message);
      run.maxBytesPerSecond = Math.max(run.maxBytesPerSecond, p.bytesPerSecond);
      if (p.etaSeconds !== null && p.etaSeconds > 0) run.sawEta = true;
    },
  }).then(
    (result) => {
      run.result = result;
      run.done = true;
    },
    (e) => {
      run.error = e instanceof ModelDeliveryError ? { code: e.code, message: e.message } : { code: 'error', message: String(e) };
      run.done = true;
    },
  );
  runs.set(id, run);
}

function summary(id: string) {
  const r = runs.get(id);
  if (!r) return null;
  const { promise: _p, ctl: _c, ...rest } = r;
  return rest;
}

const realEstimate = navigator.storage.estimate.bind(navigator.storage);

const api = {
  ready: true,
  crossOriginIsolated: globalThis.crossOriginIsolated,
  /** direct library call; poll with status()/wait() */
  start(id: string, baseUrl: string, tuning?: Partial<TransferTuning>) {
    track(id, (o) => downloadModel({ id, label: id, baseUrl }, { ...o, tuning }));
  },
  async wait(id: string, timeoutMs = 120_000) {
    const r = runs.get(id);
    if (!r) throw new Error(`no run ${id}`);
    await Promise.race([r.promise, new Promise((res) => setTimeout(res, timeoutMs))]);
    return summary(id);
  },
  status: (id: string) => summary(id),
  cancel(id: string) {
    runs.get(id)?.ctl.abort();
  },
  async list() {
    return (await listCachedModels()).map(({ manifest, ...c }) => ({ ...c, files: manifest?.files.length ?? 0 }));
  },
  remove: (id: string) => deleteModel(id),
  /** reads every file of a cached model through the generation worker's reader and re-hashes it */
  async readAll(id: string) {
    const reader = modelFileReader(id);
    const manifest = parseManifest(JSON.parse(await (await reader.read('manifest.json')).text()));
    const mismatches: string[] = [];
    let bytes = 0;
    for (const f of manifest.files) {
      const blob = await reader.read(f.path);
      const h = new Sha256();
      const r = blob.stream().getReader();
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        h.update(value);
      }
      bytes += h.bytes;
      if (h.hex() !== f.sha256) mismatches.push(f.path);
    }
    return { files: manifest.files.length, bytes, mismatches };
  },
  stubQuota(quota: number, usage: number) {
    navigator.storage.estimate = async () => ({ quota, usage });
  },
  unstubQuota() {
    navigator.storage.estimate = realEstimate;
  },
  /** builds a File[] "folder" from a hosted model (optionally damaged) and imports it */
  startImport(key: string, baseUrl: string, id: string, damage: { corrupt?: string; drop?: string; extra?: string } = {}) {
    track(key, async (o) => {
      const manifestText = await (await fetch(new URL('manifest.json', baseUrl))).text();
      const manifest = parseManifest(JSON.parse(manifestText));
      const files: File[] = [new File([manifestText], 'manifest.json')];
      for (const f of manifest.files) {
        if (f.path === damage.drop) continue;
        const bytes = new Uint8Array(await (await fetch(new URL(f.path, baseUrl))).arrayBuffer());
        if (f.path === damage.corrupt) bytes[bytes.length >> 1] ^= 0x5a;
        files.push(new File([bytes], f.path));
      }
      if (damage.extra) files.push(new File(['notes'], damage.extra));
      return importModelFolder(files, { ...o, id });
    });
  },
  /** MB/s of the incremental sha256 in this page */
  benchSha256(mb = 64) {
    const data = new Uint8Array(mb << 20);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 255;
    const t = performance.now();
    const h = new Sha256();
    for (let i = 0; i < data.length; i += 65536) h.update(data.subarray(i, i + 65536));
    h.hex();
    return mb / ((performance.now() - t) / 1000);
  },
  // the UI
  setRecords(records: ModelRecord[]) {
    store.getState().setRecords([...MODEL_REGISTRY, ...records]);
  },
  setTuning(tuning: Partial<TransferTuning>) {
    store.setState({ tuning });
  },
  refreshUi: () => store.getState().refresh(),
  /** a Hub download + conversion, called directly (benchmarks); poll with status()/wait() */
  startHub(key: string, request: HubDownloadRequest, tuning?: Partial<TransferTuning>) {
    track(key, (o) => downloadFromHub(request, { ...o, tuning }));
  },
  /** this origin's storage use (navigator.storage.estimate) */
  async usage() {
    return (await navigator.storage.estimate()).usage ?? 0;
  },
  /** the Hub panel's settings: a local stand-in for the Hub, a hold after a graph (reload tests), faster retries */
  setHub(patch: Partial<Pick<HubState, 'url' | 'token' | 'precision'>> & { holdAfter?: GraphName | null; tuning?: Partial<TransferTuning> }) {
    const { holdAfter, tuning, ...rest } = patch;
    store.setState((s) => ({
      hub: { ...s.hub, ...rest, ...(holdAfter !== undefined ? { holdAfter: holdAfter ?? undefined } : {}) },
      ...(tuning ? { tuning } : {}),
    }));
  },
  /** the Hub job's result or error, as the library slice holds it */
  hubJob(id: string) {
    const j = store.getState().jobs[id];
    return j ? { running: j.running, error: j.error, stats: j.result?.stats, phase: j.progress?.phase, doneBytes: j.progress?.doneBytes, totalBytes: j.progress?.totalBytes } : null;
  },
  /** sha256 of every file OPFS holds for a model (models/<id>/) and the sizes of its staged sources (staging/<id>/) */
  async folder(id: string) {
    const hashes: Record<string, string> = {};
    const texts: Record<string, string> = {};
    let staged: Record<string, number> = {};
    try {
      const dir = await modelDirectory(id);
      for (const path of (await listFiles(dir)).keys()) {
        let d = dir;
        const parts = path.split('/');
        for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p);
        const file = await (await d.getFileHandle(parts[parts.length - 1])).getFile();
        const bytes = new Uint8Array(await file.arrayBuffer());
        hashes[path] = new Sha256().update(bytes).hex();
        if (path.endsWith('.json')) texts[path] = new TextDecoder().decode(bytes);
      }
    } catch {
      // no folder
    }
    try {
      staged = Object.fromEntries(await listFiles(await stagingDirectory(id)));
    } catch {
      staged = {};
    }
    return { hashes, texts, staged };
  },
};

(globalThis as unknown as { __svdModels: typeof api }).__svdModels = api;
export type ModelsHarnessApi = typeof api;

const root = document.getElementById('root');
if (root) createRoot(root).render(createElement(ModelManager, { store }));
