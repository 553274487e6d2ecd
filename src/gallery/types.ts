/**
 * What the gallery keeps of a finished result, and what it gives back. Pure types (no DOM, no Node): the job slice
 * hands a `KeptResult` to the gallery slice when a video is done; the gallery stores it locally (OPFS) and lists
 * `GalleryItem`s (metadata only) that survive reloads and offline use.
 */
import type { Backend, SvdRequest } from '../contract/request.ts';
import type { LocalDevice, LocalRunInfo } from '../contract/job.ts';

/** One generation inside a video. A plain result has one; a video extended twice has three. */
export interface ClipPart {
  seed?: number;
  backend: Backend;
  /** frames this generation made (its first frame, a repeat of the frame it continued from, is not in the video) */
  frames: number;
  /** the frame of the video so far that this generation continued from (0-based; absent for the first clip) */
  continuedFrom?: number;
}

/** Everything needed to show, re-download, re-run and extend a result. */
export interface ResultRecord {
  createdAt: number;
  backend: Backend;
  device?: LocalDevice;
  /** the model (local runs): its id and the words the app shows for it */
  model?: { id: string; label: string };
  /** the validated request of the last generation (its seed is the one asked for; `seed` below is the one used) */
  request: SvdRequest;
  seed?: number;
  fps: number;
  frameCount: number;
  width: number;
  height: number;
  elapsedMs: number;
  timings?: LocalRunInfo['timings'];
  cost?: number;
  /** the generations joined in this video, first to last */
  clips: ClipPart[];
}

/** A result the job slice asks the gallery to keep. */
export interface KeptResult extends ResultRecord {
  video: Blob;
  /** the decoded frames (RGBA, width×height×4 bytes each) when this device has them; Segmind results have none */
  frames?: Uint8ClampedArray[];
  /** the picture the first clip started from (PNG), for "Re-run" */
  picture?: Blob;
}

/** A stored result as the gallery lists it (no pixels loaded). */
export interface GalleryItem extends ResultRecord {
  id: string;
  /** bytes this result takes in the browser's storage (video + frames + picture + metadata) */
  bytes: number;
  hasFrames: boolean;
  hasPicture: boolean;
  /** set when the stored description (meta.json) cannot be used: what is wrong, in words; only Delete applies */
  damaged?: string;
}

/** A stored result opened again. */
export interface OpenedResult {
  item: GalleryItem;
  video: Blob;
  frames?: Uint8ClampedArray[];
  picture?: Blob;
}

export type GalleryErrorCode = 'quota' | 'corrupt' | 'missing' | 'unavailable' | 'io';

export class GalleryError extends Error {
  constructor(readonly code: GalleryErrorCode, message: string) {
    super(message);
    this.name = 'GalleryError';
  }
}
