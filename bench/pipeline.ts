/**
 * Pipeline overhead of the generation worker in Chromium (issue 6), on the tiny demo model:
 *   npx tsx bench/pipeline.ts [--steps 3] [--frames 3] [--size 64] [--warm 2] [--devices webgpu,wasm] [--no-profile]
 *
 * Per device: one cold job (creates the sessions; small models keep them cached in the worker), then `--warm` jobs
 * on the warm pipeline; on WebGPU one more warm job with graph capture off first, for comparison. Reported per job:
 * overhead = result.timings.total / result.timings.ortRun, where ortRun is the wall time with ORT work outstanding
 * (each run() until the device finished it: on WebGPU run() returns once the kernels are queued); the time inside
 * run() calls (the CPU's share); readbacks per UNet step and at the end of the loop; time per stage.
 *
 * Where the non-ORT time goes: the jobs run under the V8 CPU profiler of the WORKER (CDP, attached through the page's
 * target with Target.setAutoAttach, 1 kHz sampling); the last warm job's samples are summed per function, ORT's own
 * (its bundle and wasm) separated from ours.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { preview } from 'vite';
import { callHarness, ROOT } from '../e2e/harness.ts';
import { launchBrowser } from '../e2e/support/browser.ts';
import type { HarnessApi, PipelineJob, PipelineJobReport } from '../src/devtools/api.ts';

// ---------------------------------------------------------------------------------------------------------
// The app, built into the bench's own folder (dist/ belongs to the e2e runs of others) and served by vite preview

export const BENCH_DIST = join(tmpdir(), 'svd-web-bench', 'dist');

export interface BenchApp {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  origin: string;
  harness<K extends keyof HarnessApi>(method: K, ...args: Parameters<HarnessApi[K]>): Promise<Awaited<ReturnType<HarnessApi[K]>>>;
  close(): Promise<void>;
}

/** `vite build` into BENCH_DIST (unless `reuse` and it exists), `vite preview` of it, Chromium on /harness.html. */
export async function openBenchApp(opts: { reuse?: boolean; log?: (s: string) => void } = {}): Promise<BenchApp> {
  if (!(opts.reuse && existsSync(join(BENCH_DIST, 'harness.html')))) {
    const t0 = performance.now();
    execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', BENCH_DIST, '--emptyOutDir', '--logLevel', 'error'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    opts.log?.(`built the app into ${BENCH_DIST} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const server = await preview({
    root: ROOT,
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: BENCH_DIST },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address() as AddressInfo;
  const origin = `http://127.0.0.1:${address.port}`;
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext();
    const page = await context.newPage();
    if (process.env.BENCH_DEBUG) {
      page.on('console', (m) => opts.log?.(`[page ${m.type()}] ${m.text()}`));
      page.on('worker', (w) => w.on('console', (m) => opts.log?.(`[worker ${m.type()}] ${m.text()}`)));
      page.on('pageerror', (e) => opts.log?.(`[page error] ${e.message}`));
    }
    await page.goto(`${origin}/harness.html`, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => '__svdHarness' in globalThis, undefined, { timeout: 30_000 });
    const b = browser;
    return {
      browser: b,
      context,
      page,
      origin,
      harness: (method, ...args) => callHarness(page, method, ...args),
      async close() {
        await b.close().catch(() => undefined);
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close().catch(() => undefined);
    await server.close();
    throw e;
  }
}

export interface PipelineBenchOptions {
  steps: number;
  frames: number;
  size: number;
  warm: number;
  devices: ('webgpu' | 'wasm')[];
  profile: boolean;
  modelUrl: string;
}

export const PIPELINE_DEFAULTS: PipelineBenchOptions = { steps: 3, frames: 3, size: 64, warm: 2, devices: ['webgpu', 'wasm'], profile: true, modelUrl: '/models/tiny-random/' };
/**
 * SwiftShader (CPU-emulated WebGPU; its barrier-heavy kernels, InstanceNormalization above all, take 0.2–0.3 s a call)
 * makes a WebGPU job take minutes here: unless steps/warm are given, WebGPU runs 2 steps and two warm jobs with
 * capture after the one without (the first re-creates the session and records, the second only replays).
 */
const WEBGPU_DEFAULTS = { steps: 2, warm: 2 };

const GOAL_OVERHEAD = 1.05;

function testImage(size: number): PipelineJob['image'] {
  const rgba: number[] = new Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      rgba[i] = (x * 255) / size;
      rgba[i + 1] = (y * 255) / size;
      rgba[i + 2] = ((x + y) * 127) / size;
      rgba[i + 3] = 255;
    }
  }
  return { width: size, height: size, rgba };
}

function job(o: PipelineBenchOptions, seed: number, graphCapture = true): PipelineJob {
  return {
    graphCapture,
    image: testImage(o.size),
    request: { fps: 7, motion: 127, cond_aug: 0.02, frames: o.frames, steps: o.steps, min_guidance: 1, max_guidance: 3, width: o.size, height: o.size, decode_chunk: o.frames, seed },
  };
}

// ---------------------------------------------------------------------------------------------------------
// CDP: the generation worker's profiler, through the page's session (non-flat auto-attach)

interface WorkerTarget {
  send<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

interface CpuProfile {
  startTime: number;
  endTime: number;
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Resolves with a handle to the next dedicated worker the page starts (named `name` when given). */
async function watchWorkers(cdp: CDPSession, name?: string): Promise<() => Promise<WorkerTarget>> {
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const found: WorkerTarget[] = [];
  const listeners: ((t: WorkerTarget) => void)[] = [];
  cdp.on('Target.receivedMessageFromTarget', (e: { sessionId: string; message: string }) => {
    const m = JSON.parse(e.message) as { id?: number; result?: unknown; error?: { message: string } };
    if (m.id === undefined) return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(m.error.message));
    else w.resolve(m.result);
  });
  cdp.on('Target.attachedToTarget', (e: { sessionId: string; targetInfo: { type: string; title: string; url: string } }) => {
    if (e.targetInfo.type !== 'worker') return;
    if (name && !e.targetInfo.title.includes(name) && !e.targetInfo.url.includes('generate')) return;
    const target: WorkerTarget = {
      send: (method, params = {}) =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          const timer = setTimeout(() => {
            waiting.delete(id);
            reject(new Error(`worker target: no answer to ${method} within 120 s`));
          }, 120_000);
          waiting.set(id, {
            resolve: (v) => (clearTimeout(timer), resolve(v as never)),
            reject: (err) => (clearTimeout(timer), reject(err)),
          });
          cdp.send('Target.sendMessageToTarget', { sessionId: e.sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
        }),
    };
    if (process.env.BENCH_DEBUG) console.log(`attached to ${e.targetInfo.type} "${e.targetInfo.title}" ${e.targetInfo.url}`);
    found.push(target);
    for (const l of listeners.splice(0)) l(target);
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const seen = found.length;
  return () =>
    found.length > seen
      ? Promise.resolve(found[found.length - 1])
      : new Promise<WorkerTarget>((resolve) => listeners.push(resolve));
}

/** Self time per function (and per owner) of the samples in the last `windowMs` of the profile (all when absent). */
export function summarizeProfile(p: CpuProfile, windowMs?: number, top = 14): { lines: string[]; totalMs: number; byOwner: Record<string, number> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const byOwner: Record<string, number> = {};
  const from = windowMs === undefined ? -Infinity : p.endTime - windowMs * 1000;
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if (t < from) return;
    const f = byId.get(id)!.callFrame;
    const file = f.url.split('/').pop() || '';
    const key = `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    self.set(key, (self.get(key) ?? 0) + dt);
    const owner = /^\((idle|program|garbage collector)\)$/.test(f.functionName)
      ? f.functionName
      : /ort|onnx|wasm/i.test(file) || /^wasm-function|^\$/.test(f.functionName) || f.url.startsWith('wasm://')
        ? 'onnxruntime (JS + wasm)'
        : file
          ? 'our code (worker bundle)'
          : '(native / other)';
    byOwner[owner] = (byOwner[owner] ?? 0) + dt;
  });
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  // ORT's own functions (wasm-function[…] and its JS glue) are summed in byOwner; the table lists everything else
  const rows = [...self].filter(([k]) => !/^\((idle)\)/.test(k) && !/wasm-function|ort[.-]|onnx/i.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
  return { lines: rows.map(([k, t]) => `| ${k.replace(/\|/g, '\\|')} | ${t.toFixed(1)} ms |`), totalMs, byOwner };
}

// ---------------------------------------------------------------------------------------------------------

interface DeviceResult {
  device: string;
  reason: string;
  cold?: PipelineJobReport;
  warm: PipelineJobReport[];
  profile?: { summary: ReturnType<typeof summarizeProfile>; job: PipelineJobReport };
  error?: string;
  steps: number;
}

const ms = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(0)} ms`);

export async function runPipelineBench(opts: Partial<PipelineBenchOptions> = {}, log: (s: string) => void = console.log, session?: BenchApp): Promise<string> {
  const o = { ...PIPELINE_DEFAULTS, ...opts };
  const app = session ?? (await openBenchApp({ log, reuse: !!process.env.BENCH_REUSE_DIST }));
  const results: DeviceResult[] = [];
  try {
    for (const device of o.devices) {
      const t0 = performance.now();
      const d = device === 'webgpu' ? { ...o, steps: opts.steps ?? WEBGPU_DEFAULTS.steps, warm: opts.warm ?? WEBGPU_DEFAULTS.warm } : o;
      log(`pipeline: ${device}: 1 cold + ${d.warm} warm job(s), ${o.size}×${o.size}, ${o.frames} frames, ${d.steps} steps, CFG on`);
      const r: DeviceResult = { device, reason: '', warm: [], steps: d.steps };
      try {
        // cold, [WebGPU: warm without graph capture,] warm jobs; the profiled job is the last one (capture on)
        const jobs = [job(d, 1000), ...(device === 'webgpu' ? [job(d, 1001, false)] : []), ...Array.from({ length: d.warm }, (_, i) => job(d, 1002 + i))];
        // One worker, one run: the CPU profiler of the worker runs through all jobs (1 kHz sampling, to disturb
        // little); only the samples inside the last warm job's duration are summarised.
        const cdp = o.profile ? await app.context.newCDPSession(app.page) : undefined;
        let worker: Promise<WorkerTarget | undefined> = Promise.resolve(undefined);
        if (cdp) {
          const nextWorker = await watchWorkers(cdp, 'svd-generate');
          // the harness terminates its worker when the jobs are done; hold that back until the profile is taken
          await app.page.evaluate(() => {
            const W = (globalThis as unknown as { Worker: { prototype: { terminate(): void } } }).Worker;
            const g = globalThis as unknown as { __benchTerminate?: { original: () => void; pending: (() => void)[] } };
            g.__benchTerminate = { original: W.prototype.terminate, pending: [] };
            W.prototype.terminate = function (this: unknown) {
              g.__benchTerminate!.pending.push(() => g.__benchTerminate!.original.call(this));
            };
          });
          worker = Promise.race([nextWorker(), new Promise<undefined>((res) => setTimeout(() => res(undefined), 60_000))]).then(async (w) => {
            if (!w) throw new Error('no worker target seen');
            await w.send('Profiler.enable');
            await w.send('Profiler.setSamplingInterval', { interval: 1000 });
            await w.send('Profiler.start');
            return w;
          });
          worker.catch((e: Error) => log(`pipeline: ${device}: profiler not started: ${e.message}`));
        }
        try {
          const report = await app.harness('pipeline', { modelBaseUrl: o.modelUrl, device, jobs });
          r.device = report.device;
          r.reason = report.reason;
          [r.cold, ...r.warm] = report.jobs;
          for (const j of report.jobs) if (j.outcome !== 'result') throw new Error(`job ended with ${j.outcome}: ${j.error?.message ?? ''}`);
          const w = await worker.catch(() => undefined);
          const last = r.warm[r.warm.length - 1];
          if (w && last) {
            const { profile } = await w.send<{ profile: CpuProfile }>('Profiler.stop');
            r.profile = { summary: summarizeProfile(profile, last.ms + 50), job: last };
          }
        } finally {
          if (cdp) {
            await cdp.detach().catch(() => undefined);
            await app.page
              .evaluate(() => {
                const W = (globalThis as unknown as { Worker: { prototype: { terminate(): void } } }).Worker;
                const g = globalThis as unknown as { __benchTerminate?: { original: () => void; pending: (() => void)[] } };
                if (!g.__benchTerminate) return;
                W.prototype.terminate = g.__benchTerminate.original;
                for (const t of g.__benchTerminate.pending) t();
                delete g.__benchTerminate;
              })
              .catch(() => undefined);
          }
        }
      } catch (e) {
        r.error = (e as Error).message;
      }
      results.push(r);
      log(`pipeline: ${device} done in ${((performance.now() - t0) / 1000).toFixed(0)} s${r.error ? ` (error: ${r.error})` : ''}`);
    }
  } finally {
    if (!session) await app.close();
  }
  return formatPipeline(o, results);
}

function formatPipeline(o: PipelineBenchOptions, results: DeviceResult[]): string {
  const lines: string[] = [];
  lines.push(`### Pipeline overhead in Chromium (tiny demo model, ${o.size}×${o.size}, ${o.frames} frames, ${results.map((r) => `${r.steps} steps on ${r.device}`).join(', ')}, CFG batch 2)`);
  lines.push('');
  lines.push(
    'Generation worker driven through harness.html (`__svdHarness.pipeline`); one cold job, then warm jobs on the cached sessions. ' +
      '**ORT busy** = wall time with ORT work outstanding: from each `run()` call until the device has finished what it queued ' +
      '(`GPUQueue.onSubmittedWorkDone()`; on WebGPU `run()` returns before that), overlapping runs counted once (src/runtime/clock.ts). ' +
      '**inside run()** = the CPU\'s share of it. ' +
      `**overhead** = job wall time / ORT busy (goal ≤ ${GOAL_OVERHEAD}). Readbacks = device→CPU copies in the denoising loop, counted by the runtime.`,
  );
  lines.push('');
  lines.push('| EP | job | graph capture | total | ORT busy | inside run() | … per step, loop | overhead | outside ORT | readbacks per step (+ at the end) | per step | encode | denoise | decode | load |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    if (r.error && !r.cold) {
      lines.push(`| ${r.device} | FAILED: ${r.error} | | | | | | | | | | | | | |`);
      continue;
    }
    const rows: [string, PipelineJobReport | undefined][] = [['cold', r.cold], ...r.warm.map((j, i) => [`warm ${i + 1}`, j] as [string, PipelineJobReport])];
    for (const [label, j] of rows) {
      const res = j?.result;
      if (!res) {
        lines.push(`| ${r.device} | ${label} | ${j?.outcome ?? '—'} ${j?.error?.message ?? ''} | | | | | | | | | | | |`);
        continue;
      }
      const t = res.timings;
      const overhead = t.total / t.ortRun;
      const mark = label === 'cold' ? '' : overhead <= GOAL_OVERHEAD ? ' ✓' : ' ✗';
      const capture = res.loop === 'device' ? (res.graphCapture.on ? 'on' : 'off') : '—';
      lines.push(
        `| ${r.device} | ${label} | ${capture} | ${ms(t.total)} | ${ms(t.ortRun)} | ${ms(t.ortCall)} | ${ms(t.ortCallLoop / r.steps)} | ${overhead.toFixed(3)}${mark} | ${ms(t.total - t.ortRun)} | ${readbackCell(res, r.steps)} | ` +
          `${ms(t.denoise / r.steps)} | ${ms(t.encode)} | ${ms(t.denoise)} | ${ms(t.decode)} | ${ms(t.load)} |`,
      );
    }
  }
  lines.push('');
  for (const r of results) {
    const warm = r.warm.filter((j) => j.result);
    if (!warm.length) continue;
    const shown = warm.filter((j) => j.result!.graphCapture.on || j.result!.loop === 'cpu').at(-1) ?? warm[warm.length - 1];
    const t = shown.result!.timings;
    const stageSum = t.load + t.encode + t.denoise + t.decode;
    lines.push(
      `- **${r.device}** (${r.reason}): warm overhead ${(t.total / t.ortRun).toFixed(3)} — ${(t.total - t.ortRun).toFixed(0)} ms of ${t.total.toFixed(0)} ms with no ORT work outstanding ` +
        `(${((t.total - t.ortRun) / r.steps).toFixed(0)} ms per step if it were all in the loop); stages add up to ${stageSum.toFixed(0)} ms, the other ${(t.total - stageSum).toFixed(0)} ms ` +
        `is before/after the stages (request validation, CLIP preprocessing, noise, postMessage of the result). ${readbackSentence(shown.result!, r.steps)} Round trip seen by the page: ${shown.ms.toFixed(0)} ms.`,
    );
    const plain = warm.find((j) => j.result!.loop === 'device' && !j.result!.graphCapture.on);
    if (plain && shown !== plain && shown.result!.graphCapture.on) {
      const p = plain.result!.timings;
      lines.push(
        `- **${r.device}, graph capture**: time inside run() per denoising step ${ms(p.ortCallLoop / r.steps)} without capture → ${ms(t.ortCallLoop / r.steps)} with it ` +
          `(${moreOrLess((t.ortCallLoop - p.ortCallLoop) / r.steps)}: with capture the UNet's kernels are replayed, not encoded again); ` +
          `ORT busy ${ms(p.ortRun)} → ${ms(t.ortRun)} (${moreOrLess((t.ortRun - p.ortRun) / r.steps)} per step); overhead ${(p.total / p.ortRun).toFixed(3)} → ${(t.total / t.ortRun).toFixed(3)}. ` +
          `Reason given without it: ${plain.result!.graphCapture.reason ?? '—'}.`,
      );
    }
  }
  for (const r of results) {
    if (!r.profile) continue;
    const s = r.profile.summary;
    lines.push('');
    lines.push(`CPU profile of the generation worker (1 kHz sampling during the whole run), ${r.device}, the last warm job (${s.totalMs.toFixed(0)} ms sampled, window = the job's ${r.profile.job.ms.toFixed(0)} ms): by owner — ` +
      Object.entries(s.byOwner).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ') + '.');
    const idle = s.byOwner['(idle)'] ?? 0;
    if (idle > 0.5 * s.totalMs) {
      lines.push('');
      lines.push(
        `The worker's thread was idle ${((100 * idle) / s.totalMs).toFixed(1)}% of this job: it was waiting for the device (the loop keeps one step queued ahead ` +
          'and waits for the one before), not running JavaScript. The JavaScript it did run outside onnxruntime: ' +
          `${Object.entries(s.byOwner).filter(([k]) => !/onnxruntime|idle/.test(k)).reduce((a, [, v]) => a + v, 0).toFixed(0)} ms.`,
      );
    }
    lines.push('');
    lines.push('| function outside onnxruntime (self time, idle excluded) | ms |');
    lines.push('|---|---:|');
    lines.push(...s.lines);
  }
  return lines.join('\n');
}

type JobResult = NonNullable<PipelineJobReport['result']>;

/** On the device loop the one readback is the final latents; the CPU loop reads every UNet output back. */
function readbackCell(res: JobResult, steps: number): string {
  if (res.loop === 'device') {
    const perStep = (res.readbacks.denoise - 1) / steps;
    return `${perStep.toFixed(perStep === 0 ? 0 : 2)} (+1)`;
  }
  return `${(res.readbacks.denoise / steps).toFixed(2)}`;
}

/** A signed difference in words: "12 ms more" / "12 ms less". */
function moreOrLess(deltaMs: number): string {
  return `${Math.abs(deltaMs).toFixed(0)} ms ${deltaMs >= 0 ? 'more' : 'less'}`;
}

function readbackSentence(res: JobResult, steps: number): string {
  return res.loop === 'device'
    ? `Readbacks in the loop: ${res.readbacks.denoise} for ${steps} steps — the final latents only, ${res.readbacks.denoise - 1} per step.`
    : `Readbacks in the loop: ${res.readbacks.denoise} for ${steps} steps (the CPU loop reads each UNet output back).`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string' },
      frames: { type: 'string' },
      size: { type: 'string' },
      warm: { type: 'string' },
      devices: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
    },
  });
  const opts: Partial<PipelineBenchOptions> = {};
  if (values.steps) opts.steps = Number(values.steps);
  if (values.frames) opts.frames = Number(values.frames);
  if (values.size) opts.size = Number(values.size);
  if (values.warm) opts.warm = Number(values.warm);
  if (values.devices) opts.devices = values.devices.split(',') as PipelineBenchOptions['devices'];
  if (values['no-profile']) opts.profile = false;
  void runPipelineBench(opts).then((md) => console.log(`\n${md}`));
}
