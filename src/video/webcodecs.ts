/**
 * RGBA frames → H.264 MP4 with the browser's own encoder (WebCodecs `VideoEncoder`, hardware where the browser has
 * one) and mediabunny as the MP4 muxer. Same contract as the ffmpeg.wasm path (src/video/mux.ts): H.264 4:2:0,
 * frame i at exactly i/fps, 'moov' before 'mdat' (fast start, built in memory), odd sizes padded to even with black
 * on the right/bottom (src/video/h264.ts).
 *
 * - Which codec string: the smallest H.264 level that fits the size, fps and bitrate, High then Main then
 *   Baseline, the first that `VideoEncoder.isConfigSupported` accepts (answer cached per size and fps).
 * - Every wait is bounded (the support query, each wait for the encoder's queue, flush, the muxer) and abortable.
 * - Colour: the frames are converted here to I420, BT.601 limited range (src/video/h264.ts rgbaToI420), as the
 *   ffmpeg path's yuv420p, not left to the browser (Chromium makes full-range 4:2:0 from RGBA).
 * - Memory: one VideoFrame at a time is made (from one reused I420 buffer) and closed right after `encode()`; at most
 *   3 wait in the encoder's queue; the MP4 is built in memory (a 25-frame clip is a few MB).
 */
import { BufferTarget, EncodedPacket, EncodedVideoPacketSource, Mp4OutputFormat, Output } from 'mediabunny';
import { MuxError, describe, throwIfAborted, withBound } from './errors.ts';
import { I420_COLOR_SPACE, avcCodecCandidates, evenSize, frameIndexOfUs, padRgbaToEven, rgbaToI420, targetBitrate, timestampUs } from './h264.ts';
import type { RgbaFrames } from './mux.ts';

export interface WebCodecsSupport {
  supported: boolean;
  /** the accepted configuration (when supported) */
  config?: VideoEncoderConfig;
  /** why not (when not supported), in words */
  reason?: string;
}

export interface WebCodecsEncodeOptions {
  fps: number;
  signal?: AbortSignal;
  /** 0..1: packets muxed / frames, then 1 when the file is complete. */
  onProgress?: (fraction: number) => void;
  /** Longest wait for the encoder or the muxer to make progress (ms, default 30 000). */
  stallTimeoutMs?: number;
  /** A configuration already accepted by `webCodecsH264Support` (skips the query). */
  config?: VideoEncoderConfig;
}

const SUPPORT_TIMEOUT_MS = 10_000;
const DEFAULT_STALL_MS = 30_000;
const MAX_QUEUE = 3;
const supportCache = new Map<string, Promise<WebCodecsSupport>>();

/** The encoder configurations tried for an (even) size, best first. */
export function h264Configs(width: number, height: number, fps: number): VideoEncoderConfig[] {
  const bitrate = targetBitrate(width, height, fps);
  return avcCodecCandidates(width, height, fps, bitrate).map((codec) => ({
    codec,
    width,
    height,
    bitrate,
    bitrateMode: 'variable',
    framerate: fps,
    hardwareAcceleration: 'no-preference',
    latencyMode: 'quality',
    avc: { format: 'avc' }, // length-prefixed NAL units + avcC description: what MP4 stores
  }));
}

/** Whether this browser can encode H.264 at this (even) size and fps, and with which configuration. Cached. */
export function webCodecsH264Support(width: number, height: number, fps: number): Promise<WebCodecsSupport> {
  const key = `${width}x${height}@${fps}`;
  let answer = supportCache.get(key);
  if (!answer) {
    answer = querySupport(width, height, fps);
    supportCache.set(key, answer);
  }
  return answer;
}

async function querySupport(width: number, height: number, fps: number): Promise<WebCodecsSupport> {
  if (typeof VideoEncoder === 'undefined' || typeof VideoFrame === 'undefined') {
    return { supported: false, reason: 'this browser has no WebCodecs VideoEncoder' };
  }
  const configs = h264Configs(width, height, fps);
  if (configs.length === 0) return { supported: false, reason: `no H.264 level fits ${width}×${height} at ${fps} fps` };
  const refused: string[] = [];
  for (const config of configs) {
    try {
      const r = await withBound(VideoEncoder.isConfigSupported(config), SUPPORT_TIMEOUT_MS, undefined, () => new Error('no answer within 10 s'));
      if (r.supported) return { supported: true, config };
      refused.push(`${config.codec} refused`);
    } catch (err) {
      refused.push(`${config.codec}: ${describe(err)}`);
    }
  }
  return { supported: false, reason: `VideoEncoder does not encode H.264 at ${width}×${height}, ${fps} fps here (${refused.join('; ')})` };
}

/** Encodes `frames` at `fps` to an H.264 MP4 with WebCodecs + mediabunny. Throws MuxError. */
export async function encodeMp4WebCodecs(frames: RgbaFrames, options: WebCodecsEncodeOptions): Promise<Blob> {
  const { fps, signal } = options;
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_MS;
  const size = evenSize(frames.width, frames.height);
  let config = options.config;
  if (!config) {
    const support = await withBound(webCodecsH264Support(size.width, size.height, fps), SUPPORT_TIMEOUT_MS * 4, signal, () => new MuxError('the WebCodecs support query timed out', 'exec-timeout'));
    if (!support.supported || !support.config) throw new MuxError(`WebCodecs H.264 encoding is not available: ${support.reason}`, 'unsupported');
    config = support.config;
  }
  throwIfAborted(signal);

  let reported = -1;
  const progress = (f: number): void => {
    const v = Math.min(1, Math.max(0, f));
    if (v <= reported) return;
    reported = v;
    options.onProgress?.(v);
  };
  progress(0);

  // The first failure of the encoder or the muxer ends every wait below.
  let fail!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const wait = <T>(p: Promise<T>, what: string): Promise<T> =>
    withBound(Promise.race([p, failed]), stallMs, signal, () => new MuxError(`WebCodecs timed out after ${Math.round(stallMs / 1000)} s ${what}`, 'exec-timeout'));

  const output = new Output({ format: new Mp4OutputFormat({ fastStart: 'in-memory' }), target: new BufferTarget() });
  const source = new EncodedVideoPacketSource('avc');
  // frameRate: the track's timescale is a multiple of fps and every timestamp snaps to i/fps
  output.addVideoTrack(source, { frameRate: fps });
  let encoder: VideoEncoder | null = null;
  let muxed = 0;
  let chain: Promise<void> = Promise.resolve();
  try {
    await wait(output.start(), 'starting the MP4 muxer');
    encoder = new VideoEncoder({
      output: (chunk, meta) => {
        const data = new Uint8Array(chunk.byteLength);
        chunk.copyTo(data);
        const i = frameIndexOfUs(chunk.timestamp, fps);
        const packet = new EncodedPacket(data, chunk.type, i / fps, 1 / fps);
        chain = chain
          .then(() => source.add(packet, meta ?? undefined))
          .then(() => progress((0.95 * ++muxed) / frames.rgba.length))
          .catch((e: unknown) => fail(new MuxError(`the MP4 muxer failed: ${describe(e)}`, 'exec-failed')));
      },
      error: (e) => fail(new MuxError(`the WebCodecs H.264 encoder failed: ${describe(e)}`, 'exec-failed')),
    });
    encoder.configure(config);
    const enc = encoder;
    const frameUs = Math.round(1e6 / fps);
    // one I420 buffer, reused: the VideoFrame copies it
    const yuv = new Uint8Array((size.width * size.height * 3) / 2);
    for (let i = 0; i < frames.rgba.length; i++) {
      throwIfAborted(signal);
      while (enc.encodeQueueSize >= MAX_QUEUE) {
        await wait(new Promise<void>((resolve) => enc.addEventListener('dequeue', () => resolve(), { once: true })), `encoding frame ${i + 1}`);
      }
      const rgba = padRgbaToEven(frames.rgba[i], frames.width, frames.height);
      rgbaToI420(rgba, size.width, size.height, yuv);
      const frame = new VideoFrame(yuv, {
        format: 'I420',
        codedWidth: size.width,
        codedHeight: size.height,
        timestamp: timestampUs(i, fps),
        duration: frameUs,
        colorSpace: I420_COLOR_SPACE,
      });
      try {
        enc.encode(frame, { keyFrame: i === 0 });
      } finally {
        frame.close();
      }
    }
    await wait(enc.flush(), 'flushing the encoder');
    await wait(chain, 'muxing the last packets');
    if (muxed !== frames.rgba.length) {
      throw new MuxError(`the WebCodecs encoder returned ${muxed} packets for ${frames.rgba.length} frames`, 'exec-failed');
    }
    await wait(output.finalize(), 'finishing the MP4');
    const buffer = (output.target as BufferTarget).buffer;
    if (!buffer || buffer.byteLength === 0) throw new MuxError('the MP4 muxer produced no output', 'exec-failed');
    progress(1);
    return new Blob([buffer], { type: 'video/mp4' });
  } catch (err) {
    if (output.state !== 'finalized' && output.state !== 'canceled') void output.cancel().catch(() => undefined);
    if (err instanceof MuxError) throw err;
    throw new MuxError(`WebCodecs encoding failed: ${describe(err)}`, 'exec-failed');
  } finally {
    if (encoder && encoder.state !== 'closed') encoder.close();
  }
}
