/**
 * The model download worker's protocol (workers/download.worker.ts ↔ src/models/download-client.ts): one row per
 * call, with what it carries, what it streams and what answers it. One call per worker; cancel (the shared
 * CancelMessage) stops it, and a failure ends it as an error carrying a ModelDeliveryError's code, message and details.
 */
import type { ModelErrorCode } from '../models/errors.ts';
import type { DownloadProgress } from '../models/progress.ts';
import type { TransferStats, TransferTuning } from '../models/transfer-tuning.ts';
import type { HubConversionJob, HubConversionStats } from '../convert/hub-conversion.ts';
import type { HubStagingJob } from '../convert/hub-staging.ts';
import type { AnswerOf, CallMessage, ReplyMessage } from './rpc.ts';

export interface DownloadProtocol {
  /** fetches every file of the manifest from `baseUrl` into OPFS models/<modelId>/, resuming what is there */
  download: {
    carries: { modelId: string; baseUrl: string; manifestText: string; tuning?: Partial<TransferTuning> };
    events: { progress: DownloadProgress };
    answers: { done: { stats: TransferStats } };
  };
  /** copies a local folder's files into OPFS models/<modelId>/, verified; all or nothing */
  import: {
    carries: { modelId: string; manifestText: string; files: { path: string; file: Blob }[]; tuning?: Partial<TransferTuning> };
    events: { progress: DownloadProgress };
    answers: { done: { stats: TransferStats } };
  };
  /** downloads an SVD repository's weights from the Hugging Face Hub into staging/<modelId>/, one component ahead (convert/hub-staging.ts) */
  'hub-stage': {
    carries: HubStagingJob;
    events: { progress: DownloadProgress };
    answers: { staged: { stats: TransferStats } };
  };
  /** converts the staged weights, as they arrive, into models/<modelId>/ (convert/hub-conversion.ts) */
  'hub-convert': {
    carries: HubConversionJob;
    events: { progress: DownloadProgress };
    answers: { converted: { stats: HubConversionStats } };
  };
}

export type DownloadCall = keyof DownloadProtocol;
export type ToDownloadWorker = CallMessage<DownloadProtocol>;
export type FromDownloadWorker = ReplyMessage<DownloadProtocol, ModelErrorCode>;
export type DownloadAnswer<K extends DownloadCall> = AnswerOf<DownloadProtocol, K>;
/** A call (not a cancel). */
export type DownloadCallMessage = Exclude<ToDownloadWorker, { kind: 'cancel' }>;

/** The events (messages that do not end a call); every other reply ends its call. */
export const DOWNLOAD_EVENTS: readonly FromDownloadWorker['kind'][] = ['progress'];
