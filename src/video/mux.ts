/**
 * Encode RGBA frames into MP4 (H.264), WebM (VP8) or GIF, in the browser.
 *
 * MP4: the browser's own H.264 encoder through WebCodecs (src/video/webcodecs.ts, mediabunny muxes) when
 * `VideoEncoder` exists and accepts H.264 at the (even) size, else ffmpeg.wasm; a WebCodecs failure that is not an
 * abort falls back to ffmpeg.wasm. `onEncoder` says which one ran and why. WebM and GIF: always ffmpeg.wasm.
 *
 * ffmpeg.wasm (single-thread core):
 * - The core (@ffmpeg/core ESM build, libx264 + libvpx, GPL) and the class worker are served from our own origin
 *   (see src/runtime/assets.ts). No CDN.
 * - One FFmpeg instance is loaded lazily and reused; jobs are serialised (ffmpeg.wasm runs one command at a time).
 * - Every wait is bounded: loading (default 120 s), each command (default 10 min). On a timeout or an abort the
 *   worker is terminated and the next call loads a fresh instance, because ffmpeg.wasm cannot cancel a running
 *   command in place.
 * - Input is raw RGBA (`-f rawvideo -pix_fmt rgba`): no PNG encode/decode per frame.
 */
import { FFmpeg } from '@ffmpeg/ffmpeg';
import { ffmpegLoadConfig } from '../runtime/assets.ts';
import { MuxError, describe, isAbortError, throwIfAborted, withBound } from './errors.ts';
import { evenSize } from './h264.ts';
import { encodeMp4WebCodecs, webCodecsH264Support } from './webcodecs.ts';

export { MuxError };

export type MuxFormat = 'mp4' | 'webm' | 'gif';

export interface RgbaFrames {
  width: number;
  height: number;
  /** One tightly packed RGBA buffer (width*height*4 bytes) per frame. */
  rgba: Uint8Array[];
}

export interface MuxOptions {
  fps: number;
  format: MuxFormat;
  /** 0..1 over the whole job (load, write, encode, read). */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  /** H.264 CRF (mp4, default 18) or VP8 CRF (webm, default 10, 4 Mb/s cap). */
  crf?: number;
  /** Bound on loading the core (ms, default 120 000). */
  loadTimeoutMs?: number;
  /** Bound on the encode command (ms, default 600 000). */
  execTimeoutMs?: number;
  /** Receives ffmpeg's log lines (stderr), e.g. for a debug panel. */
  onLog?: (line: string) => void;
  /** MP4 only: 'auto' (default) prefers WebCodecs when the browser encodes H.264 at this size; forcing is for tests/bench. */
  encoder?: MuxEncoderChoice;
  /**
   * Which encoder runs, and why when it is not the preferred one. Called when an encoder starts; called again with
   * 'ffmpeg.wasm' and the reason when WebCodecs failed mid-encode and ffmpeg.wasm takes over: the last call names the
   * encoder that made the file.
   */
  onEncoder?: (used: MuxEncoderUsed, reason?: string) => void;
}

export type MuxEncoderChoice = 'auto' | 'webcodecs' | 'ffmpeg';
export type MuxEncoderUsed = 'webcodecs' | 'ffmpeg.wasm';

export const MIME_TYPES: Record<MuxFormat, string> = {
  mp4: 'video/mp4',
  webm: 'video/webm',
  gif: 'image/gif',
};

const DEFAULT_LOAD_TIMEOUT_MS = 120_000;
const DEFAULT_EXEC_TIMEOUT_MS = 600_000;
const LOG_KEEP = 60;

let instance: Promise<FFmpeg> | null = null;
let live: FFmpeg | null = null;
let queue: Promise<unknown> = Promise.resolve();

/** Loads (once) and returns the shared FFmpeg instance. Bounded by `timeoutMs`. */
export function loadFFmpeg(timeoutMs = DEFAULT_LOAD_TIMEOUT_MS): Promise<FFmpeg> {
  if (!instance) {
    const ff = new FFmpeg();
    const config = ffmpegLoadConfig();
    const loading = withBound(
      ff.load(config),
      timeoutMs,
      undefined,
      () =>
        new MuxError(
          `ffmpeg.wasm core did not load within ${Math.round(timeoutMs / 1000)} s (core ${config.coreURL}). ` +
            'Check that the core files are served from this origin with COOP/COEP-compatible headers.',
          'load-timeout',
        ),
    ).then(
      () => {
        live = ff;
        return ff;
      },
      (err: unknown) => {
        ff.terminate();
        instance = null;
        if (err instanceof MuxError) throw err;
        throw new MuxError(`ffmpeg.wasm core failed to load: ${describe(err)}`, 'load-failed');
      },
    );
    instance = loading;
  }
  return instance;
}

/** Terminates the shared instance (frees ~100 MB of wasm memory). The next mux loads it again. */
export function terminateFFmpeg(): void {
  live?.terminate();
  live = null;
  instance = null;
}

/** Encodes `frames` at `fps` into one file of the requested format. */
export function muxFrames(frames: RgbaFrames, options: MuxOptions): Promise<Blob> {
  const job = queue.then(() => {
    if (options.format === 'mp4') return runMp4(frames, options);
    options.onEncoder?.('ffmpeg.wasm', `${String(options.format).toUpperCase()} is always encoded by ffmpeg.wasm`);
    return runFfmpeg(frames, options);
  });
  queue = job.catch(() => undefined);
  return job;
}

/** MP4: WebCodecs when available (or forced), else / on failure ffmpeg.wasm. */
async function runMp4(frames: RgbaFrames, options: MuxOptions): Promise<Blob> {
  validate(frames, options);
  throwIfAborted(options.signal);
  const choice = options.encoder ?? 'auto';
  const report = (used: MuxEncoderUsed, reason?: string): void => options.onEncoder?.(used, reason);
  if (choice === 'ffmpeg') {
    report('ffmpeg.wasm', 'forced by the encoder option');
    return runFfmpeg(frames, options);
  }
  const { width, height } = evenSize(frames.width, frames.height);
  const support = await withBound(webCodecsH264Support(width, height, options.fps), 45_000, options.signal, () => new MuxError('the WebCodecs support query timed out', 'exec-timeout')).catch(
    (err: unknown) => {
      if (isAbortError(err)) throw err;
      return { supported: false, config: undefined, reason: describe(err) };
    },
  );
  if (!support.supported || !support.config) {
    if (choice === 'webcodecs') throw new MuxError(`WebCodecs H.264 encoding is not available: ${support.reason}`, 'unsupported');
    report('ffmpeg.wasm', support.reason);
    return runFfmpeg(frames, options);
  }
  // one monotonic progress over both tries: a fallback continues from where WebCodecs stopped
  let last = 0;
  const onProgress = (f: number): void => {
    last = Math.max(last, f);
    options.onProgress?.(last);
  };
  report('webcodecs');
  try {
    return await encodeMp4WebCodecs(frames, { fps: options.fps, signal: options.signal, onProgress, config: support.config });
  } catch (err) {
    if (isAbortError(err) || choice === 'webcodecs') throw err;
    report('ffmpeg.wasm', `WebCodecs failed: ${describe(err)}`);
    const from = last;
    return runFfmpeg(frames, { ...options, onProgress: (f) => onProgress(from + (1 - from) * f) });
  }
}

async function runFfmpeg(frames: RgbaFrames, options: MuxOptions): Promise<Blob> {
  const { width, height, rgba } = frames;
  const { fps, format, signal, onProgress } = options;
  validate(frames, options);
  throwIfAborted(signal);

  let reported = -1;
  const progress = (f: number): void => {
    const v = Math.min(1, Math.max(0, f));
    if (v <= reported) return; // monotonic, no duplicates
    reported = v;
    onProgress?.(v);
  };
  progress(0);
  const loadTimeout = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
  // The load is shared: the caller's abort stops waiting for it but does not cancel it for others.
  const ff = await withBound(loadFFmpeg(loadTimeout), loadTimeout + 1000, signal, () => new MuxError('ffmpeg.wasm load timed out', 'load-timeout'));
  progress(0.1);

  const id = Math.random().toString(36).slice(2, 10);
  const input = `in-${id}.rgba`;
  const output = `out-${id}.${format}`;
  const log: string[] = [];
  const onLog = ({ message }: { message: string }): void => {
    log.push(message);
    if (log.length > LOG_KEEP) log.shift();
    options.onLog?.(message);
    const m = /frame=\s*(\d+)/.exec(message);
    if (m) progress(0.15 + 0.75 * Math.min(1, Number(m[1]) / rgba.length));
  };
  ff.on('log', onLog);

  try {
    const frameBytes = width * height * 4;
    const packed = new Uint8Array(frameBytes * rgba.length);
    rgba.forEach((f, i) => packed.set(f, i * frameBytes));
    // writeFile transfers `packed`'s buffer to the worker; it is our private copy.
    await bounded(ff, ff.writeFile(input, packed), 60_000, signal, 'writing the frames');
    progress(0.15);

    const args = [
      '-hide_banner',
      '-f', 'rawvideo',
      '-pix_fmt', 'rgba',
      '-s', `${width}x${height}`,
      '-framerate', String(fps),
      '-i', input,
      ...encoderArgs(format, width, height, fps, options.crf),
      output,
    ];
    const execTimeout = options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    let ret: number;
    try {
      ret = await bounded(ff, ff.exec(args), execTimeout, signal, 'encoding');
    } catch (err) {
      if (err instanceof MuxError) throw err;
      // The wasm aborted (e.g. "memory access out of bounds"): the instance is unusable, load a fresh one next time.
      if (live === ff) terminateFFmpeg();
      throw new MuxError(`ffmpeg.wasm crashed while encoding ${format}: ${describe(err)}\n${log.slice(-12).join('\n')}`, 'exec-failed', log);
    }
    if (ret !== 0) {
      throw new MuxError(`ffmpeg exited with code ${ret} while encoding ${format}:\n${log.slice(-12).join('\n')}`, 'exec-failed', log);
    }
    progress(0.95);

    const data = await bounded(ff, ff.readFile(output), 60_000, signal, 'reading the result');
    if (typeof data === 'string' || data.byteLength === 0) {
      throw new MuxError(`ffmpeg produced no ${format} output`, 'exec-failed', log);
    }
    progress(1);
    return new Blob([data as Uint8Array<ArrayBuffer>], { type: MIME_TYPES[format] });
  } finally {
    ff.off('log', onLog);
    if (live === ff) {
      // Best effort: free the in-memory files; ignore "no such file".
      await Promise.allSettled([ff.deleteFile(input), ff.deleteFile(output)]);
    }
  }
}

/** Encoder arguments after the input, per format. Exposed for tests and the CLI. */
export function encoderArgs(format: MuxFormat, width: number, height: number, fps: number, crf?: number): string[] {
  const oddSize = width % 2 === 1 || height % 2 === 1;
  // yuv420p needs even dimensions: pad by one black pixel row/column instead of resampling the frame.
  const evenPad = oddSize ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : [];
  switch (format) {
    case 'mp4':
      return [
        ...evenPad,
        '-c:v', 'libx264',
        // x264 in wasm has no SIMD assembly and one thread: 'veryfast' encodes 25 frames of 1024×576 several times
        // faster than 'medium' for a somewhat larger file at the same CRF (npm run bench, mux section)
        '-preset', 'veryfast',
        '-crf', String(crf ?? 18),
        '-pix_fmt', 'yuv420p',
        // swscale's rgba → yuv420p is BT.601 limited range: say so in the stream (as the WebCodecs path does,
        // src/video/h264.ts I420_COLOR_SPACE), else Chromium decodes it as BT.709 (mean 6.6/255 off, e2e/video.e2e.ts)
        '-colorspace', 'smpte170m', '-color_primaries', 'bt709', '-color_trc', 'iec61966-2-1', '-color_range', 'tv',
        '-threads', '1',
        '-r', String(fps),
        '-movflags', '+faststart',
        '-f', 'mp4',
      ];
    case 'webm':
      return [
        ...evenPad,
        // VP8: libvpx-vp9 in @ffmpeg/core 0.12.10 aborts with "memory access out of bounds" after the first frame
        // (any -deadline/-cpu-used), so WebM is VP8 here. Constrained quality: CRF with a bitrate cap.
        '-c:v', 'libvpx',
        '-crf', String(crf ?? 10),
        '-b:v', '4M',
        '-deadline', 'good',
        '-cpu-used', '4',
        '-pix_fmt', 'yuv420p',
        '-threads', '1',
        '-r', String(fps),
        '-f', 'webm',
      ];
    case 'gif':
      return [
        '-vf', 'split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=3',
        '-loop', '0',
        '-r', String(fps),
        '-f', 'gif',
      ];
  }
}

function validate({ width, height, rgba }: RgbaFrames, { fps, format }: MuxOptions): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2) {
    throw new MuxError(`bad frame size ${width}x${height}`, 'bad-input');
  }
  if (!(fps > 0 && fps <= 240)) throw new MuxError(`bad fps ${fps}`, 'bad-input');
  if (!(format in MIME_TYPES)) throw new MuxError(`unknown format ${String(format)}`, 'bad-input');
  if (rgba.length === 0) throw new MuxError('no frames', 'bad-input');
  const bytes = width * height * 4;
  rgba.forEach((f, i) => {
    if (f.byteLength !== bytes) {
      throw new MuxError(`frame ${i} has ${f.byteLength} bytes, expected ${bytes} (${width}x${height} RGBA)`, 'bad-input');
    }
  });
}

/** Awaits `p` with a time bound and the caller's signal; on either, kills the instance (it cannot be cancelled). */
async function bounded<T>(ff: FFmpeg, p: Promise<T>, ms: number, signal: AbortSignal | undefined, what: string): Promise<T> {
  try {
    return await withBound(p, ms, signal, () => new MuxError(`ffmpeg.wasm timed out after ${Math.round(ms / 1000)} s ${what}`, 'exec-timeout'));
  } catch (err) {
    if (err instanceof MuxError && (err.code === 'exec-timeout' || err.code === 'aborted')) {
      if (live === ff) terminateFFmpeg();
      else ff.terminate();
    }
    throw err;
  }
}
