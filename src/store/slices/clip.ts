/**
 * What people do next with the video on screen: continue it from one of its frames (a new generation joined to it),
 * play and export it as a loop (ping-pong, cross-fade), and bring back a result kept in the gallery. The job itself
 * runs in the job slice (`startJob`); this slice prepares what it continues and what it shows.
 */
import { EngineError } from '../../contract/job.ts';
import type { ClipPart, OpenedResult } from '../../gallery/types.ts';
import { loopFrames, type LoopMode } from '../../video/clips.ts';
import { describeError } from '../errors.ts';
import { deriveView } from '../view.ts';
import { IDLE_JOB, slotsOf, type FrameSlot, type JobDeps } from './job.ts';
import type { GetState, SetState } from './types.ts';

/** A generation under way that continues the video on screen from one of its frames. */
export interface Extension {
  fromFrame: number;
  /** the video so far: its frames (all of them; the join keeps those up to fromFrame), clips and size */
  frames: FrameSlot[];
  clips: ClipPart[];
  width: number;
  height: number;
  /** the first clip's picture */
  picture?: Blob;
}

/** The video on screen played as a loop (ping-pong, cross-fade): the frames, muxed once per mode. */
export interface LoopPreview {
  mode: LoopMode;
  status: 'busy' | 'done' | 'error';
  frameCount?: number;
  blob?: Blob;
  url?: string;
  error?: string;
}

export interface ClipSlice {
  /** how the video on screen plays and exports: as made, ping-pong or cross-faded */
  loopMode: LoopMode;
  loopPreview?: LoopPreview;
  /**
   * Continues the video on screen from one of its frames (default the last) with the settings as they are: the frame
   * is the picture of a new generation, and the result is one video, the old up to that frame then the new clip.
   */
  extendFrom(frameIndex?: number): Promise<void>;
  /** puts a result kept in the gallery on screen, as if it had just been made */
  showStoredResult(opened: OpenedResult): void;
  setLoopMode(mode: LoopMode): Promise<void>;
}

export type ClipDeps = Pick<JobDeps, 'frameImage' | 'decodeVideo' | 'mux' | 'createUrl' | 'revokeUrl'>;

export function createClipSlice(set: SetState, get: GetState, deps: ClipDeps): ClipSlice {
  /** The frames of the video on screen: kept from its run, or decoded from the video file (a Segmind result). */
  async function framesOnScreen(): Promise<FrameSlot[]> {
    const s = get();
    if (!s.result) throw new EngineError('cannot-join', 'There is no video on screen yet: make one first.');
    if (s.frames.length === s.result.frameCount && s.frames.every(Boolean)) return s.frames as FrameSlot[];
    return slotsOf(await deps.decodeVideo(s.result.blob, new AbortController().signal));
  }

  return {
    loopMode: 'none',
    loopPreview: undefined,

    async extendFrom(frameIndex) {
      const s = get();
      if (deriveView(s).running) return;
      if (!s.result) {
        set({ notice: 'There is no video to continue yet: make one first.' });
        return;
      }
      const result = s.result;
      let frames: FrameSlot[];
      try {
        frames = await framesOnScreen();
      } catch (e) {
        set({ error: describeError(e) });
        return;
      }
      const fromFrame = frameIndex ?? frames.length - 1;
      if (!Number.isInteger(fromFrame) || fromFrame < 0 || fromFrame >= frames.length) {
        set({ notice: `There is no frame ${fromFrame + 1}: the video has ${frames.length} frames.` });
        return;
      }
      const frame = frames[fromFrame];
      const image = await deps.frameImage(frame, `frame ${fromFrame + 1} of the video`);
      await get().startJob(image, { fromFrame, frames, clips: result.clips, width: frame.width, height: frame.height, picture: result.picture });
    },

    showStoredResult(opened) {
      if (deriveView(get()).running) return;
      get().releaseResult();
      const { item } = opened;
      const frames = opened.frames?.map((rgba) => ({ width: item.width, height: item.height, rgba }));
      set({
        result: {
          blob: opened.video, url: deps.createUrl(opened.video), mimeType: opened.video.type || 'video/mp4', backend: item.backend, device: item.device,
          seed: item.seed, fps: item.fps, frameCount: item.frameCount, width: item.width, height: item.height, elapsedMs: item.elapsedMs,
          cost: item.cost, timings: item.timings, request: item.request, model: item.model, clips: item.clips, galleryId: item.id, picture: opened.picture,
        },
        frames: frames ?? [], exports: {}, loopMode: 'none', loopPreview: undefined, error: undefined, extending: undefined, job: { ...IDLE_JOB },
      });
    },

    async setLoopMode(mode) {
      const s = get();
      const result = s.result;
      if (!result || s.loopMode === mode) return;
      if (s.loopPreview?.url) deps.revokeUrl(s.loopPreview.url);
      if (mode === 'none') {
        set({ loopMode: 'none', loopPreview: undefined, exports: {} });
        return;
      }
      set({ loopMode: mode, loopPreview: { mode, status: 'busy' }, exports: {} });
      try {
        const frames = await framesOnScreen();
        const looped = loopFrames(frames.map((f) => f.rgba), mode);
        const blob = await deps.mux({ width: frames[0].width, height: frames[0].height, rgba: looped.map((f) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength)) }, { fps: result.fps, format: 'mp4' });
        if (get().result !== result || get().loopMode !== mode) return;
        set({ loopPreview: { mode, status: 'done', frameCount: looped.length, blob, url: deps.createUrl(blob) } });
      } catch (e) {
        if (get().loopMode === mode) set({ loopPreview: { mode, status: 'error', error: describeError(e).message } });
      }
    },
  };
}
