/**
 * ModelRuntime on onnxruntime-web's native WebGPU EP (`onnxruntime-web/webgpu`; the default import's JSEP
 * backend silently corrupts fp16), with the wasm EP when there is no adapter. Runs inside our own module worker.
 * Sessions are created one graph at a time from the model's files; external data is handed to ORT per file.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { graphEntry, type GraphName, type ModelManifest } from '../contract/manifest.ts';
import { chunkAttentionInModel } from '../compiler/onnx/chunked-attention.ts';
import { newStats, type DeviceResidency, type GraphSession, type ModelRuntime, type SessionPlan, type Tensor32 } from './types.ts';
import { WebGpuResidency } from './web-residency.ts';
import { splitGraph, type GraphPart } from '../compiler/onnx/split-graph.ts';
import { evaluateGraph } from '../compiler/onnx/shape-eval.ts';
import onnxProto from 'onnx-proto';
import { ortWasmPaths } from './assets.ts';
import type { RunOnDevice } from './attention-check.ts';

/** Reads one file of a model folder (from OPFS, or over HTTP). */
export interface ModelFileReader {
  read(path: string): Promise<Uint8Array | Blob>;
  /** `length` bytes of a file from `offset` (a graph's part reads only its own weights) */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
}

/** What a session is made from when it is not a graph's own files: a part's graph and its assembled weights. */
export interface SessionSource {
  model: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
}

// onnx-proto is CommonJS; its namespace is the default export under Node's ESM loader (as in src/compiler/onnx/graph.ts).
const { onnx } = onnxProto;

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
  private sessionPlan: SessionPlan = {};

  constructor(
    private readonly manifest: ModelManifest,
    private readonly files: ModelFileReader,
    readonly device: 'webgpu' | 'wasm',
    private readonly gpu?: GpuSetup,
  ) {
    configureOrt();
    if (device === 'webgpu' && gpu) this.resident = new WebGpuResidency(this, manifest, gpu.device);
  }

  useSessionPlan(plan: SessionPlan): void {
    this.sessionPlan = plan;
  }

  /** How many parts the session plan cuts a graph's device session into (1: whole). */
  partsOf(graph: GraphName): number {
    return this.sessionPlan.parts?.[graph] ?? 1;
  }

  /** A graph's .onnx bytes as sessions are made from them: its fused attention chunked where so planned. */
  private async graphBytes(graph: GraphName): Promise<Uint8Array> {
    const model = await this.files.read(graphEntry(this.manifest, graph).model);
    const converted = model instanceof Blob ? new Uint8Array(await model.arrayBuffer()) : model;
    const chunking = this.sessionPlan.attention?.[graph];
    return chunking ? chunkAttentionInModel(converted, chunking) : converted;
  }

  /** The graph cut into `parts` at these input shapes (src/compiler/onnx/split-graph.ts). */
  async split(graph: GraphName, shapes: Record<string, readonly number[]>, parts: number): Promise<GraphPart[]> {
    const model = onnx.ModelProto.decode(await this.graphBytes(graph));
    const g = model.graph!;
    const evaluation = evaluateGraph({ nodes: g.node ?? [], initializers: g.initializer ?? [], inputs: g.input ?? [] }, Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k, [...v]])));
    return splitGraph(model, evaluation, parts, graph);
  }

  /** A part's session source: its graph and its weights, read range by range (only this part's bytes are held). */
  async partSource(part: GraphPart): Promise<SessionSource> {
    const data = new Uint8Array(part.dataBytes);
    for (const r of part.ranges) data.set(await this.files.readRange(r.path, r.offset, r.length), r.partOffset);
    return { model: part.model, externalData: [{ path: part.dataPath, data }] };
  }

  /** Creates an ORT session of one graph from the model's files (or of a part, from `source`). */
  async createSession(graph: GraphName, setup: SessionSetup = {}, source?: () => Promise<SessionSource>): Promise<ort.InferenceSession> {
    const entry = graphEntry(this.manifest, graph);
    const t0 = performance.now();
    const { model: modelBytes, externalData } = source
      ? await source()
      : { model: await this.graphBytes(graph), externalData: await Promise.all(entry.externalData.map(async (path) => ({ path, data: await this.files.read(path) }))) };
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

/** Files over HTTP below a base URL. */
export function httpFileReader(baseUrl: string, signal?: AbortSignal): ModelFileReader {
  return {
    async read(path) {
      const res = await fetch(new URL(path, baseUrl), { signal });
      if (!res.ok) throw new Error(`fetching ${path} failed: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async readRange(path, offset, length) {
      const res = await fetch(new URL(path, baseUrl), { signal, headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      if (!res.ok) throw new Error(`fetching bytes ${offset}–${offset + length - 1} of ${path} failed: HTTP ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      // a server that ignores Range sends the whole file
      if (res.status === 200) return bytes.slice(offset, offset + length);
      if (bytes.length !== length) throw new Error(`fetching bytes of ${path}: got ${bytes.length} bytes, asked for ${length}`);
      return bytes;
    },
  };
}
