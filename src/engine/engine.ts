/**
 * One interface for every place a video can be made (web-llm's MLCEngineInterface is the pattern):
 *
 *   InProcessEngine  — the pipeline over a runtime in this thread (the CLI; inside the generation worker)
 *   WorkerEngine     — the same engine behind workers/generate.worker.ts, reached through src/protocol/generate.ts
 *   SegmindEngine    — the Segmind API, with the same request and the same result shape
 *
 * The store and the CLI call `load` and `generate` and never ask which engine it is, except to tell the user
 * where the video is made (`backend`).
 */
import type { DeviceInfo, FrameBatch, GenerateJob, LoadedModel, LoadRequest, Progress, VideoResult } from '../contract/job.ts';

export interface LoadOptions {
  signal?: AbortSignal;
  /** give up after this long (ms) */
  timeoutMs?: number;
}

export interface GenerateOptions {
  /** cancels the job; `generate` then rejects with an `aborted` error */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** decoded frames, batch by batch (local engines; a remote engine delivers the encoded video in the result) */
  onFrames?: (batch: FrameBatch) => void;
  /** give up when nothing is heard from the engine for this long (ms) */
  idleTimeoutMs?: number;
  /** give up after this long in total (ms) */
  timeoutMs?: number;
}

export interface SvdEngine {
  /** where videos are made: on this device, or at a remote service */
  readonly backend: 'local' | 'segmind';
  /** opens the model (local engines keep it for the next jobs; loading the same model again is free) */
  load(model: LoadRequest | undefined, options?: LoadOptions): Promise<LoadedModel>;
  generate(job: GenerateJob, options?: GenerateOptions): Promise<VideoResult>;
  /** frees the model, the device and any worker; the engine can load again afterwards */
  release(): Promise<void>;
}

/** A local engine also says what this device can run on. */
export interface LocalEngine extends SvdEngine {
  readonly backend: 'local';
  probe(options?: LoadOptions): Promise<DeviceInfo>;
}
