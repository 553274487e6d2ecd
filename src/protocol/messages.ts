/**
 * Every message between the UI thread and the generation worker. Each direction is one discriminated union
 * whose `kind` fixes the payload's type (the pattern of onnxruntime-web's proxy-messages.ts), built from one
 * map per direction so a new message is one line here and the compiler finds every place that must handle it.
 */
import type { ImageInput, SvdRequest } from '../contract/request.ts';
import type { FrameBatch, Progress } from '../pipeline/pipeline.ts';
import type { ModelManifest } from '../contract/manifest.ts';

/** Where the worker reads a model's files from. */
export type ModelSource =
  /** files in this origin's OPFS under models/<id>/ (downloaded or imported and verified earlier) */
  | { kind: 'opfs'; modelId: string }
  /** files fetched over HTTP from a base URL ending in '/' (demo and tests; no caching) */
  | { kind: 'url'; baseUrl: string };

export type DevicePreference = 'auto' | 'webgpu' | 'wasm';

export interface DeviceInfo {
  /** what will run: WebGPU when an adapter is there, else the wasm CPU backend */
  device: 'webgpu' | 'wasm';
  /** why: e.g. "no WebGPU adapter" */
  reason: string;
  adapter?: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  features: string[];
  maxBufferSize?: number;
  crossOriginIsolated: boolean;
}

export interface LoadRequest {
  source: ModelSource;
  device: DevicePreference;
}

export interface LoadedInfo {
  manifest: ModelManifest;
  device: DeviceInfo;
}

export interface GenerateRequest {
  image: ImageInput;
  request: SvdRequest;
  /** standard-normal latents instead of seeded noise (parity tests) */
  latents?: Float32Array;
  /** also send float frames [n,3,H,W] with each batch (parity tests) */
  floatFrames?: boolean;
  /** WebGPU: capture the UNet's GPU commands once and replay them at every step (default on; off to compare) */
  graphCapture?: boolean;
}

export interface ResultInfo {
  seed: number;
  width: number;
  height: number;
  fps: number;
  frameCount: number;
  /**
   * Milliseconds: per stage; `ortRun` = wall time with ORT work outstanding (from each run() call until the device
   * finished it; overlapping runs count once); `ortCall` = time inside run() calls (on WebGPU they return once the
   * work is queued), `ortCallLoop` the part of it in the denoising loop; `ortCreate` = creating sessions; `total` =
   * the whole job in the worker.
   */
  timings: { load: number; encode: number; denoise: number; decode: number; ortRun: number; ortCall: number; ortCallLoop: number; ortCreate: number; total: number };
  /** device → CPU copies in the denoising loop: 1 when it stays on the GPU, one per step otherwise */
  readbacks: { denoise: number };
  /** where the denoising loop ran */
  loop: 'device' | 'cpu';
  /** whether the device loop replayed captured UNet commands, and why not */
  graphCapture: { on: boolean; reason?: string };
}

export type WorkerErrorCode = 'invalid-request' | 'invalid-image' | 'model' | 'device' | 'out-of-memory' | 'busy' | 'internal';

export interface WorkerError {
  code: WorkerErrorCode;
  message: string;
}

/** UI → worker. */
export interface ToWorkerPayloads {
  probe: Record<string, never>;
  load: LoadRequest;
  generate: GenerateRequest;
  /** cancels the job with this id; takes effect between UNet steps */
  cancel: { jobId: number };
}

/** worker → UI. Every message answers the request with the same id. */
export interface FromWorkerPayloads {
  probed: DeviceInfo;
  loaded: LoadedInfo;
  progress: Progress;
  frames: FrameBatch;
  result: ResultInfo;
  cancelled: Record<string, never>;
  error: WorkerError;
}

type Envelope<M> = { [K in keyof M]: { kind: K; id: number; payload: M[K] } }[keyof M];

export type ToWorker = Envelope<ToWorkerPayloads>;
export type FromWorker = Envelope<FromWorkerPayloads>;
export type FromWorkerOf<K extends keyof FromWorkerPayloads> = Extract<FromWorker, { kind: K }>;

/** Buffers to transfer (not copy) with a message. */
export function transferablesOf(message: ToWorker | FromWorker): Transferable[] {
  switch (message.kind) {
    case 'frames':
      return [...message.payload.frames.map((f) => f.buffer as ArrayBuffer), ...(message.payload.float ? [message.payload.float.buffer as ArrayBuffer] : [])];
    default:
      return [];
  }
}
