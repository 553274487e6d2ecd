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
}

export function newStats(): RuntimeStats {
  return { runMs: 0, createMs: 0, runs: 0 };
}
