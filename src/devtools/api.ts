/**
 * Types of the self-test harness (harness.html → window.__svdHarness). Lib-neutral (no DOM/WebWorker types), so
 * the Node e2e suite can import them type-only.
 */
import type { DenoiseWork, MemoryBudget } from '../contract/job.ts';

export interface AdapterReport {
  ok: boolean;
  error?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  features?: string[];
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
}

export interface EnvReport {
  crossOriginIsolated: boolean;
  sharedArrayBuffer: boolean;
  hardwareConcurrency: number;
  userAgent: string;
  hasGpu: boolean;
}

export type OrtEp = 'webgpu' | 'wasm';

export interface OrtRunRequest {
  /** The .onnx bytes, base64 (or give modelUrl). */
  modelBase64?: string;
  /** Where to fetch the .onnx from (same origin), with its external-data files. */
  modelUrl?: string;
  externalData?: { path: string; url: string }[];
  /** Let ORT place shape computations on the CPU (our compiled graphs need it; tiny self-tests don't). */
  allowCpuFallback?: boolean;
  /** onnxruntime's graph optimisations (default 'all'); 'disabled' runs the graph's own nodes, kernel for kernel */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  ep: OrtEp;
  /** float32 inputs by name. */
  feeds: Record<string, { dims: number[]; data: number[] }>;
  /** `ort.env.wasm.numThreads`, applied only before ORT's first initialisation in that realm. */
  numThreads?: number;
}

export interface OrtRunReport {
  ep: OrtEp;
  where: 'page' | 'worker';
  outputs: Record<string, { dims: number[]; data: number[] }>;
  createMs: number;
  runMs: number;
  numThreads: number;
  wasmPaths: { mjs: string; wasm: string };
  adapter?: AdapterReport;
}

export interface MuxRequest {
  width: number;
  height: number;
  frames: number;
  fps: number;
  format: 'mp4' | 'webm' | 'gif';
  /** MP4: which encoder (src/video/mux.ts MuxOptions.encoder; default 'auto') */
  encoder?: 'auto' | 'webcodecs' | 'ffmpeg';
  /**
   * The synthetic frames: 'gradient' (default: a gradient and a moving white square) or 'texture' (the same with a
   * smooth deterministic value-noise texture panning 6 px per frame, closer to real footage for the encoders).
   */
  pattern?: 'gradient' | 'texture';
}

export interface MuxReport {
  /** The encoder that made the file (the last onEncoder call), and why when it was not the preferred one. */
  encoder: 'webcodecs' | 'ffmpeg.wasm';
  encoderReason?: string;
  /** every onEncoder call, in order */
  encoderCalls: { used: 'webcodecs' | 'ffmpeg.wasm'; reason?: string }[];
  /** The last ffmpeg log lines. */
  log: string[];
  bytes: number;
  type: string;
  base64: string;
  loadMs: number;
  muxMs: number;
  progress: number[];
}

export interface WebCodecsSupportReport {
  hasVideoEncoder: boolean;
  supported: boolean;
  codec?: string;
  bitrate?: number;
  reason?: string;
}

export interface DecodeVideoRequest {
  /** the file (default: the last muxed file) */
  base64?: string;
  type?: string;
  maxFrames?: number;
  /** compare the decoded frames with the harness's synthetic frames of this request (over its width × height) */
  compareTo?: MuxRequest;
  /** compare decoded frame i with synthetic frame i + shift (a wrong pairing, to show the comparison can fail) */
  shift?: number;
  /** pixels to report, as [frame, x, y] */
  samplePoints?: [number, number, number][];
  /** return every decoded frame's RGBA, base64 */
  raw?: boolean;
}

export interface DecodeVideoReport {
  frames: number;
  width: number;
  height: number;
  fps: number;
  /** presentation time of each frame, seconds */
  timestamps: number[];
  ms: number;
  samples: { frame: number; x: number; y: number; rgba: number[]; expected?: number[] }[];
  /** per compared frame, over R, G, B (0..255): mean and max absolute difference, PSNR in dB */
  compare?: { meanAbs: number[]; maxAbs: number[]; psnr: number[] };
  rgbaBase64?: string[];
}

export interface PlaybackReport {
  ok: boolean;
  error?: string;
  duration: number;
  videoWidth: number;
  videoHeight: number;
  /** currentTime when 'ended' fired. */
  endedAt: number;
  canPlayType: string;
}

/** One generation on the worker (pipeline-harness.ts). Arrays are plain numbers to cross page.evaluate. */
export interface PipelineJob {
  image: { width: number; height: number; rgba: number[] };
  /** request fields as the UI would send them (validated by the worker) */
  request: Record<string, unknown>;
  latents?: number[];
  floatFrames?: boolean;
  /** sends cancel when this denoise step is reported */
  cancelAtDenoiseStep?: number;
  /** WebGPU: the worker destroys its GPU device when this denoise step is reported (GPUDevice.destroy()) */
  loseDeviceAtDenoiseStep?: number;
  /** WebGPU: capture the UNet's GPU commands (default on) */
  graphCapture?: boolean;
  /** run the guidance batch of 2 even at guidance 1 (to compare with skipping it) */
  forceGuidanceBatch?: boolean;
  /** what the device allows beyond its WebGPU limits (the memory plan checks every job against it) */
  memoryBudget?: MemoryBudget;
}

export interface PipelineJobReport {
  outcome: 'result' | 'cancelled' | 'error';
  result?: { seed: number; width: number; height: number; fps: number; frameCount: number; timings: Record<string, number>; readbacks: { denoise: number }; loop: 'device' | 'cpu'; graphCapture: { on: boolean; reason?: string }; sessionParts?: Record<string, number>; work: DenoiseWork };
  error?: { code: string; message: string };
  progress: { stage: string; step: number; total: number; etaSeconds?: number }[];
  frameBatches: number;
  frameCount: number;
  rgbaChecksum?: number;
  floatFrames?: number[];
  ms: number;
}

export interface PipelineRunRequest {
  /** a folder written by svd-web convert, e.g. '/models/tiny-random/' */
  modelBaseUrl: string;
  /** instead: a model stored in this origin's OPFS (downloaded or converted in the tab) */
  modelId?: string;
  device: 'webgpu' | 'wasm';
  jobs: PipelineJob[];
}

export interface PipelineRunReport {
  device: 'webgpu' | 'wasm';
  reason: string;
  /** how the model's fused attention runs on this GPU (the load's self-test verdict) */
  attention?: { kind: 'fused' | 'chunked'; why: string };
  jobs: PipelineJobReport[];
}

export interface HarnessApi {
  /** Loads a model in a fresh generation worker and runs the jobs in order on it. */
  pipeline(req: PipelineRunRequest): Promise<PipelineRunReport>;
  env(): EnvReport;
  adapterInPage(): Promise<AdapterReport>;
  adapterInWorker(): Promise<AdapterReport>;
  ortInPage(req: OrtRunRequest): Promise<OrtRunReport>;
  ortInWorker(req: OrtRunRequest): Promise<OrtRunReport>;
  /** The attention self-test (src/runtime/attention-check.ts) on this page's WebGPU adapter. */
  attentionCheck(): Promise<{ kind: 'fused' | 'chunked'; why: string; fusedError: number; chunkedError: number }>;
  mux(req: MuxRequest): Promise<MuxReport>;
  /** What `VideoEncoder.isConfigSupported` says about H.264 at this (even) size and fps (src/video/webcodecs.ts). */
  webCodecsSupport(width: number, height: number, fps: number): Promise<WebCodecsSupportReport>;
  /** Decodes a video with src/video/decode.ts (default: the last muxed file); rejects with its error. */
  decodeVideo(req?: DecodeVideoRequest): Promise<DecodeVideoReport>;
  /** Plays the last muxed file (or the given base64) in a muted <video> and waits for 'ended'. */
  play(base64?: string, type?: string): Promise<PlaybackReport>;
}

declare global {
  // eslint-disable-next-line no-var
  var __svdHarness: HarnessApi | undefined;
}
