/**
 * ModelRuntime on onnxruntime-web's native WebGPU EP (`onnxruntime-web/webgpu`; the default import's JSEP
 * backend silently corrupts fp16), with the wasm EP when there is no adapter. Runs inside our own module worker.
 * Sessions are created one graph at a time from the model's files; external data is handed to ORT per file.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { graphEntry, type GraphName, type ModelManifest } from '../models/manifest.ts';
import { newStats, type DeviceResidency, type DeviceSession, type DeviceTensor, type GraphSession, type ModelRuntime, type Tensor32 } from './types.ts';
import { ortWasmPaths } from './assets.ts';

/** Reads one file of a model folder (from OPFS, or over HTTP). */
export interface ModelFileReader {
  read(path: string): Promise<Uint8Array | Blob>;
}

export interface GpuSetup {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  features: string[];
  maxBufferSize: number;
}

let configured = false;
function configureOrt(): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.wasmPaths = ortWasmPaths();
  // Threads need cross-origin isolation (SharedArrayBuffer); without it ORT falls back to one thread.
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.logLevel = 'error';
}

/**
 * The native EP ignores env.webgpu.adapter/powerPreference: request the adapter and device ourselves, with
 * shader-f16 when present and the adapter's largest buffer limits (the defaults, 128/256 MiB, are too small).
 */
export async function requestGpu(): Promise<GpuSetup | { error: string }> {
  const gpu = (navigator as unknown as { gpu?: GPU }).gpu;
  if (!gpu) return { error: 'this browser has no WebGPU (navigator.gpu is missing)' };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { error: `requesting a WebGPU adapter failed: ${(e as Error).message}` };
  }
  if (!adapter) return { error: 'no WebGPU adapter is available (GPU blocklisted or disabled?)' };
  const wanted = ['shader-f16', 'subgroups', 'timestamp-query'].filter((f) => adapter!.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures: wanted as GPUFeatureName[],
    requiredLimits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
    },
  });
  const info = adapter.info;
  return {
    device,
    adapterInfo: { vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false },
    features: [...adapter.features],
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

export class WebRuntime implements ModelRuntime {
  readonly stats = newStats();
  readonly resident?: DeviceResidency;

  constructor(
    private readonly manifest: ModelManifest,
    private readonly files: ModelFileReader,
    readonly device: 'webgpu' | 'wasm',
    private readonly gpu?: GpuSetup,
  ) {
    configureOrt();
    if (device === 'webgpu' && gpu) this.resident = new WebGpuResidency(this, gpu.device);
  }

  /** Creates an ORT session of one graph; `outputsOnGpu` keeps every output in a GPU buffer. */
  async createSession(graph: GraphName, outputsOnGpu = false): Promise<ort.InferenceSession> {
    const entry = graphEntry(this.manifest, graph);
    const t0 = performance.now();
    const model = await this.files.read(entry.model);
    const modelBytes = model instanceof Blob ? new Uint8Array(await model.arrayBuffer()) : model;
    const externalData = await Promise.all(entry.externalData.map(async (path) => ({ path, data: await this.files.read(path) })));
    const ep: ort.InferenceSession.ExecutionProviderConfig =
      this.device === 'webgpu' ? ({ name: 'webgpu', device: this.gpu?.device } as ort.InferenceSession.ExecutionProviderConfig) : 'wasm';
    const session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: [ep],
      externalData: externalData as ort.InferenceSession.SessionOptions['externalData'],
      graphOptimizationLevel: 'all',
      ...(outputsOnGpu ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    });
    this.stats.createMs += performance.now() - t0;
    return session;
  }

  /** session.run with the time spent inside ORT counted. */
  async timedRun(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    const t = performance.now();
    const out = await session.run(feeds);
    this.stats.runMs += performance.now() - t;
    this.stats.runs++;
    return out;
  }

  async open(graph: GraphName): Promise<GraphSession> {
    const session = await this.createSession(graph);
    return {
      run: async (feeds: Record<string, Tensor32>) => {
        const inputs: Record<string, ort.Tensor> = {};
        for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
        const out = await this.timedRun(session, inputs);
        const result: Record<string, Tensor32> = {};
        for (const [k, v] of Object.entries(out)) {
          result[k] = { data: (await v.getData()) as Float32Array, dims: [...v.dims] };
          v.dispose();
        }
        return result;
      },
      release: () => session.release(),
    };
  }
}

/** A GPU buffer owned by ORT (a session output) or by us (an upload). */
class GpuTensor implements DeviceTensor {
  constructor(readonly tensor: ort.Tensor) {}
  get dims(): readonly number[] {
    return this.tensor.dims;
  }
  dispose(): void {
    this.tensor.dispose();
  }
}

/** Keeps tensors in GPU buffers between runs: outputs come back as GPU tensors and are fed straight in again. */
class WebGpuResidency implements DeviceResidency {
  readbacks = 0;

  constructor(private readonly runtime: WebRuntime, private readonly device: GPUDevice) {}

  async open(graph: GraphName): Promise<DeviceSession> {
    const session = await this.runtime.createSession(graph, true);
    return {
      run: async (feeds) => {
        const inputs: Record<string, ort.Tensor> = {};
        for (const [k, v] of Object.entries(feeds)) inputs[k] = v instanceof GpuTensor ? v.tensor : new ort.Tensor('float32', (v as Tensor32).data, (v as Tensor32).dims);
        const out = await this.runtime.timedRun(session, inputs);
        return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new GpuTensor(t)]));
      },
      release: () => session.release(),
    };
  }

  upload(t: Tensor32): DeviceTensor {
    const size = Math.ceil(t.data.byteLength / 4) * 4;
    const buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, t.data.buffer as ArrayBuffer, t.data.byteOffset, t.data.byteLength);
    return new GpuTensor(ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: t.dims, dispose: () => buffer.destroy() }));
  }

  async read(t: DeviceTensor): Promise<Tensor32> {
    this.readbacks++;
    const tensor = (t as GpuTensor).tensor;
    return { data: (await tensor.getData()) as Float32Array, dims: [...tensor.dims] };
  }
}

/** Files over HTTP below a base URL. */
export function httpFileReader(baseUrl: string, signal?: AbortSignal): ModelFileReader {
  return {
    async read(path) {
      const res = await fetch(new URL(path, baseUrl), { signal });
      if (!res.ok) throw new Error(`fetching ${path} failed: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
