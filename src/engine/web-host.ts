/**
 * The browser's ModelHost (runs inside the generation worker): finds the WebGPU adapter, reads a model's files
 * from OPFS or over HTTP, and opens sessions on onnxruntime-web (WebGPU EP, or wasm without an adapter).
 */
import { parseManifest } from '../contract/manifest.ts';
import { EngineError, type DeviceInfo, type DevicePreference, type ModelSource } from '../contract/job.ts';
import { WebRuntime, gpuModelRunner, httpFileReader, requestGpu, type GpuSetup, type ModelFileReader } from '../runtime/web.ts';
import { AttentionCheckError, checkAttention, type AttentionVerdict } from '../runtime/attention-check.ts';
import { CachingRuntime } from '../runtime/cache.ts';
import { opfsFileReader } from '../models/opfs.ts';
import type { ModelHost, OpenModel } from './in-process.ts';
import { KEEP_SESSIONS_BYTES, MemoryPlanner } from '../plan/request-plan.ts';
import { planModelFromManifest } from '../plan/model.ts';
import type { ModelManifest } from '../contract/manifest.ts';

export class WebModelHost implements ModelHost {
  private gpu: GpuSetup | { error: string } | undefined;
  /** the attention self-test's verdict, once per GPU device */
  private readonly attentionChecks = new WeakMap<GpuSetup, Promise<AttentionVerdict>>();

  async probe(preference: DevicePreference): Promise<DeviceInfo> {
    const base = { crossOriginIsolated: globalThis.crossOriginIsolated ?? false };
    if (preference === 'wasm') return { ...base, device: 'wasm', reason: 'CPU (wasm) was chosen', features: [] };
    this.gpu ??= await requestGpu();
    const gpu = this.gpu;
    if ('error' in gpu) {
      if (preference === 'webgpu') throw new EngineError('device', gpu.error);
      return { ...base, device: 'wasm', reason: `${gpu.error}; running on the CPU (wasm), which is slow`, features: [] };
    }
    return {
      ...base,
      device: 'webgpu',
      reason: `WebGPU adapter ${gpu.adapterInfo.vendor || 'unknown'} ${gpu.adapterInfo.architecture}`.trim(),
      adapter: gpu.adapterInfo,
      features: gpu.features,
      maxBufferSize: gpu.maxBufferSize,
      maxStorageBufferBindingSize: gpu.maxStorageBufferBindingSize,
    };
  }

  async open(source: ModelSource, device: DeviceInfo): Promise<OpenModel> {
    const files = readerFor(source);
    const raw = await files.read('manifest.json');
    const text = raw instanceof Blob ? await raw.text() : new TextDecoder().decode(raw);
    const manifest = parseManifest(JSON.parse(text));
    const missing = manifest.requiredFeatures.filter((f) => !device.features.includes(f));
    if (device.device === 'webgpu' && missing.length) {
      throw new EngineError('device', `this model needs the GPU feature(s) ${missing.join(', ')}, which this GPU lacks; use a q4f32 or fp32 model`);
    }
    const gpu = device.device === 'webgpu' ? (this.gpu as GpuSetup) : undefined;
    const attention = gpu && manifest.attention === 'fused' ? await this.checkAttention(gpu) : undefined;
    const web = new WebRuntime(manifest, files, device.device, gpu);
    const planner = lazyPlanner(manifest, files);
    const loss = gpu ? this.watchLoss(gpu) : {};
    const found = attention ? { attention: { kind: attention.kind, why: attention.why } } : {};
    if (manifest.totalBytes <= KEEP_SESSIONS_BYTES) {
      const cached = new CachingRuntime(web);
      return { manifest, runtime: cached, planner, ...loss, ...found, dispose: () => cached.dispose() };
    }
    return { manifest, runtime: web, planner, ...loss, ...found, dispose: async () => {} };
  }

  /** Which attention is right on this GPU (src/runtime/attention-check.ts); a GPU where neither is right is refused. */
  private async checkAttention(gpu: GpuSetup): Promise<AttentionVerdict> {
    let verdict = this.attentionChecks.get(gpu);
    if (!verdict) this.attentionChecks.set(gpu, (verdict = checkAttention(gpuModelRunner(gpu))));
    try {
      return await verdict;
    } catch (e) {
      if (e instanceof AttentionCheckError) throw new EngineError('device', e.message);
      this.attentionChecks.delete(gpu); // not a verdict (the device failed): ask again next time
      throw e;
    }
  }

  /** The device's loss, in words; a lost device is forgotten, so a later probe asks for a new one. */
  private watchLoss(gpu: GpuSetup): Pick<OpenModel, 'deviceLost' | 'loseDevice'> {
    const deviceLost = gpu.device.lost.then((info) => {
      if (this.gpu === gpu) this.gpu = undefined;
      return info.message ? `${info.reason}: ${info.message}` : String(info.reason);
    });
    return { deviceLost, loseDevice: () => gpu.device.destroy() };
  }
}

/** The memory planner of a model, made at its first use from its .onnx files (graphs only; a few MB for SVD-XT). */
function lazyPlanner(manifest: ModelManifest, files: ModelFileReader): () => Promise<MemoryPlanner> {
  let planner: Promise<MemoryPlanner> | undefined;
  return () => (planner ??= (async () => {
    const bytes = new Map<string, Uint8Array>();
    for (const entry of Object.values(manifest.graphs)) {
      if (!entry) continue;
      const raw = await files.read(entry.model);
      bytes.set(entry.model, raw instanceof Blob ? new Uint8Array(await raw.arrayBuffer()) : raw);
    }
    return new MemoryPlanner(planModelFromManifest(manifest, (path) => bytes.get(path)!));
  })());
}

function readerFor(source: ModelSource): ModelFileReader {
  switch (source.kind) {
    case 'url':
      return httpFileReader(source.baseUrl);
    case 'opfs':
      return opfsFileReader(source.modelId);
    case 'dir':
      throw new EngineError('model', 'a folder on disk can only be opened by the command line; import it under Models');
  }
}
