/**
 * One interface over onnxruntime-web (worker) and onnxruntime-node (CLI) sessions, so the pipeline never
 * knows which it runs on. Tensors cross it as float32 CPU arrays; each runtime counts its own time in ORT.
 */
import type { GraphName } from '../models/manifest.ts';

export interface Tensor32 {
  data: Float32Array;
  dims: number[];
}

export type DeviceKind = 'webgpu' | 'wasm' | 'cpu';

export interface GraphSession {
  run(feeds: Record<string, Tensor32>): Promise<Record<string, Tensor32>>;
  release(): Promise<void>;
}

export interface RuntimeStats {
  /** milliseconds spent inside ORT run() calls */
  runMs: number;
  /** milliseconds spent creating sessions */
  createMs: number;
  runs: number;
}

export interface ModelRuntime {
  readonly device: DeviceKind;
  readonly stats: RuntimeStats;
  /** Creates the session of one graph. Callers release it when done, so at most one big graph is resident. */
  open(graph: GraphName): Promise<GraphSession>;
  /** Present where tensors can stay on the device between runs (WebGPU). */
  readonly resident?: DeviceResidency;
}

export function newStats(): RuntimeStats {
  return { runMs: 0, createMs: 0, runs: 0 };
}

/** A tensor kept in the runtime's device memory (a GPU buffer on WebGPU); opaque to the pipeline. */
export interface DeviceTensor {
  readonly dims: readonly number[];
  dispose(): void;
}

export interface DeviceSession {
  /** Runs with inputs from the CPU or the device; every output stays on the device. */
  run(feeds: Record<string, Tensor32 | DeviceTensor>): Promise<Record<string, DeviceTensor>>;
  release(): Promise<void>;
}

/** Device-resident execution (WebGPU): whole loops run without copying tensors back to the CPU. */
export interface DeviceResidency {
  open(graph: GraphName): Promise<DeviceSession>;
  /** Copies a CPU tensor to the device once, for inputs used at every step. */
  upload(t: Tensor32): DeviceTensor;
  /** Copies a device tensor to the CPU; every call is counted in `readbacks`. */
  read(t: DeviceTensor): Promise<Tensor32>;
  readonly readbacks: number;
}
