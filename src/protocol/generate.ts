/**
 * The generation worker's protocol (workers/generate.worker.ts ↔ src/engine/worker-engine.ts): one row per call,
 * with what it carries, what it streams and what answers it.
 */
import type { ImageInput } from '../contract/fields.ts';
import type { DeviceInfo, EngineErrorCode, FrameBatch, GenerateJob, LoadedModel, LoadRequest, Progress, VideoResult } from '../contract/job.ts';
import type { AnswerOf, CallMessage, ReplyMessage } from './rpc.ts';

type Nothing = Record<string, never>;
/** no events */
type Silent = Record<never, never>;

/** A job as it crosses to the worker: the picture's pixels only (the base64 maker is a function). */
export type GenerateMessage = Omit<GenerateJob, 'image'> & { image: ImageInput };

export interface GenerateProtocol {
  /** what this device can run on */
  probe: { carries: Nothing; events: Silent; answers: { probed: DeviceInfo } };
  /** opens a model (its manifest, the device) and keeps it for the next jobs */
  load: { carries: LoadRequest; events: Silent; answers: { loaded: Extract<LoadedModel, { backend: 'local' }> } };
  /** one video; cancel stops it between UNet steps */
  generate: {
    carries: GenerateMessage;
    events: { progress: Progress; frames: FrameBatch };
    answers: { result: VideoResult; cancelled: Nothing };
  };
}

export type GenerateCall = keyof GenerateProtocol;
export type ToGenerateWorker = CallMessage<GenerateProtocol>;
export type FromGenerateWorker = ReplyMessage<GenerateProtocol, EngineErrorCode>;
export type GenerateAnswer<K extends GenerateCall> = AnswerOf<GenerateProtocol, K>;

/** The events (messages that do not end a call); every other reply ends its call. */
export const GENERATE_EVENTS: readonly FromGenerateWorker['kind'][] = ['progress', 'frames'];

/** Buffers to transfer (not copy) with a message. */
export function transferablesOf(message: ToGenerateWorker | FromGenerateWorker): ArrayBuffer[] {
  if (message.kind !== 'frames') return [];
  const batch = message.payload;
  return [...batch.frames.map((f) => f.buffer as ArrayBuffer), ...(batch.float ? [batch.float.buffer as ArrayBuffer] : [])];
}
