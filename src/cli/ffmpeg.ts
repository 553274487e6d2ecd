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
