/**
 * What a generation job reports and returns, whichever engine runs it (in this process, in the worker, or at
 * Segmind): where the model comes from, the device, progress, frame batches, the result and the error codes.
 * Pure types: the pipeline produces them, the engines carry them, the store and the CLI read them.
 */
import type { ModelManifest } from './manifest.ts';
import type { ImageInput, SvdRequest } from './fields.ts';

/** Where an engine reads a model's files from. */
export type ModelSource =
  /** files in this origin's OPFS under models/<id>/ (downloaded or imported and verified earlier) */
  | { kind: 'opfs'; modelId: string }
  /** files fetched over HTTP from a base URL ending in '/' (demo and tests; no caching) */
  | { kind: 'url'; baseUrl: string }
  /** a folder on disk written by `svd-web convert` (Node) */
  | { kind: 'dir'; path: string };

/** The model's identity, e.g. for keeping a loaded model between jobs. */
export function sourceKey(source: ModelSource): string {
  switch (source.kind) {
    case 'url':
      return `url:${source.baseUrl}`;
    case 'opfs':
      return `opfs:${source.modelId}`;
    case 'dir':
      return `dir:${source.path}`;
  }
}

/** Which device to run on: 'wasm' is the CPU (WebAssembly in a browser, the native CPU provider in Node). */
export type DevicePreference = 'auto' | 'webgpu' | 'wasm';
export type LocalDevice = 'webgpu' | 'wasm';

export interface DeviceInfo {
  /** what will run: WebGPU when an adapter is there, else the CPU */
  device: LocalDevice;
  /** why: e.g. "no WebGPU adapter" */
  reason: string;
  adapter?: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  features: string[];
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
  crossOriginIsolated: boolean;
  /**
   * How a model converted with fused attention runs on this GPU, as the attention self-test found when the model was
   * loaded: the fused kernel, or query-chunked attention where the kernel failed the test (and why, in words)
   */
  attention?: { kind: 'fused' | 'chunked'; why: string };
}

/** What the user (or a test) says the device allows, beyond what WebGPU reports (it does not tell its memory). */
export interface MemoryBudget {
  /** GPU memory the model may use, bytes */
  gpuBytes?: number;
  /** the largest buffer, bytes (the smaller of this and the adapter's own limits applies) */
  maxBufferBytes?: number;
  /** chunked attention: the most bytes one chunk's float32 scores may take (default: the plan's, per graph) */
  attentionScoreBytes?: number;
  /** the JS heap one session's creation should stay within: the UNet on the device loop is made in parts (default 0.6 GB) */
  sessionPartBytes?: number;
}

export interface LoadRequest {
  source: ModelSource;
  device: DevicePreference;
}

/** What `load` answers: a local model and its device, or the remote service that will make the video. */
export type LoadedModel =
  | { backend: 'local'; manifest: ModelManifest; device: DeviceInfo }
  | { backend: 'segmind'; endpoint: string };

/** The picture of a job: decoded pixels, and (for an HTTP API) the picture as base64, made only when needed. */
export interface JobImage {
  pixels: ImageInput;
  base64?: () => Promise<string>;
}

export interface GenerateJob {
  image: JobImage;
  /** validated (contract/request.ts validateRequest); engines validate again against their own limits */
  request: SvdRequest;
  /** standard-normal latents instead of seeded noise (parity tests) */
  latents?: Float32Array;
  /** also send float frames [n,3,H,W] with each batch (parity tests) */
  floatFrames?: boolean;
  /** WebGPU: capture the UNet's GPU commands once and replay them at every step (default on; off to compare) */
  graphCapture?: boolean;
  /** run the two guidance halves as separate UNet calls (less memory) */
  splitGuidanceBatch?: boolean;
  /** run the guidance batch of 2 even at guidance 1, to compare with skipping it (tests, bench) */
  forceGuidanceBatch?: boolean;
  /**
   * seconds one denoising step is expected to take on this device (measured seconds per TFLOP × the step's TFLOP),
   * so the time left is shown from the first step; the measured step time replaces it as steps finish
   */
  expectedStepSeconds?: number;
  /** checked with the memory plan before any session is created (src/plan) */
  memoryBudget?: MemoryBudget;
  /** destroys the GPU device when this denoising step is reported, as a driver reset would (tests) */
  loseDeviceAtDenoiseStep?: number;
}

export type Stage = 'load' | 'encode' | 'denoise' | 'decode';

export interface Progress {
  stage: Stage;
  /** steps done in this stage */
  step: number;
  total: number;
  /** seconds left for the whole generation, when it can be estimated */
  etaSeconds?: number;
}

/** One decoded chunk of frames, in display order. */
export interface FrameBatch {
  /** index of the first frame of this batch */
  start: number;
  width: number;
  height: number;
  /** RGBA bytes, one array per frame */
  frames: Uint8ClampedArray[];
  /** the same frames as float32 [n,3,H,W] in [0,1] (clamped, before rounding), for parity checks */
  float?: Float32Array;
}

/** How a local run went: where each millisecond went and where the loop ran. */
export interface LocalRunInfo {
  device: LocalDevice;
  /**
   * Milliseconds: per stage; `ortRun` = wall time with ORT work outstanding (from each run() call until the device
   * finished it; overlapping runs count once); `ortCall` = time inside run() calls (on WebGPU they return once the
   * work is queued), `ortCallLoop` the part of it in the denoising loop; `ortCreate` = creating sessions; `total` =
   * the whole job in the engine.
   */
  timings: { load: number; encode: number; denoise: number; decode: number; ortRun: number; ortCall: number; ortCallLoop: number; ortCreate: number; total: number };
  /** device → CPU copies in the denoising loop: 1 when it stays on the GPU, one per step otherwise */
  readbacks: { denoise: number };
  /** where the denoising loop ran */
  loop: 'device' | 'cpu';
  /** whether the device loop replayed captured UNet commands, and why not */
  graphCapture: { on: boolean; reason?: string };
  /** graphs whose session was created in parts (the memory plan's choice, for the JS heap), and how many */
  sessionParts?: Partial<Record<'image_encoder' | 'vae_encoder' | 'unet' | 'vae_decoder', number>>;
  /** the denoising loop's work: UNet calls made, and their FLOPs where the model records its work (manifest.work) */
  work: DenoiseWork;
}

/** The work of a denoising loop. */
export interface DenoiseWork {
  sampler: 'euler' | 'animatelcm';
  steps: number;
  /** UNet runs: one per step (guidance 1, or the CFG batch of 2 in one run), two per step with split guidance halves */
  unetCalls: number;
  /** batch of each call */
  batch: 1 | 2;
  /** FLOPs of all UNet calls, from the model's fitted work (absent for models converted before it was recorded) */
  flops?: number;
}

/** What Segmind said about the call. */
export interface RemoteRunInfo {
  /** credits charged, when the API says */
  cost?: number;
  remainingCredits?: number;
  requestId?: string;
}

/**
 * The result of one job, the same shape from every engine. Local engines deliver the frames through
 * `onFrames` (the caller muxes them); a remote engine delivers the encoded video it received.
 */
export interface VideoResult {
  backend: 'local' | 'segmind';
  /** the seed actually used (Segmind: when the API reports it) */
  seed?: number;
  fps: number;
  frameCount: number;
  width?: number;
  height?: number;
  video?: { bytes: Uint8Array; mimeType: string };
  local?: LocalRunInfo;
  remote?: RemoteRunInfo;
}

/** Why a job failed, as every engine reports it (Segmind's own kinds live on SegmindError). */
export type EngineErrorCode =
  | 'invalid-request' | 'invalid-image' | 'model' | 'device' | 'out-of-memory' | 'busy' | 'internal'
  /** a new clip cannot be joined to the video it continues (another size) */
  | 'cannot-join'
  /** the memory plan says the request does not fit this device (refused before any session is created) */
  | 'too-large'
  /** the engine stopped answering within its bound, crashed, or the caller cancelled */
  | 'timeout' | 'crashed' | 'aborted';

export class EngineError extends Error {
  constructor(readonly code: EngineErrorCode, message: string) {
    super(message);
    this.name = 'EngineError';
  }
}
