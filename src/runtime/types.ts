/**
 * One interface over onnxruntime-web (worker) and onnxruntime-node (CLI) sessions, so the pipeline never
 * knows which it runs on. Tensors cross it as float32 CPU arrays; each runtime counts its own time in ORT
 * (./clock.ts). Where tensors can stay on the device between runs (WebGPU), `resident` offers that too.
 */
import type { GraphName } from '../contract/manifest.ts';
import { RunClock } from './clock.ts';
import type { GraphChunking } from '../compiler/onnx/chunked-attention.ts';

export interface Tensor32 {
  data: Float32Array;
  dims: number[];
}

export type DeviceKind = 'webgpu' | 'wasm' | 'cpu';

export interface GraphSession {
  run(feeds: Record<string, Tensor32>): Promise<Record<string, Tensor32>>;
  release(): Promise<void>;
}

export interface ModelRuntime {
  readonly device: DeviceKind;
  /** time in ORT: creating sessions, inside run(), and until the device finished each run */
  readonly stats: RunClock;
  /** Creates the session of one graph. Callers release it when done, so at most one big graph is resident. */
  open(graph: GraphName): Promise<GraphSession>;
  /** Present where tensors can stay on the device between runs (WebGPU). */
  readonly resident?: DeviceResidency;
  /** How sessions are made from now on (the memory plan's choices for the next job); where absent, as converted. */
  useSessionPlan?(plan: SessionPlan): void;
}

/** The memory plan's choices for the sessions of a job. */
export interface SessionPlan {
  /** each graph's fused attention replaced by query-chunked attention, chunked so (src/compiler/onnx/chunked-attention.ts) */
  attention?: AttentionChunking;
  /**
   * device sessions of these graphs created as this many parts, each from its own weights, chained on device buffers
   * (src/compiler/onnx/split-graph.ts): session creation holds one part's weights in the JS heap at a time
   */
  parts?: Partial<Record<GraphName, number>>;
}

/** Each graph's chunking of its fused attention nodes (src/compiler/onnx/chunked-attention.ts). */
export type AttentionChunking = Partial<Record<GraphName, GraphChunking>>;

export function newStats(): RunClock {
  return new RunClock();
}

/** A tensor kept in the runtime's device memory (a GPU buffer on WebGPU); opaque to the pipeline. */
export interface DeviceTensor {
  readonly dims: readonly number[];
  dispose(): void;
}

export interface DeviceSessionOptions {
  /**
   * The shape of every input for the runs to come. The runtime fixes the graph's symbolic dimensions to them, so
   * ORT folds the shape arithmetic away at creation (every node then runs on the device).
   */
  shapes: Record<string, readonly number[]>;
  /**
   * Record the GPU commands of the first run and replay them at every later run (ORT's graph capture). Needs every
   * input and output to be the same device tensor at every run. Ignored where the session cannot be captured
   * (`DeviceSession.capture` says so and why).
   */
  capture?: boolean;
}

export interface DeviceSession {
  /**
   * Runs on inputs from the CPU or the device, writing each output into the device tensor given for it. Outputs are
   * allocated by the caller, once: no allocation per run, and the same buffers every time (as graph capture needs).
   */
  run(feeds: Record<string, Tensor32 | DeviceTensor>, outputs: Record<string, DeviceTensor>): Promise<void>;
  /** whether runs replay captured GPU commands, and why not when they do not */
  readonly capture: { on: true } | { on: false; reason: string };
  release(): Promise<void>;
}

/** Device-resident execution (WebGPU): whole loops run without copying tensors back to the CPU. */
export interface DeviceResidency {
  open(graph: GraphName, options: DeviceSessionOptions): Promise<DeviceSession>;
  /** A new device tensor holding a copy of a CPU tensor. */
  upload(t: Tensor32): DeviceTensor;
  /** A new device tensor of zeros. */
  allocate(dims: readonly number[]): DeviceTensor;
  /** Overwrites a device tensor with CPU data; ordered after the work submitted before, and before the work after. */
  write(t: DeviceTensor, data: Float32Array): void;
  /** Copies a device tensor to the CPU; every call is counted in `readbacks`. */
  read(t: DeviceTensor): Promise<Tensor32>;
  /** Resolves when the device has finished all the work submitted so far (no data is copied). */
  whenIdle(): Promise<void>;
  readonly readbacks: number;
}
