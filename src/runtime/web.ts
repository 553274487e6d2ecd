/**
 * ModelRuntime on onnxruntime-web's native WebGPU EP (`onnxruntime-web/webgpu`; the default import's JSEP
 * backend silently corrupts fp16), with the wasm EP when there is no adapter. Runs inside our own module worker.
 * Sessions are created one graph at a time from the model's files; external data is handed to ORT per file.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { graphEntry, type GraphName, type ModelManifest } from '../contract/manifest.ts';
import { chunkAttentionInModel } from '../compiler/onnx/chunked-attention.ts';
import { newStats, type AttentionChunking, type DeviceResidency, type DeviceSession, type DeviceSessionOptions, type DeviceTensor, type GraphSession, type ModelRuntime, type Tensor32 } from './types.ts';
import { staticDimensions } from './shapes.ts';
import { ortWasmPaths } from './assets.ts';
import type { RunOnDevice } from './attention-check.ts';

/** Reads one file of a model folder (from OPFS, or over HTTP). */
export interface ModelFileReader {
  read(path: string): Promise<Uint8Array | Blob>;
}

export interface GpuSetup {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  features: string[];
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
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
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** Runs small float32 models on this GPU device (the attention self-test's runner; every node on the GPU). */
export function gpuModelRunner(gpu: GpuSetup): RunOnDevice {
  configureOrt();
  return async (model, feeds) => {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [{ name: 'webgpu', device: gpu.device } as ort.InferenceSession.ExecutionProviderConfig],
      logSeverityLevel: 3,
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    try {
      const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
      const result: Record<string, Float32Array> = {};
      for (const [k, t] of Object.entries(out)) {
        result[k] = (await t.getData()) as Float32Array;
        t.dispose();
      }
      return result;
    } finally {
      await session.release();
    }
  };
}

export interface SessionSetup {
  /** keep every output in a GPU buffer */
  outputsOnGpu?: boolean;
  /** symbolic dimensions fixed at creation (ORT's freeDimensionOverrides) */
  dimensions?: Record<string, number>;
  /** ORT graph capture: the first run is recorded, later runs replay it */
  capture?: boolean;
}

export class WebRuntime implements ModelRuntime {
  readonly stats = newStats();
  readonly resident?: DeviceResidency;
  private attention: AttentionChunking | undefined;

  constructor(
    private readonly manifest: ModelManifest,
    private readonly files: ModelFileReader,
    readonly device: 'webgpu' | 'wasm',
    private readonly gpu?: GpuSetup,
  ) {
    configureOrt();
    if (device === 'webgpu' && gpu) this.resident = new WebGpuResidency(this, manifest, gpu.device);
  }

  chunkAttention(chunking: AttentionChunking | undefined): void {
    this.attention = chunking;
  }

  /** Creates an ORT session of one graph from the model's files (its fused attention chunked where so planned). */
  async createSession(graph: GraphName, setup: SessionSetup = {}): Promise<ort.InferenceSession> {
    const entry = graphEntry(this.manifest, graph);
    const t0 = performance.now();
    const model = await this.files.read(entry.model);
    const converted = model instanceof Blob ? new Uint8Array(await model.arrayBuffer()) : model;
    const chunking = this.attention?.[graph];
    const modelBytes = chunking ? chunkAttentionInModel(converted, chunking) : converted;
    const externalData = await Promise.all(entry.externalData.map(async (path) => ({ path, data: await this.files.read(path) })));
    const ep: ort.InferenceSession.ExecutionProviderConfig =
      this.device === 'webgpu' ? ({ name: 'webgpu', device: this.gpu?.device } as ort.InferenceSession.ExecutionProviderConfig) : 'wasm';
    try {
      return await ort.InferenceSession.create(modelBytes, {
        executionProviders: [ep],
        externalData: externalData as ort.InferenceSession.SessionOptions['externalData'],
        graphOptimizationLevel: 'all',
        // errors only: ORT's notes that shape ops run on the CPU (by design) would reach the console as errors
        logSeverityLevel: 3,
        ...(setup.outputsOnGpu ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
        ...(setup.dimensions ? { freeDimensionOverrides: setup.dimensions } : {}),
        ...(setup.capture ? { enableGraphCapture: true } : {}),
      });
    } finally {
      this.stats.createMs += performance.now() - t0;
    }
  }

  /**
   * session.run with ORT's time counted: the call itself, and on WebGPU until the device has finished the work the
   * call queued (run() resolves before that; the span ends when the queue reports it done).
   */
  async timedRun(
    session: ort.InferenceSession,
    feeds: Record<string, ort.Tensor>,
    fetches?: Record<string, ort.Tensor> | string[],
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const span = this.stats.begin();
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = fetches ? await session.run(feeds, fetches) : await session.run(feeds);
    } catch (e) {
      this.stats.returned(span);
      this.stats.finish(span);
      throw e;
    }
    this.stats.returned(span);
    const queue = this.device === 'webgpu' ? this.gpu?.device.queue : undefined;
    if (queue) {
      const finish = () => this.stats.finish(span);
      queue.onSubmittedWorkDone().then(finish, finish);
    } else {
      this.stats.finish(span);
    }
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

/** A GPU buffer of ours, seen by ORT as a float32 tensor. */
class GpuTensor implements DeviceTensor {
  readonly tensor: ort.Tensor;

  constructor(
    readonly buffer: GPUBuffer,
    readonly dims: readonly number[],
  ) {
    this.tensor = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims });
  }

  dispose(): void {
    this.buffer.destroy();
  }
}

/** ORT refuses graph capture at session creation when a node would run on the CPU; this is how it says so. */
const CAPTURE_REFUSED = /graph capture/i;

/**
 * Keeps tensors in GPU buffers between runs. Every buffer is ours (uploads, allocations, and pre-allocated outputs
 * that ORT writes into), so a loop can run on fixed buffers and ORT can capture and replay it.
 */
class WebGpuResidency implements DeviceResidency {
  readbacks = 0;

  constructor(
    private readonly runtime: WebRuntime,
    private readonly manifest: ModelManifest,
    private readonly device: GPUDevice,
  ) {}

  async open(graph: GraphName, options: DeviceSessionOptions): Promise<DeviceSession> {
    const inputs = graphEntry(this.manifest, graph).inputs;
    const dimensions = inputs ? staticDimensions(graph, inputs, options.shapes) : undefined;
    let capture: DeviceSession['capture'] = { on: false, reason: 'not asked for' };
    let session: ort.InferenceSession | undefined;
    if (options.capture && !dimensions) capture = { on: false, reason: 'the model does not record its input shapes (convert it again with this version)' };
    if (options.capture && dimensions) {
      try {
        session = await this.runtime.createSession(graph, { outputsOnGpu: true, dimensions, capture: true });
        capture = { on: true };
      } catch (e) {
        if (!CAPTURE_REFUSED.test(String((e as Error).message))) throw e;
        capture = { on: false, reason: `onnxruntime refused it: ${(e as Error).message}` };
      }
    }
    session ??= await this.runtime.createSession(graph, { outputsOnGpu: true, dimensions });
    const ready = session;
    const toOrt = (v: Tensor32 | DeviceTensor): ort.Tensor => (v instanceof GpuTensor ? v.tensor : new ort.Tensor('float32', (v as Tensor32).data, (v as Tensor32).dims));
    if (!capture.on) {
      return {
        capture,
        run: async (feeds, outputs) => {
          const fetches = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, (v as GpuTensor).tensor]));
          await this.runtime.timedRun(ready, mapValues(feeds, toOrt), fetches);
        },
        release: () => ready.release(),
      };
    }
    // A captured session binds its inputs and outputs at the first run and replays onto those very buffers ever
    // after: onnxruntime-web ignores the tensors of later runs. So the session owns its input buffers and each run
    // copies the caller's inputs into them, on the device; a loop that keeps the session across jobs stays correct.
    // Outputs are left to ORT (pre-allocated ones break in 1.30: after the first run ORT stops recognising them and
    // looks up a buffer handle it has already released) and copied into the caller's tensors after each run.
    const bound = new Map<string, GpuTensor>();
    const boundFor = (name: string, dims: readonly number[]): GpuTensor => {
      let t = bound.get(name);
      if (!t) bound.set(name, (t = this.allocate(dims) as GpuTensor));
      else if (t.dims.join() !== dims.join()) throw new Error(`${graph}: "${name}" was bound as [${t.dims}] and cannot take [${dims}] (the session is captured for fixed shapes)`);
      return t;
    };
    return {
      capture,
      run: async (feeds, outputs) => {
        const copyIn = this.device.createCommandEncoder();
        const inputsOrt: Record<string, ort.Tensor> = {};
        for (const [name, v] of Object.entries(feeds)) {
          const target = boundFor(name, v.dims);
          if (v instanceof GpuTensor) copyIn.copyBufferToBuffer(v.buffer, 0, target.buffer, 0, byteSize(v.dims));
          else this.write(target, (v as Tensor32).data);
          inputsOrt[name] = target.tensor;
        }
        this.device.queue.submit([copyIn.finish()]);
        const out = await this.runtime.timedRun(ready, inputsOrt, Object.keys(outputs));
        const copyOut = this.device.createCommandEncoder();
        for (const [name, v] of Object.entries(outputs)) {
          const produced = out[name];
          if (!produced) throw new Error(`${graph}: the run gave no output "${name}"`);
          if (produced.dims.join() !== v.dims.join()) throw new Error(`${graph}: output "${name}" is [${produced.dims}], the caller's tensor [${v.dims}]`);
          copyOut.copyBufferToBuffer(produced.gpuBuffer, 0, (v as GpuTensor).buffer, 0, byteSize(v.dims));
        }
        this.device.queue.submit([copyOut.finish()]);
        // the handles ORT returned; the buffers behind them belong to the captured graph and stay
        for (const t of Object.values(out)) t.dispose();
      },
      release: async () => {
        await ready.release();
        for (const t of bound.values()) t.dispose();
        bound.clear();
      },
    };
  }

  private buffer(byteLength: number): GPUBuffer {
    // ORT's kernels bind buffers as arrays of vec4 (its own allocations are rounded up to 16 bytes); a [1] tensor in
    // a 4-byte buffer fails validation
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    return this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  upload(t: Tensor32): DeviceTensor {
    const out = new GpuTensor(this.buffer(t.data.byteLength), t.dims);
    this.write(out, t.data);
    return out;
  }

  allocate(dims: readonly number[]): DeviceTensor {
    return new GpuTensor(this.buffer(byteSize(dims)), dims); // new buffers are zeroed
  }

  write(t: DeviceTensor, data: Float32Array): void {
    this.device.queue.writeBuffer((t as GpuTensor).buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  async read(t: DeviceTensor): Promise<Tensor32> {
    this.readbacks++;
    const src = (t as GpuTensor).buffer;
    const bytes = byteSize(t.dims);
    const staging = this.device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(src, 0, staging, 0, Math.max(4, bytes));
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const data = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      return { data, dims: [...t.dims] };
    } finally {
      staging.destroy();
    }
  }

  whenIdle(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }
}

/** Bytes of a float32 tensor. */
function byteSize(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1) * 4;
}

function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
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
