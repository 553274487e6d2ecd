/**
 * Muxes 14 synthetic 256×256 RGBA frames at 7 fps with ffmpeg.wasm in the page (src/video/mux.ts, core from our
 * origin), plays the MP4 in a <video> element, and checks the container with the system ffprobe (those checks are
 * skipped, with the reason, when ffprobe is missing). Also checks the WebM (VP8) and GIF paths and an odd frame size
 * (padded to even for yuv420p).
 *
 * Each muxed file is a worker-scoped fixture, made on first use in a harness page of its own (`muxPage`): a test
 * that plays or probes a file runs alone and in any order.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MuxReport, MuxRequest } from '../src/devtools/api.ts';
import { ARTIFACTS } from './harness.ts';
import { expect, openSession, test as base, type Session } from './support/fixtures.ts';
import { ffprobe, hasFfprobe, NO_FFPROBE } from './support/tools.ts';

function save(name: string, report: MuxReport): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, name);
  writeFileSync(file, Buffer.from(report.base64, 'base64'));
  return file;
}

interface Muxed {
  report: MuxReport;
  /** the file under e2e/artifacts/ */
  file: string;
}

interface MuxFixtures {
  /** harness.html on a context of its own, where every mux of this worker runs (requests recorded) */
  muxPage: Session;
  mp4: Muxed;
  oddMp4: Muxed;
  webm: Muxed;
  gif: Muxed;
}

type MuxFixture = [(args: { muxPage: Session }, use: (m: Muxed) => Promise<void>) => Promise<void>, { scope: 'worker'; timeout: number }];

const muxed = (req: MuxRequest, name: string): MuxFixture => [
  async ({ muxPage }, use) => {
    const report = await muxPage.harness('mux', req);
    await use({ report, file: save(name, report) });
  },
  { scope: 'worker', timeout: 180_000 },
];

const test = base.extend<{}, MuxFixtures>({
  muxPage: [
    async ({ browser, preview }, use) => {
      const s = await openSession(browser, preview, '/harness.html');
      await use(s);
      const errors = s.consoleLines.filter((l) => /error/i.test(l));
      if (errors.length) console.log(errors.slice(-20).join('\n'));
      await s.close();
    },
    { scope: 'worker', timeout: 180_000 },
  ],
  mp4: muxed({ width: 256, height: 256, frames: 14, fps: 7, format: 'mp4' }, 'mux-256x256x14.mp4'),
  oddMp4: muxed({ width: 255, height: 129, frames: 3, fps: 7, format: 'mp4' }, 'mux-odd-255x129.mp4'),
  webm: muxed({ width: 256, height: 256, frames: 14, fps: 7, format: 'webm' }, 'mux-256x256x14.webm'),
  gif: muxed({ width: 256, height: 256, frames: 14, fps: 7, format: 'gif' }, 'mux-256x256x14.gif'),
});

test.describe('muxFrames (ffmpeg.wasm, single-thread core from our origin)', () => {
  test('encodes 14 frames 256×256 at 7 fps to H.264 MP4', async ({ mp4: { report: mp4 } }) => {
    console.log(`mp4 256²×14: load ${mp4.loadMs.toFixed(0)} ms, mux ${mp4.muxMs.toFixed(0)} ms, ${mp4.bytes} bytes`);
    expect(mp4.type).toBe('video/mp4');
    expect(mp4.bytes).toBeGreaterThan(1000);
    // ISO BMFF with +faststart: 'ftyp' first, 'moov' before 'mdat'.
    const bytes = Buffer.from(mp4.base64, 'base64');
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));
    expect(mp4.progress.at(-1)).toBe(1);
    for (let i = 1; i < mp4.progress.length; i++) expect(mp4.progress[i]).toBeGreaterThanOrEqual(mp4.progress[i - 1]);
  });

  test('plays in a <video> element with duration ≈ 14/7 s', async ({ harnessPage: s, mp4 }) => {
    const r = await s.harness('play', mp4.report.base64, mp4.report.type);
    console.log('playback', r);
    expect(r.ok, r.error).toBe(true);
    expect(r.videoWidth).toBe(256);
    expect(r.videoHeight).toBe(256);
    expect(Math.abs(r.duration - 2)).toBeLessThan(0.05);
    expect(Math.abs(r.endedAt - 2)).toBeLessThan(0.05);
  });

  test('pads odd sizes to even for yuv420p (255×129)', async ({ harnessPage: s, oddMp4 }) => {
    const play = await s.harness('play', oddMp4.report.base64, oddMp4.report.type);
    expect(play.ok, play.error).toBe(true);
    expect([play.videoWidth, play.videoHeight]).toEqual([256, 130]);
  });

  test('encodes VP8 WebM and plays it', async ({ harnessPage: s, webm: { report: r } }) => {
    console.log(`webm 256²×14: mux ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes`);
    expect(r.type).toBe('video/webm');
    const play = await s.harness('play', r.base64, r.type);
    expect(play.ok, play.error).toBe(true);
    expect(Math.abs(play.endedAt - 2)).toBeLessThan(0.05);
  });

  test('encodes a looping GIF with a generated palette', async ({ gif: { report: r } }) => {
    console.log(`gif 256²×14: mux ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes`);
    expect(r.type).toBe('image/gif');
    expect(Buffer.from(r.base64, 'base64').subarray(0, 6).toString('latin1')).toBe('GIF89a');
  });

  // Every file muxed, then what the muxing page fetched (the old shared page's requests, same set of muxes).
  test('loaded everything from our origin', async ({ muxPage: s, mp4, oddMp4, webm, gif }) => {
    expect([mp4, oddMp4, webm, gif].every((m) => m.report.bytes > 0)).toBe(true);
    expect(s.foreignRequests()).toEqual([]);
    expect(s.requests.some((r) => /ffmpeg-core-[\w-]+\.wasm$/.test(r.url))).toBe(true);
    expect(s.pageErrors).toEqual([]);
  });

  test.describe('containers, checked with the system ffprobe', () => {
    test.skip(!hasFfprobe, NO_FFPROBE);

    test('ffprobe: h264, yuv420p, 256×256, 14 frames, 7 fps', async ({ mp4 }) => {
      const { stream, format } = ffprobe(mp4.file);
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

    test('ffprobe: the odd-size MP4 (255×129, padded) is yuv420p', async ({ oddMp4 }) => {
      expect(ffprobe(oddMp4.file).stream.pix_fmt).toBe('yuv420p');
    });

    test('ffprobe: the WebM is VP8 with 14 frames', async ({ webm }) => {
      const { stream } = ffprobe(webm.file);
      expect(stream.codec_name).toBe('vp8');
      expect(Number(stream.nb_read_frames)).toBe(14);
    });

    test('ffprobe: the GIF has 14 frames', async ({ gif }) => {
      const { stream } = ffprobe(gif.file);
      expect(stream.codec_name).toBe('gif');
      expect(Number(stream.nb_read_frames)).toBe(14);
    });
  });
});
