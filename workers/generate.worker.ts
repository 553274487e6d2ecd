/// <reference lib="webworker" />
/**
 * The generation worker: owns the GPU device and the model, runs one job at a time, reports progress and
 * frames as they come. Talks only through the typed protocol in src/protocol/messages.ts.
 */
import type { FromWorker, FromWorkerPayloads, ToWorker, DeviceInfo, ModelSource, DevicePreference } from '../src/protocol/messages.ts';
import { transferablesOf } from '../src/protocol/messages.ts';
import { generateFrames, isOutOfMemory, CancelledError, PipelineInputError } from '../src/pipeline/pipeline.ts';
import { FramingError } from '../src/pipeline/image.ts';
import { validateRequest, formatRequestErrors, DEFAULT_MAX_LOCAL_FRAMES } from '../src/contract/request.ts';
import { parseManifest, type ModelManifest } from '../src/contract/manifest.ts';
import { WebRuntime, httpFileReader, requestGpu, type GpuSetup, type ModelFileReader } from '../src/runtime/web.ts';
import { opfsFileReader } from '../src/models/opfs.ts';
import { CachingRuntime } from '../src/runtime/cache.ts';
import type { ModelRuntime } from '../src/runtime/types.ts';

/** Models up to this size keep all four sessions open between generations; larger ones load stage by stage. */
const KEEP_SESSIONS_BYTES = 512 * 1024 * 1024;

declare const self: DedicatedWorkerGlobalScope;

interface LoadedModel {
  manifest: ModelManifest;
  runtime: ModelRuntime;
  device: DeviceInfo;
  dispose(): Promise<void>;
}

let gpu: GpuSetup | { error: string } | undefined;
let model: LoadedModel | undefined;
let job: { id: number; controller: AbortController } | undefined;

function post<K extends keyof FromWorkerPayloads>(kind: K, id: number, payload: FromWorkerPayloads[K]): void {
  const message = { kind, id, payload } as FromWorker;
  self.postMessage(message, transferablesOf(message));
}

async function probe(preference: DevicePreference = 'auto'): Promise<DeviceInfo> {
  const base = { crossOriginIsolated: self.crossOriginIsolated };
  if (preference === 'wasm') return { ...base, device: 'wasm', reason: 'CPU (wasm) was chosen', features: [] };
  gpu ??= await requestGpu();
  if ('error' in gpu) {
    if (preference === 'webgpu') throw Object.assign(new Error(gpu.error), { code: 'device' });
    return { ...base, device: 'wasm', reason: `${gpu.error}; running on the CPU (wasm), which is slow`, features: [] };
  }
  return {
    ...base,
    device: 'webgpu',
    reason: `WebGPU adapter ${gpu.adapterInfo.vendor || 'unknown'} ${gpu.adapterInfo.architecture}`.trim(),
    adapter: gpu.adapterInfo,
    features: gpu.features,
    maxBufferSize: gpu.maxBufferSize,
  };
}

function readerFor(source: ModelSource): ModelFileReader {
  return source.kind === 'url' ? httpFileReader(source.baseUrl) : opfsFileReader(source.modelId);
}

async function load(source: ModelSource, preference: DevicePreference): Promise<LoadedModel> {
  const files = readerFor(source);
  const raw = await files.read('manifest.json');
  const text = raw instanceof Blob ? await raw.text() : new TextDecoder().decode(raw);
  const manifest = parseManifest(JSON.parse(text));
  const device = await probe(preference);
  const missing = manifest.requiredFeatures.filter((f) => !device.features.includes(f));
  if (device.device === 'webgpu' && missing.length) {
    throw Object.assign(new Error(`this model needs the GPU feature(s) ${missing.join(', ')}, which this GPU lacks; use a q4f32 or fp32 model`), { code: 'device' });
  }
  const web = new WebRuntime(manifest, files, device.device, device.device === 'webgpu' ? (gpu as GpuSetup) : undefined);
  if (manifest.totalBytes <= KEEP_SESSIONS_BYTES) {
    const cached = new CachingRuntime(web);
    return { manifest, runtime: cached, device, dispose: () => cached.dispose() };
  }
  return { manifest, runtime: web, device, dispose: async () => {} };
}

async function generate(id: number, message: Extract<ToWorker, { kind: 'generate' }>['payload']): Promise<void> {
  if (!model) throw Object.assign(new Error('no model is loaded; load one first'), { code: 'model' });
  const { manifest, runtime } = model;
  const checked = validateRequest(message.request, {
    backend: 'local',
    maxFrames: Math.max(DEFAULT_MAX_LOCAL_FRAMES, manifest.pipeline.defaultFrames),
    defaultFrames: manifest.pipeline.defaultFrames,
  });
  if (!checked.ok) throw Object.assign(new Error(formatRequestErrors(checked.errors)), { code: 'invalid-request' });
  const controller = new AbortController();
  job = { id, controller };
  const started = performance.now();
  const clock = runtime.stats;
  await clock.settled();
  const before = { busy: clock.busyMs, call: clock.callMs, create: clock.createMs };
  const result = await generateFrames(runtime, manifest, message.image, checked.request, {
    latents: message.latents,
    keepFloatFrames: message.floatFrames,
    graphCapture: message.graphCapture,
    signal: controller.signal,
    onProgress: (p) => post('progress', id, p),
    onFrames: (batch) => post('frames', id, batch),
  });
  post('result', id, {
    seed: result.seed,
    width: result.width,
    height: result.height,
    fps: result.fps,
    frameCount: result.frames.length,
    timings: {
      ...result.timings,
      ortRun: (await clock.settled(), clock.busyMs - before.busy),
      ortCall: clock.callMs - before.call,
      ortCallLoop: result.ortCall.denoise,
      ortCreate: clock.createMs - before.create,
      total: performance.now() - started,
    },
    readbacks: result.readbacks,
    loop: result.loop,
    graphCapture: result.graphCapture,
  });
}

function errorCode(e: unknown): FromWorkerPayloads['error']['code'] {
  const code = (e as { code?: string }).code;
  if (code === 'device' || code === 'model' || code === 'invalid-request' || code === 'invalid-image') return code;
  if (e instanceof PipelineInputError || e instanceof FramingError) return 'invalid-request';
  if (isOutOfMemory(e)) return 'out-of-memory';
  return 'internal';
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  try {
    switch (message.kind) {
      case 'probe':
        post('probed', message.id, await probe());
        break;
      case 'load':
        if (job) {
          post('error', message.id, { code: 'busy', message: 'a generation is running; cancel it before loading another model' });
          break;
        }
        await model?.dispose();
        model = undefined;
        model = await load(message.payload.source, message.payload.device);
        post('loaded', message.id, { manifest: model.manifest, device: model.device });
        break;
      case 'generate':
        if (job) {
          post('error', message.id, { code: 'busy', message: `job ${job.id} is still running; cancel it or wait for it to finish` });
          break;
        }
        try {
          await generate(message.id, message.payload);
        } finally {
          job = undefined;
        }
        break;
      case 'cancel':
        if (job && job.id === message.payload.jobId) job.controller.abort();
        break;
      default: {
        const unknown: never = message;
        throw new Error(`unknown message ${JSON.stringify(unknown)}`);
      }
    }
  } catch (e) {
    if (e instanceof CancelledError) post('cancelled', message.id, {});
    else post('error', message.id, { code: errorCode(e), message: (e as Error).message });
  }
};
