/**
 * Muxes 14 synthetic 256×256 RGBA frames at 7 fps with ffmpeg.wasm in the page (src/video/mux.ts, core from our
 * origin), plays the MP4 in a <video> element, and checks the container with the system ffprobe when present.
 * Also checks the WebM (VP8) and GIF paths and an odd frame size (padded to even for yuv420p).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MuxReport } from '../src/devtools/api.ts';
import { ARTIFACTS, openApp, type AppSession } from './harness.ts';

const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe';
const hasFfprobe = spawnSync(FFPROBE, ['-version'], { stdio: 'ignore' }).status === 0;

interface ProbeStream {
  codec_name: string;
  pix_fmt?: string;
  width: number;
  height: number;
  r_frame_rate: string;
  avg_frame_rate: string;
  nb_read_frames?: string;
}

function ffprobe(file: string): { stream: ProbeStream; format: { format_name: string; duration: string } } {
  const out = execFileSync(
    FFPROBE,
    ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_streams', '-show_format', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  const json = JSON.parse(out) as { streams: ProbeStream[]; format: { format_name: string; duration: string } };
  return { stream: json.streams[0], format: json.format };
}

function save(name: string, report: MuxReport): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, name);
  writeFileSync(file, Buffer.from(report.base64, 'base64'));
  return file;
}

describe('muxFrames (ffmpeg.wasm, single-thread core from our origin)', () => {
  let s: AppSession;
  let mp4: MuxReport;
  let mp4File: string;

  beforeAll(async () => {
    s = await openApp('/harness.html');
  });
  afterAll(async () => {
    if (s) {
      const errors = s.consoleLines.filter((l) => /error/i.test(l));
      if (errors.length) console.log(errors.slice(-20).join('\n'));
      await s.close();
    }
  });

  it('encodes 14 frames 256×256 at 7 fps to H.264 MP4', async () => {
    mp4 = await s.harness('mux', { width: 256, height: 256, frames: 14, fps: 7, format: 'mp4' });
    console.log(`mp4 256²×14: load ${mp4.loadMs.toFixed(0)} ms, mux ${mp4.muxMs.toFixed(0)} ms, ${mp4.bytes} bytes`);
    mp4File = save('mux-256x256x14.mp4', mp4);
    expect(mp4.type).toBe('video/mp4');
    expect(mp4.bytes).toBeGreaterThan(1000);
    // ISO BMFF with +faststart: 'ftyp' first, 'moov' before 'mdat'.
    const bytes = Buffer.from(mp4.base64, 'base64');
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));
    expect(mp4.progress.at(-1)).toBe(1);
    for (let i = 1; i < mp4.progress.length; i++) expect(mp4.progress[i]).toBeGreaterThanOrEqual(mp4.progress[i - 1]);
  });

  it('plays in a <video> element with duration ≈ 14/7 s', async () => {
    const r = await s.harness('play');
    console.log('playback', r);
    expect(r.ok, r.error).toBe(true);
    expect(r.videoWidth).toBe(256);
    expect(r.videoHeight).toBe(256);
    expect(Math.abs(r.duration - 2)).toBeLessThan(0.05);
    expect(Math.abs(r.endedAt - 2)).toBeLessThan(0.05);
  });

  it.skipIf(!hasFfprobe)('ffprobe: h264, yuv420p, 256×256, 14 frames, 7 fps', () => {
    const { stream, format } = ffprobe(mp4File);
    console.log('ffprobe', stream.codec_name, stream.pix_fmt, stream.r_frame_rate, stream.nb_read_frames, format.duration);
    expect(format.format_name).toContain('mp4');
    expect(stream.codec_name).toBe('h264');
    expect(stream.pix_fmt).toBe('yuv420p');
    expect([stream.width, stream.height]).toEqual([256, 256]);
    expect(Number(stream.nb_read_frames)).toBe(14);
    expect(stream.r_frame_rate).toBe('7/1');
    expect(stream.avg_frame_rate).toBe('7/1');
    expect(Math.abs(Number(format.duration) - 2)).toBeLessThan(0.05);
  });
  if (!hasFfprobe) {
    it.skip(`ffprobe checks skipped: \`${FFPROBE}\` not found (apt-get install -y ffmpeg, or set FFPROBE_PATH)`, () => {});
  }

  it('pads odd sizes to even for yuv420p (255×129)', async () => {
    const r = await s.harness('mux', { width: 255, height: 129, frames: 3, fps: 7, format: 'mp4' });
    const file = save('mux-odd-255x129.mp4', r);
    const play = await s.harness('play');
    expect(play.ok, play.error).toBe(true);
    expect([play.videoWidth, play.videoHeight]).toEqual([256, 130]);
    if (hasFfprobe) expect(ffprobe(file).stream.pix_fmt).toBe('yuv420p');
  });

  it('encodes VP8 WebM and plays it', async () => {
    const r = await s.harness('mux', { width: 256, height: 256, frames: 14, fps: 7, format: 'webm' });
    console.log(`webm 256²×14: mux ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes`);
    const file = save('mux-256x256x14.webm', r);
    expect(r.type).toBe('video/webm');
    const play = await s.harness('play');
    expect(play.ok, play.error).toBe(true);
    expect(Math.abs(play.endedAt - 2)).toBeLessThan(0.05);
    if (hasFfprobe) {
      const { stream } = ffprobe(file);
      expect(stream.codec_name).toBe('vp8');
      expect(Number(stream.nb_read_frames)).toBe(14);
    }
  });

  it('encodes a looping GIF with a generated palette', async () => {
    const r = await s.harness('mux', { width: 256, height: 256, frames: 14, fps: 7, format: 'gif' });
    console.log(`gif 256²×14: mux ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes`);
    const file = save('mux-256x256x14.gif', r);
    expect(r.type).toBe('image/gif');
    expect(Buffer.from(r.base64, 'base64').subarray(0, 6).toString('latin1')).toBe('GIF89a');
    if (hasFfprobe) {
      const { stream } = ffprobe(file);
      expect(stream.codec_name).toBe('gif');
      expect(Number(stream.nb_read_frames)).toBe(14);
    }
  });

  it('loaded everything from our origin', () => {
    expect(s.foreignRequests()).toEqual([]);
    expect(s.requests.some((r) => /ffmpeg-core-[\w-]+\.wasm$/.test(r.url))).toBe(true);
    expect(s.pageErrors).toEqual([]);
  });
});
