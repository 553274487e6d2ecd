/**
 * A video file → RGBA frames, with mediabunny (demuxing MP4/WebM/…) and the browser's WebCodecs decoder. Used to
 * extend a clip when the video is all we have (a Segmind result).
 *
 * - Frames come out in presentation order, each converted to tightly packed RGBA by `VideoFrame.copyTo` (an
 *   OffscreenCanvas draw where the browser cannot convert), at the stream's display size.
 * - Every wait is bounded (opening the file, each decoded frame) and abortable; each frame is closed once copied.
 */
import { ALL_FORMATS, BlobSource, Input, VideoSampleSink, type InputVideoTrack, type VideoSample } from 'mediabunny';
import { MuxError, describe, throwIfAborted, withBound } from './errors.ts';
import type { RgbaFrames } from './mux.ts';

export interface DecodeOptions {
  signal?: AbortSignal;
  /** Stop after this many frames (default: all). */
  maxFrames?: number;
  /** Longest wait for the file's header or for one frame (ms, default 20 000). */
  stallTimeoutMs?: number;
}

export type DecodedVideo = RgbaFrames & { fps: number; /** presentation time of each frame, seconds */ timestamps: number[] };

const DEFAULT_STALL_MS = 20_000;
const ABORTED = 'decoding aborted';

const unreadable = (why: string): MuxError => new MuxError(`this file is not a video the browser can read: ${why}`, 'bad-input');

interface Opened {
  input: Input;
  track: InputVideoTrack;
  fps: number;
  width: number;
  height: number;
}

async function open(blob: Blob, signal: AbortSignal | undefined, stallMs: number): Promise<Opened> {
  const input = new Input({ formats: ALL_FORMATS, source: new BlobSource(blob) });
  const bound = <T>(p: Promise<T>, what: string): Promise<T> =>
    withBound(p, stallMs, signal, () => new MuxError(`reading the video timed out after ${Math.round(stallMs / 1000)} s (${what})`, 'exec-timeout'), ABORTED);
  try {
    let track: InputVideoTrack | null;
    try {
      await bound(input.getFormat(), 'its container');
      track = await bound(input.getPrimaryVideoTrack(), 'its tracks');
    } catch (err) {
      if (err instanceof MuxError) throw err;
      throw unreadable(describe(err));
    }
    if (!track) throw unreadable('it has no video track');
    const codec = await bound(track.getCodec(), 'its codec');
    if (!(await bound(track.canDecode(), 'its decoder'))) throw unreadable(`this browser cannot decode its ${codec ?? 'unknown'} video`);
    const stats = await bound(track.computePacketStats(Infinity), 'its frame rate');
    const fps = roundFps(stats.averagePacketRate);
    const width = await bound(track.getDisplayWidth(), 'its size');
    const height = await bound(track.getDisplayHeight(), 'its size');
    return { input, track, fps, width, height };
  } catch (err) {
    input.dispose();
    throw err;
  }
}

/** Integer rates as integers; others (29.97…) to 3 decimals. */
export function roundFps(rate: number): number {
  if (!Number.isFinite(rate) || rate <= 0) return 0;
  const whole = Math.round(rate);
  return Math.abs(rate - whole) < 0.01 ? whole : Math.round(rate * 1000) / 1000;
}

/** Decodes every frame (or the first `maxFrames`) of `blob` to RGBA. Throws MuxError ('bad-input' when unreadable). */
export async function decodeVideoFrames(blob: Blob, options: DecodeOptions = {}): Promise<DecodedVideo> {
  const { signal } = options;
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_MS;
  const max = options.maxFrames ?? Infinity;
  throwIfAborted(signal, ABORTED);
  const { input, track, fps, width, height } = await open(blob, signal, stallMs);
  const samples = new VideoSampleSink(track).samples();
  const rgba: Uint8Array[] = [];
  const timestamps: number[] = [];
  try {
    while (rgba.length < max) {
      const next = await withBound(samples.next(), stallMs, signal, () => new MuxError(`decoding frame ${rgba.length + 1} timed out after ${Math.round(stallMs / 1000)} s`, 'exec-timeout'), ABORTED).catch(
        (err: unknown) => {
          if (err instanceof MuxError) throw err;
          throw unreadable(`frame ${rgba.length + 1} did not decode (${describe(err)})`);
        },
      );
      if (next.done) break;
      const sample = next.value;
      try {
        rgba.push(await toRgba(sample, width, height));
        timestamps.push(sample.timestamp);
      } finally {
        sample.close();
      }
    }
  } finally {
    void samples.return(undefined).catch(() => undefined);
    input.dispose();
  }
  if (rgba.length === 0) throw unreadable('it has no frames');
  return { width, height, rgba, fps, timestamps };
}

/** Frame `index` (0-based, presentation order) of `blob` as RGBA, without decoding the frames after it. */
export async function decodeFrameAt(blob: Blob, index: number, options: Omit<DecodeOptions, 'maxFrames'> = {}): Promise<RgbaFrames & { fps: number }> {
  if (!Number.isInteger(index) || index < 0) throw new MuxError(`bad frame index ${index}`, 'bad-input');
  const decoded = await decodeVideoFrames(blob, { ...options, maxFrames: index + 1 });
  if (decoded.rgba.length <= index) throw new MuxError(`the video has ${decoded.rgba.length} frames, no frame ${index + 1}`, 'bad-input');
  return { width: decoded.width, height: decoded.height, rgba: [decoded.rgba[index]], fps: decoded.fps };
}

let canvas: OffscreenCanvas | null = null;

async function toRgba(sample: VideoSample, width: number, height: number): Promise<Uint8Array> {
  const out = new Uint8Array(width * height * 4);
  // The browser converts YUV → RGBA itself (of the visible rectangle) when that is the display size: no rotation,
  // flip or non-square pixels.
  if (sample.visibleRect.width === width && sample.visibleRect.height === height && sample.rotation === 0 && !sample.flip) {
    try {
      await sample.copyTo(out, { format: 'RGBA', colorSpace: 'srgb' } as VideoFrameCopyToOptions);
      return out;
    } catch {
      /* no conversion in this browser: draw it */
    }
  }
  if (!canvas || canvas.width !== width || canvas.height !== height) canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new MuxError('no 2D canvas to convert video frames', 'exec-failed');
  ctx.clearRect(0, 0, width, height);
  sample.draw(ctx, 0, 0, width, height);
  out.set(ctx.getImageData(0, 0, width, height).data);
  return out;
}
