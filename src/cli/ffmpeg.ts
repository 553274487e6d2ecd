/** Muxing frames with the system's ffmpeg in the CLI (the browser uses ffmpeg.wasm, src/video). */
import { spawn, spawnSync } from 'node:child_process';

export function hasFfmpeg(): boolean {
  return spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
}

const CODEC_ARGS: Record<string, string[]> = {
  mp4: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
  webm: ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p', '-b:v', '0', '-crf', '32'],
  gif: ['-filter_complex', 'split[a][b];[a]palettegen[p];[b][p]paletteuse'],
};

/** Encodes RGBA frames to `out` (format from its extension); yuv420p needs even sides, so odd ones are padded. */
export function writeVideo(out: string, frames: Uint8ClampedArray[], width: number, height: number, fps: number): Promise<void> {
  const ext = out.split('.').pop()!.toLowerCase();
  const codec = CODEC_ARGS[ext];
  if (!codec) throw new Error(`cannot write .${ext}; use .mp4, .webm or .gif`);
  const pad = ext !== 'gif' && (width % 2 || height % 2) ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : [];
  const args = ['-y', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-', ...pad, ...codec, '-r', String(fps), out];
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => reject(new Error(`ffmpeg could not start (${e.message}); install it (apt-get install ffmpeg) or use --frames-out`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed (exit ${code}): ${stderr.trim()}`))));
    for (const f of frames) child.stdin.write(f);
    child.stdin.end();
  });
}

export interface VideoFrames {
  width: number;
  height: number;
  fps: number;
  frames: Uint8ClampedArray[];
}

/**
 * Every frame of a video file (MP4, WebM, GIF, …) as RGBA, with its size and frame rate, through the system's ffprobe
 * and ffmpeg. Bounded: each tool gets `timeoutMs`.
 */
export function readVideoFrames(path: string, timeoutMs = 120_000): VideoFrames {
  const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate', '-of', 'json', path], { encoding: 'utf8', timeout: timeoutMs });
  if (probe.error) throw new Error(`ffprobe could not start (${probe.error.message}); install ffmpeg (apt-get install ffmpeg)`);
  const stream = probe.status === 0 ? (JSON.parse(probe.stdout).streams?.[0] as { width?: number; height?: number; r_frame_rate?: string } | undefined) : undefined;
  if (!stream?.width || !stream.height) throw new Error(`${path} is not a video ffmpeg can read${probe.stderr ? `: ${probe.stderr.trim().split('\n')[0]}` : ''}`);
  const [num, den] = (stream.r_frame_rate ?? '0/1').split('/').map(Number);
  const fps = den ? num / den : 0;
  const { width, height } = stream;
  const decoded = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgba', '-'], { timeout: timeoutMs, maxBuffer: 4 * 1024 ** 3 });
  if (decoded.status !== 0) throw new Error(`ffmpeg could not decode ${path}: ${String(decoded.stderr).trim().split('\n')[0]}`);
  const bytes = decoded.stdout as Buffer;
  const size = width * height * 4;
  const frames: Uint8ClampedArray[] = [];
  for (let o = 0; o + size <= bytes.length; o += size) frames.push(new Uint8ClampedArray(bytes.buffer, bytes.byteOffset + o, size));
  if (frames.length === 0) throw new Error(`${path} has no frames`);
  return { width, height, fps, frames };
}
