/**
 * Muxes 14 synthetic 256×256 RGBA frames at 7 fps with ffmpeg.wasm in the page (src/video/mux.ts, core from our
 * origin), plays the MP4 in a <video> element, and checks the container with the system ffprobe (those checks are
 * skipped, with the reason, when ffprobe is missing). Also checks the WebM (VP8) and GIF paths and an odd frame size
 * (padded to even for yuv420p).
 *
 * Then the same with the browser's H.264 encoder (WebCodecs VideoEncoder + mediabunny, src/video/webcodecs.ts):
 * what this Chromium answers is printed first; the tests of the other answer are skipped with it as the reason.
 * The decoder (src/video/decode.ts) is checked by a round trip against the synthetic frames.
 *
 * Each muxed file is a worker-scoped fixture, made on first use in a harness page of its own (`muxPage`): a test
 * that plays or probes a file runs alone and in any order.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MuxReport, MuxRequest, WebCodecsSupportReport } from '../src/devtools/api.ts';
import { topLevelBoxes } from '../src/video/h264.ts';
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
  /** 'auto' and forced WebCodecs (these only where supported; the tests check `webCodecs` first) */
  autoMp4: Muxed;
  wcMp4: Muxed;
  wcOddMp4: Muxed;
  /** what VideoEncoder.isConfigSupported said for H.264 at 256×256, 7 fps, in the muxing page */
  webCodecs: WebCodecsSupportReport;
}

type MuxFixture = [(args: { muxPage: Session }, use: (m: Muxed) => Promise<void>) => Promise<void>, { scope: 'worker'; timeout: number }];

const muxed = (req: MuxRequest, name: string): MuxFixture => [
  async ({ muxPage }, use) => {
    const report = await muxPage.harness('mux', req);
    await use({ report, file: save(name, report) });
  },
  { scope: 'worker', timeout: 180_000 },
];

const MP4: MuxRequest = { width: 256, height: 256, frames: 14, fps: 7, format: 'mp4' };
const ODD: MuxRequest = { width: 255, height: 129, frames: 3, fps: 7, format: 'mp4' };

/** Top-level box types of an MP4, in file order. */
const boxOrder = (report: MuxReport): string[] => topLevelBoxes(Buffer.from(report.base64, 'base64')).map((b) => b.type);

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
  mp4: muxed({ ...MP4, encoder: 'ffmpeg' }, 'mux-256x256x14.mp4'),
  oddMp4: muxed({ ...ODD, encoder: 'ffmpeg' }, 'mux-odd-255x129.mp4'),
  autoMp4: muxed({ ...MP4, encoder: 'auto' }, 'mux-auto-256x256x14.mp4'),
  wcMp4: muxed({ ...MP4, encoder: 'webcodecs' }, 'mux-webcodecs-256x256x14.mp4'),
  wcOddMp4: muxed({ ...ODD, encoder: 'webcodecs' }, 'mux-webcodecs-odd-255x129.mp4'),
  webCodecs: [
    async ({ muxPage }, use) => {
      const support = await muxPage.harness('webCodecsSupport', 256, 256, 7);
      console.log('WebCodecs H.264 in this Chromium (VideoEncoder.isConfigSupported, 256×256, 7 fps):', JSON.stringify(support));
      await use(support);
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  webm: muxed({ width: 256, height: 256, frames: 14, fps: 7, format: 'webm' }, 'mux-256x256x14.webm'),
  gif: muxed({ width: 256, height: 256, frames: 14, fps: 7, format: 'gif' }, 'mux-256x256x14.gif'),
});

/** The MP4 contract both encoders keep (14 frames of 256×256 at 7 fps): ffprobe's view, the duration within `durationTolerance` s. */
function expectMp4Contract(file: string, encoder: string, durationTolerance: number): void {
  const { stream, format } = ffprobe(file);
  console.log(`ffprobe (${encoder})`, stream.codec_name, stream.pix_fmt, stream.r_frame_rate, stream.nb_read_frames, format.duration);
  expect(format.format_name).toContain('mp4');
  expect(stream.codec_name).toBe('h264');
  expect(stream.pix_fmt).toBe('yuv420p');
  expect([stream.width, stream.height]).toEqual([256, 256]);
  expect(Number(stream.nb_read_frames)).toBe(14);
  expect(stream.r_frame_rate).toBe('7/1');
  expect(stream.avg_frame_rate).toBe('7/1');
  expect(Math.abs(Number(format.duration) - 2)).toBeLessThan(durationTolerance);
}

test.describe('muxFrames (ffmpeg.wasm, single-thread core from our origin)', () => {
  test('encodes 14 frames 256×256 at 7 fps to H.264 MP4', async ({ mp4: { report: mp4 } }) => {
    console.log(`mp4 256²×14: load ${mp4.loadMs.toFixed(0)} ms, mux ${mp4.muxMs.toFixed(0)} ms, ${mp4.bytes} bytes`);
    expect(mp4.encoderCalls).toEqual([{ used: 'ffmpeg.wasm', reason: 'forced by the encoder option' }]);
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
  test('loaded everything from our origin', async ({ muxPage: s, mp4, oddMp4, webm, gif, autoMp4 }) => {
    expect([mp4, oddMp4, webm, gif, autoMp4].every((m) => m.report.bytes > 0)).toBe(true);
    expect(s.foreignRequests()).toEqual([]);
    expect(s.requests.some((r) => /ffmpeg-core-[\w-]+\.wasm$/.test(r.url))).toBe(true);
    expect(s.pageErrors).toEqual([]);
  });

  test.describe('containers, checked with the system ffprobe', () => {
    test.skip(!hasFfprobe, NO_FFPROBE);

    test('ffprobe: h264, yuv420p, 256×256, 14 frames, 7 fps', async ({ mp4 }) => {
      expectMp4Contract(mp4.file, 'ffmpeg.wasm', 0.05);
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

test.describe('MP4 with the browser\'s H.264 encoder (WebCodecs VideoEncoder + mediabunny)', () => {
  const NOT_SUPPORTED = 'this Chromium has no WebCodecs H.264 encoder (see the printed isConfigSupported answer)';
  const SUPPORTED = 'this Chromium encodes H.264 with WebCodecs (see the printed isConfigSupported answer)';

  test('this Chromium answers VideoEncoder.isConfigSupported for H.264', async ({ webCodecs }) => {
    expect(webCodecs.hasVideoEncoder, 'VideoEncoder exists in this Chromium').toBe(true);
    if (webCodecs.supported) {
      // the smallest level for 256×256 at 7 fps and the 250 kbit/s floor is 1.2 (396 macroblocks, 384 kbit/s × 1.25)
      expect(webCodecs.codec).toMatch(/^avc1\.(6400|4d00|42e0)0c$/);
      expect(webCodecs.bitrate).toBe(250_000);
    } else {
      expect(webCodecs.reason).toMatch(/H\.264/);
    }
  });

  test.describe('where it is not supported', () => {
    test.skip(({ webCodecs }) => webCodecs.supported, SUPPORTED);

    test("'auto' picks ffmpeg.wasm and says why", async ({ autoMp4: { report } }) => {
      expect(report.encoder).toBe('ffmpeg.wasm');
      expect(report.encoderReason).toMatch(/VideoEncoder|WebCodecs|H\.264/);
    });

    test("forcing 'webcodecs' fails with a clear error", async ({ harnessPage: s }) => {
      await expect(s.harness('mux', { ...MP4, encoder: 'webcodecs' })).rejects.toThrow(/WebCodecs H\.264 encoding is not available/);
    });
  });

  test.describe('where it is supported', () => {
    // evaluated with the webCodecs fixture only, before the fixtures that would encode with WebCodecs
    test.skip(({ webCodecs }) => !webCodecs.supported, NOT_SUPPORTED);

    test("'auto' picks WebCodecs", async ({ autoMp4: { report } }) => {
      console.log(`auto mp4 256²×14: ${report.encoder}, ${report.muxMs.toFixed(0)} ms, ${report.bytes} bytes`);
      expect(report.encoderCalls).toEqual([{ used: 'webcodecs', reason: undefined }]);
      expect(boxOrder(report)).toEqual(['ftyp', 'moov', 'mdat']);
    });

    test('the MP4: ftyp, moov before mdat (top-level boxes), progress 0 → 1', async ({ wcMp4: { report } }) => {
      console.log(`webcodecs mp4 256²×14: mux ${report.muxMs.toFixed(0)} ms, ${report.bytes} bytes`);
      expect(report.encoder).toBe('webcodecs');
      expect(report.type).toBe('video/mp4');
      const order = boxOrder(report);
      expect(order[0]).toBe('ftyp');
      expect(order.indexOf('moov')).toBeGreaterThan(0);
      expect(order.indexOf('moov')).toBeLessThan(order.indexOf('mdat'));
      expect(report.progress[0]).toBe(0);
      expect(report.progress.at(-1)).toBe(1);
      for (let i = 1; i < report.progress.length; i++) expect(report.progress[i]).toBeGreaterThan(report.progress[i - 1]);
    });

    test('ffprobe: h264, yuv420p, 256×256, 14 frames, 7 fps, 2 s', async ({ wcMp4 }) => {
      test.skip(!hasFfprobe, NO_FFPROBE);
      expectMp4Contract(wcMp4.file, 'webcodecs', 0.005);
    });

    test('plays in a <video> element with duration ≈ 14/7 s', async ({ harnessPage: s, wcMp4 }) => {
      const r = await s.harness('play', wcMp4.report.base64, wcMp4.report.type);
      console.log('playback (webcodecs)', r);
      expect(r.ok, r.error).toBe(true);
      expect([r.videoWidth, r.videoHeight]).toEqual([256, 256]);
      expect(Math.abs(r.duration - 2)).toBeLessThan(0.05);
      expect(Math.abs(r.endedAt - 2)).toBeLessThan(0.05);
    });

    // Tolerances, over R, G, B of every pixel (0..255): mean |Δ| ≤ 3 and PSNR ≥ 36 dB in every frame (measured: mean
    // ≤ 1.2, PSNR ≥ 41 dB; the maximum |Δ| is large, up to ~60, at the white square's edges, where 4:2:0 halves
    // the colour resolution). The same frames paired one apart must differ by a mean ≥ 5 (measured ≥ 8.4): the
    // comparison can tell the frames apart.
    test('decodeVideoFrames round trip: 14 frames at 7 fps, pixels within tolerance of the input', async ({ harnessPage: s, wcMp4 }) => {
      const d = await s.harness('decodeVideo', { base64: wcMp4.report.base64, compareTo: MP4, samplePoints: [[0, 10, 10], [7, 128, 128], [13, 250, 5]] });
      console.log(`decoded ${d.frames} frames ${d.width}×${d.height} at ${d.fps} fps in ${d.ms.toFixed(0)} ms; mean |Δ| ${d.compare!.meanAbs.map((x) => x.toFixed(2)).join(' ')}; PSNR ${d.compare!.psnr.map((x) => x.toFixed(1)).join(' ')}`);
      console.log('samples', JSON.stringify(d.samples));
      expect([d.frames, d.width, d.height, d.fps]).toEqual([14, 256, 256, 7]);
      d.timestamps.forEach((t, i) => expect(Math.abs(t - i / 7)).toBeLessThan(1e-6));
      expect(d.compare!.meanAbs).toHaveLength(14);
      for (const m of d.compare!.meanAbs) expect(m).toBeLessThanOrEqual(3);
      for (const p of d.compare!.psnr) expect(p).toBeGreaterThanOrEqual(36);
      const wrong = await s.harness('decodeVideo', { base64: wcMp4.report.base64, compareTo: MP4, shift: 1 });
      expect(Math.min(...wrong.compare!.meanAbs)).toBeGreaterThanOrEqual(5);
    });

    // The pad is ffmpeg's: picture at the top-left, one black column on the right and one black row at the bottom.
    // Bound: the padded column/row's mean R, G, B ≤ 24 (the encoder blurs the edge next to bright picture), the
    // picture's own last column/row within the round-trip tolerance above (mean |Δ| ≤ 3 over the frame).
    test('pads odd sizes to even like the ffmpeg path (255×129 → 256×130, black right column and bottom row)', async ({ harnessPage: s, wcOddMp4 }) => {
      const play = await s.harness('play', wcOddMp4.report.base64, wcOddMp4.report.type);
      expect(play.ok, play.error).toBe(true);
      expect([play.videoWidth, play.videoHeight]).toEqual([256, 130]);
      const d = await s.harness('decodeVideo', { base64: wcOddMp4.report.base64, compareTo: ODD, raw: true });
      expect([d.frames, d.width, d.height]).toEqual([3, 256, 130]);
      for (const m of d.compare!.meanAbs) expect(m).toBeLessThanOrEqual(3);
      const f0 = Buffer.from(d.rgbaBase64![0], 'base64');
      const mean = (idx: number[]): number => idx.reduce((a, i) => a + f0[i] + f0[i + 1] + f0[i + 2], 0) / (idx.length * 3);
      const column = Array.from({ length: 130 }, (_, y) => (y * 256 + 255) * 4);
      const row = Array.from({ length: 256 }, (_, x) => (129 * 256 + x) * 4);
      console.log(`padded column mean ${mean(column).toFixed(1)}, padded row mean ${mean(row).toFixed(1)}, picture's last column ${mean(column.map((i) => i - 4)).toFixed(1)}`);
      expect(mean(column)).toBeLessThanOrEqual(24);
      expect(mean(row)).toBeLessThanOrEqual(24);
      // the picture's last column is the red gradient's brightest (R ≈ 254): it must not be the black one
      expect(mean(column.map((i) => i - 4))).toBeGreaterThan(60);
      if (hasFfprobe) expect(ffprobe(wcOddMp4.file).stream.pix_fmt).toBe('yuv420p');
    });

    test('a WebCodecs failure mid-encode falls back to ffmpeg.wasm and says why', async ({ harnessPage: s }) => {
      // Every VideoEncoder of this page fails at its second frame, after the support check said yes.
      await s.page.evaluate(() => {
        const encode = VideoEncoder.prototype.encode;
        let calls = 0;
        VideoEncoder.prototype.encode = function (this: VideoEncoder, ...args: Parameters<VideoEncoder['encode']>) {
          if (++calls === 2) throw new Error('injected encoder failure');
          return encode.apply(this, args);
        };
      });
      const r = await s.harness('mux', { width: 64, height: 64, frames: 3, fps: 7, format: 'mp4' });
      expect(r.encoderCalls.map((c) => c.used)).toEqual(['webcodecs', 'ffmpeg.wasm']);
      expect(r.encoder).toBe('ffmpeg.wasm');
      expect(r.encoderReason).toMatch(/^WebCodecs failed: .*injected encoder failure/);
      const play = await s.harness('play', r.base64, r.type);
      expect(play.ok, play.error).toBe(true);
      expect(Math.abs(play.duration - 3 / 7)).toBeLessThan(0.05);
      for (let i = 1; i < r.progress.length; i++) expect(r.progress[i]).toBeGreaterThanOrEqual(r.progress[i - 1]);
      expect(r.progress.at(-1)).toBe(1);
    });
  });

  test.describe('decodeVideoFrames (src/video/decode.ts)', () => {
    test('reads the ffmpeg.wasm MP4 too, and stops at maxFrames', async ({ harnessPage: s, mp4 }) => {
      // same tolerance as the round trip above (measured: mean ≤ 1.05). The ffmpeg path's stream says BT.601 since
      // this change; untagged, Chromium decoded it as BT.709 and this measured a mean of 6.6.
      const d = await s.harness('decodeVideo', { base64: mp4.report.base64, compareTo: MP4 });
      console.log(`decoded the ffmpeg.wasm MP4: mean |Δ| ${d.compare!.meanAbs.map((x) => x.toFixed(2)).join(' ')}`);
      expect([d.frames, d.width, d.height, d.fps]).toEqual([14, 256, 256, 7]);
      for (const m of d.compare!.meanAbs) expect(m).toBeLessThanOrEqual(3);
      const five = await s.harness('decodeVideo', { base64: mp4.report.base64, maxFrames: 5 });
      expect(five.frames).toBe(5);
    });

    test('refuses what is not a video, in words', async ({ harnessPage: s, gif }) => {
      await expect(s.harness('decodeVideo', { base64: Buffer.from('this is not a video at all').toString('base64') })).rejects.toThrow(
        /this file is not a video the browser can read: /,
      );
      // a GIF is an image to mediabunny: refused the same way
      await expect(s.harness('decodeVideo', { base64: gif.report.base64, type: 'image/gif' })).rejects.toThrow(/this file is not a video the browser can read: /);
    });
  });
});
