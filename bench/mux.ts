/**
 * Muxing benchmark (issue 4, must-show 4; issue 15, a hardware encoder): 25 frames of 1024×576 to H.264 MP4
 *   npx tsx bench/mux.ts [--runs 2]     (or npm run bench -- --only mux)
 *
 * In one Chromium page (the app's src/video/mux.ts through `__svdHarness.mux`, encoder forced):
 * - WebCodecs `VideoEncoder` + mediabunny (what 'auto' picks where the browser encodes H.264; the table says whether
 *   this browser does and with which codec string), `--runs` times;
 * - ffmpeg.wasm (single-thread core): core load time, then the encode, `--runs` times on the loaded core (the first
 *   run also pays the core's warm-up);
 * and with native ffmpeg (`ffmpeg` on PATH) on the same synthetic frames (the harness's generator, reproduced here
 * byte for byte) and the app's arguments (preset and CRF read from src/video/mux.ts; yuv420p, +faststart,
 * -threads 1), once with ffmpeg's default threading and with other presets for reference. Skipped with a note when
 * ffmpeg is absent.
 *
 * Content: the harness's 'gradient' frames (a gradient and a moving white square: easy to compress) for the timings,
 * and its 'texture' frames (plus smooth value noise panning 6 px per frame: detail to spend bits on) for the quality: PSNR over R, G,
 * B of every pixel of the decoded file (decoded by native ffmpeg, which honours the stream's colour tags) against the
 * input frames, for the WebCodecs file and x264 CRF 18 (native, the app's preset) side by side.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { textureNoise } from '../src/devtools/texture-noise.ts';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MuxReport, MuxRequest } from '../src/devtools/api.ts';
import { openBenchApp, type BenchApp } from './pipeline.ts';
import { ROOT } from '../e2e/harness.ts';

export const MUX_CASE = { width: 1024, height: 576, frames: 25, fps: 7 };
type Pattern = NonNullable<MuxRequest['pattern']>;

/**
 * The x264 preset and CRF the app uses for MP4, read from src/video/mux.ts's encoderArgs (that module imports
 * Vite `?url` assets, so Node cannot import it): native ffmpeg then runs exactly the browser's settings.
 */
export function appMp4Settings(): { preset: string; crf: string } {
  const src = readFileSync(join(ROOT, 'src', 'video', 'mux.ts'), 'utf8');
  const mp4 = src.slice(src.indexOf("case 'mp4'"), src.indexOf("case 'webm'"));
  return { preset: /'-preset',\s*'([a-z]+)'/.exec(mp4)?.[1] ?? 'medium', crf: /crf \?\? (\d+)/.exec(mp4)?.[1] ?? '23' };
}
const GOAL_MS = 2000;


/** The harness's syntheticFrames (src/devtools/harness.ts), all frames in one buffer. */
export function syntheticFrames(width: number, height: number, count: number, pattern: Pattern = 'gradient'): Uint8Array {
  const out = new Uint8Array(width * height * 4 * count);
  const textured = pattern === 'texture';
  const span = textured ? 191 : 255;
  for (let f = 0; f < count; f++) {
    const base = f * width * height * 4;
    const sq = Math.max(4, Math.floor(Math.min(width, height) / 6));
    const sx = Math.floor(((width - sq) * f) / Math.max(1, count - 1));
    const sy = Math.floor((height - sq) / 2);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = base + (y * width + x) * 4;
        const inSq = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
        const n = textured ? textureNoise(x + 6 * f, y) : 0;
        out[i] = inSq ? 255 : (x * span) / width + n;
        out[i + 1] = inSq ? 255 : (y * span) / height + n;
        out[i + 2] = inSq ? 255 : (f * span) / Math.max(1, count - 1) + n;
        out[i + 3] = 255;
      }
    }
  }
  return out;
}

/** PSNR (dB) over R, G, B of every pixel: `mp4` decoded by native ffmpeg against the RGBA frames. */
function psnr(mp4: Uint8Array, rgba: Uint8Array, dir: string): number {
  const file = join(dir, `psnr-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, mp4);
  const rgb = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 30 });
  const pixels = rgba.length / 4;
  if (rgb.length !== pixels * 3) throw new Error(`decoded ${rgb.length} bytes, expected ${pixels * 3}`);
  let sq = 0;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const d = rgb[p * 3 + c] - rgba[p * 4 + c];
      sq += d * d;
    }
  }
  return 10 * Math.log10((255 * 255) / (sq / (pixels * 3)));
}

interface NativeRun {
  label: string;
  ms: number;
  bytes: number;
  psnr?: number;
}

function nativeMux(threads: string | undefined, preset: string, crf: string, appPreset: string, pattern: Pattern = 'gradient'): NativeRun {
  const { width, height, frames, fps } = MUX_CASE;
  const dir = mkdtempSync(join(tmpdir(), 'svd-mux-'));
  try {
    const input = join(dir, 'frames.rgba');
    const rgba = syntheticFrames(width, height, frames, pattern);
    writeFileSync(input, rgba);
    const output = join(dir, 'out.mp4');
    const args = [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', input,
      '-c:v', 'libx264', '-preset', preset, '-crf', crf, '-pix_fmt', 'yuv420p',
      '-colorspace', 'smpte170m', '-color_primaries', 'bt709', '-color_trc', 'iec61966-2-1', '-color_range', 'tv',
      ...(threads ? ['-threads', threads] : []),
      '-r', String(fps), '-movflags', '+faststart', '-f', 'mp4', output,
    ];
    const t0 = performance.now();
    const r = spawnSync('ffmpeg', args, { encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`ffmpeg exited with ${r.status}: ${r.stderr}`);
    const label = `${threads ? `-threads ${threads}` : 'default threads'}${preset !== appPreset ? `, -preset ${preset}` : ''}`;
    return { label, ms, bytes: statSync(output).size, psnr: psnr(readFileSync(output), rgba, dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ffmpegVersion(): string | undefined {
  try {
    return execFileSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
const db = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(1)} dB`);

export async function runMuxBench(opts: { runs?: number } = {}, log: (s: string) => void = console.log, session?: BenchApp): Promise<string> {
  const runs = opts.runs ?? 2;
  const { width, height, frames, fps } = MUX_CASE;
  const app264 = appMp4Settings();
  const version = ffmpegVersion();
  const scratch = mkdtempSync(join(tmpdir(), 'svd-mux-psnr-'));
  const lines: string[] = [];
  lines.push(`### Muxing ${frames} frames of ${width}×${height} to H.264 MP4 at ${fps} fps (yuv420p, moov first)`);
  lines.push('');
  lines.push(
    `Encoders: WebCodecs \`VideoEncoder\` + mediabunny (the app's 'auto' choice where available), ffmpeg.wasm (libx264 preset ${app264.preset}, CRF ${app264.crf}, as in src/video/mux.ts) and native ffmpeg (same arguments). ` +
      "Encode times on the 'gradient' frames; PSNR (R, G, B, decoded by native ffmpeg) on the 'texture' frames (smooth value noise panning 6 px per frame), one encode each.",
  );
  lines.push('');
  lines.push('| encoder | available here | load | encode | file | PSNR, texture (file) | goal ≤ 2 s |');
  lines.push('|---|---|---:|---:|---:|---:|---|');

  const app = session ?? (await openBenchApp({ log, reuse: true }));
  const req = (encoder: 'webcodecs' | 'ffmpeg', pattern: Pattern): MuxRequest => ({ width, height, frames, fps, format: 'mp4', encoder, pattern });
  const quality = async (encoder: 'webcodecs' | 'ffmpeg'): Promise<string> => {
    const r = await app.harness('mux', req(encoder, 'texture'));
    const p = psnr(Buffer.from(r.base64, 'base64'), syntheticFrames(width, height, frames, 'texture'), scratch);
    log(`mux: ${r.encoder} texture: ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes, PSNR ${p.toFixed(2)} dB`);
    return `${db(p)} (${kib(r.bytes)})`;
  };
  let wcBest = Infinity;
  let ffBest = Infinity;
  try {
    const support = await app.harness('webCodecsSupport', width, height, fps);
    log(`mux: WebCodecs H.264 at ${width}×${height}: ${JSON.stringify(support)}`);
    const wcAvailable = support.supported
      ? `yes: ${support.codec}, ${(support.bitrate! / 1e6).toFixed(2)} Mbit/s, hardwareAcceleration 'no-preference'`
      : `**no**: ${support.reason ?? 'VideoEncoder missing'}`;
    if (!support.supported) {
      lines.push(`| WebCodecs VideoEncoder + mediabunny | ${wcAvailable} | — | — | — | — | — |`);
    } else {
      const q = version ? await quality('webcodecs') : '— (no native ffmpeg to decode)';
      for (let i = 0; i < runs; i++) {
        const r: MuxReport = await app.harness('mux', req('webcodecs', 'gradient'));
        if (r.encoder !== 'webcodecs') throw new Error(`forced webcodecs, got ${r.encoder}`);
        log(`mux: webcodecs run ${i + 1}: ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes`);
        wcBest = Math.min(wcBest, r.muxMs);
        lines.push(`| WebCodecs VideoEncoder + mediabunny, run ${i + 1} | ${i === 0 ? wcAvailable : 'yes'} | — | ${r.muxMs.toFixed(0)} ms | ${kib(r.bytes)} | ${i === 0 ? q : ''} | ${r.muxMs <= GOAL_MS ? 'met' : '**missed**'} |`);
      }
    }
    for (let i = 0; i < runs; i++) {
      const r = await app.harness('mux', req('ffmpeg', 'gradient'));
      log(`mux: ffmpeg.wasm run ${i + 1}: load ${r.loadMs.toFixed(0)} ms, encode ${r.muxMs.toFixed(0)} ms, ${r.bytes} bytes`);
      ffBest = Math.min(ffBest, r.muxMs);
      const q = i === 0 ? (version ? await quality('ffmpeg') : '—') : '';
      lines.push(
        `| Chromium, ffmpeg.wasm single-thread core, run ${i + 1}${i === 0 ? ' (core just loaded)' : ' (core loaded)'} | yes (always) | ${r.loadMs.toFixed(0)} ms | ${r.muxMs.toFixed(0)} ms | ${kib(r.bytes)} | ${q} | ` +
          `${r.muxMs <= GOAL_MS ? 'met' : '**missed**'} |`,
      );
    }
  } catch (e) {
    lines.push(`| Chromium | FAILED: ${(e as Error).message.split('\n')[0]} | | | | | |`);
  } finally {
    if (!session) await app.close();
  }

  let native: NativeRun[] = [];
  if (!version) {
    lines.push('| native ffmpeg | skipped: `ffmpeg` is not on PATH | | | | | |');
  } else {
    const name = version.replace(/ Copyright.*/, '');
    native = [nativeMux('1', app264.preset, app264.crf, app264.preset), nativeMux(undefined, app264.preset, app264.crf, app264.preset)];
    for (const p of ['medium', 'veryfast', 'ultrafast']) if (p !== app264.preset) native.push(nativeMux('1', p, app264.crf, app264.preset));
    const textured = nativeMux('1', app264.preset, app264.crf, app264.preset, 'texture');
    for (const [i, n] of native.entries()) {
      log(`mux: native ffmpeg ${n.label}: ${n.ms.toFixed(0)} ms`);
      const q = i === 0 ? `${db(textured.psnr)} (${kib(textured.bytes)})` : '';
      lines.push(`| native ${name}, libx264 CRF ${app264.crf}, ${n.label} (process start included) | yes | — | ${n.ms.toFixed(0)} ms | ${kib(n.bytes)} | ${q} | — |`);
    }
  }
  rmSync(scratch, { recursive: true, force: true });
  lines.push('');
  const notes: string[] = [];
  if (Number.isFinite(wcBest)) {
    notes.push(
      `WebCodecs encodes in ${wcBest.toFixed(0)} ms (best run), ${Number.isFinite(ffBest) ? `${(ffBest / wcBest).toFixed(1)}× faster than ffmpeg.wasm (${ffBest.toFixed(0)} ms) ` : ''}` +
        `— goal ≤ 2 s ${wcBest <= GOAL_MS ? 'met' : '**missed**'} where the browser has an H.264 encoder; ffmpeg.wasm remains the fallback.`,
    );
  }
  if (Number.isFinite(ffBest) && native.length) {
    notes.push(
      `ffmpeg.wasm / native (same arguments, one thread): ${(ffBest / native[0].ms).toFixed(1)}×; native timings of other presets (one thread): ` +
        native.slice(2).map((n) => `${n.label.replace(/.*-preset /, '')} ${n.ms.toFixed(0)} ms`).join(', ') + '.',
    );
  }
  lines.push(notes.join(' '));
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  void runMuxBench({ runs: values.runs ? Number(values.runs) : undefined }).then((md) => console.log(`\n${md}`));
}
