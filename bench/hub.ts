/**
 * The Hub download + in-tab conversion at full size (issue 13, must-show 2; not CI):
 *   npx tsx bench/hub.ts [--precisions q4f32,q4f16] [--devices wasm,webgpu] [--no-generate] [--no-build]
 *
 * 1. a synthetic SVD-XT-sized checkpoint (`svd-web synth --preset svd-xt`, fp16 files, 4.5 GB; cached with
 *    bench/convert.ts's in /tmp/svd-web-bench) in the official layout;
 * 2. `svd-web convert` of it at each precision, as a child process: wall time and peak RSS;
 * 3. the same checkpoint served by the fake Hub (e2e/support/hub-server.ts: model API, 302 to a second origin, Range),
 *    files read from disk; Chromium (a persistent profile, to find its processes) opens models-harness.html and runs
 *    the in-tab download + conversion (downloadFromHub) at each precision, sampled every 200 ms: the download worker's
 *    JS heap through CDP (used + ArrayBuffer backing stores = "JS-held"; the worker cannot answer while it compiles a
 *    graph synchronously, so those samples are missing and the renderer's RSS — which contains the worker — is the
 *    bound given for them), the renderer and GPU processes' RSS, and navigator.storage.estimate().usage (peak OPFS);
 *    the converted manifest.json must equal the CLI's byte for byte (every file's sha256 is in it, and the tab
 *    re-hashed every stored file against it);
 * 4. with the last converted model, one generation in the same browser at the smallest size the model allows
 *    (128×64, 2 frames, 2 steps, CFG) on the wasm EP and, with --devices webgpu, on the WebGPU EP: seconds per stage
 *    and the renderer's peak RSS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { preview } from 'vite';
import { ROOT } from '../e2e/harness.ts';
import { launchPersistentBrowser } from '../e2e/support/browser.ts';
import { startHubServer, type DiskFile } from '../e2e/support/hub-server.ts';
import { synthesizeCheckpoint } from '../src/compiler/synthetic/write.ts';
import { formatBytes, formatSeconds } from '../src/common/format.ts';
import { attachWorkers, browserProcesses, procMem, type WorkerTarget } from './heap.ts';
import { BENCH_DIST } from './pipeline.ts';

const CACHE = join(tmpdir(), 'svd-web-bench');
const CKPT = join(CACHE, 'checkpoint-svd-xt-f16');
const REPO = 'stabilityai/stable-video-diffusion-img2vid-xt';
const GOALS = { wallRatio: 1.5, jsHeldBytes: 1e9 };

const { values: args } = parseArgs({
  options: {
    precisions: { type: 'string', default: 'q4f32,q4f16' },
    devices: { type: 'string', default: 'wasm' },
    'no-generate': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    /** a generation that has not finished by then is reported as such (SwiftShader runs a full-size UNet for hours) */
    'generate-timeout': { type: 'string', default: '900' },
  },
  strict: true,
});
const precisions = args.precisions!.split(',') as ('q4f32' | 'q4f16')[];
const devices = args.devices!.split(',') as ('wasm' | 'webgpu')[];
const log = (s: string) => console.error(`[hub bench] ${s}`);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

// 1. the checkpoint
if (!existsSync(join(CKPT, 'unet', 'diffusion_pytorch_model.fp16.safetensors'))) {
  log(`synthesizing the SVD-XT-sized checkpoint into ${CKPT} (minutes)`);
  rmSync(CKPT, { recursive: true, force: true });
  synthesizeCheckpoint({ out: CKPT, preset: 'svd-xt', dtype: 'f16', seed: 0 });
}
const ckptFiles = filesUnder(CKPT).filter((f) => !f.endsWith('.bench-stamp'));
const ckptBytes = ckptFiles.reduce((a, f) => a + statSync(f).size, 0);
log(`checkpoint: ${ckptFiles.length} files, ${formatBytes(ckptBytes)}`);

// 2. the CLI
interface CliRun {
  wallSeconds: number;
  peakRssBytes?: number;
  outDir: string;
}
function runCli(precision: string): Promise<CliRun> {
  const outDir = join(CACHE, `hub-cli-${precision}`);
  rmSync(outDir, { recursive: true, force: true });
  const node = [join(ROOT, 'bin', 'svd-web.js'), 'convert', '--from', CKPT, '--out', outDir, '--precision', precision];
  const time = existsSync('/usr/bin/time');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(time ? '/usr/bin/time' : process.execPath, time ? ['-v', process.execPath, ...node] : node, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`svd-web convert exited with ${code}: ${err.slice(-2000)}`));
      const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1];
      resolve({ wallSeconds: (performance.now() - t0) / 1000, peakRssBytes: kb ? Number(kb) * 1024 : undefined, outDir });
    });
  });
}

// 3. the tab
interface TabRun {
  precision: string;
  wallSeconds: number;
  stats: Record<string, unknown> & { convertMs: number; verifyMs: number; waitMs?: number; networkBytes: number };
  peakJsHeld: number;
  heapSamples: number;
  samples: number;
  peakRenderer: number;
  peakGpu: number;
  peakOpfs: number;
  opfsBefore: number;
  sameManifest: boolean;
}

interface RunSummary {
  done: boolean;
  error?: { code: string; message: string };
  result?: { stats: TabRun['stats'] };
}

const call = <T,>(page: Page, method: string, ...a: unknown[]) =>
  page.evaluate(([m, x]) => (globalThis as unknown as { __svdModels: Record<string, (...y: unknown[]) => unknown> }).__svdModels[m](...x), [method, a] as [string, unknown[]]) as Promise<T>;

async function main(): Promise<void> {
  const cli = new Map<string, CliRun>();
  for (const p of precisions) {
    log(`svd-web convert --precision ${p}`);
    const r = await runCli(p);
    cli.set(p, r);
    log(`  ${formatSeconds(r.wallSeconds)}, peak RSS ${r.peakRssBytes ? formatBytes(r.peakRssBytes) : '?'}`);
  }

  if (!args['no-build'] || !existsSync(join(BENCH_DIST, 'models-harness.html'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', BENCH_DIST, '--emptyOutDir', '--logLevel', 'error'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const files: Record<string, DiskFile> = Object.fromEntries(ckptFiles.map((f) => [relative(CKPT, f), { file: f }]));
  log('fake Hub: hashing the checkpoint');
  const hub = await startHubServer({ repos: [{ repo: REPO, files }] });
  const server = await preview({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: BENCH_DIST }, preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  const origin = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
  const userDataDir = mkdtempSync(join(tmpdir(), 'svd-hub-bench-profile-'));
  const context = await launchPersistentBrowser(userDataDir);
  const tab: TabRun[] = [];
  const generations: Record<string, unknown>[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    await page.goto(`${origin}/models-harness.html`, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => '__svdModels' in globalThis, undefined, { timeout: 30_000 });
    const cdp = await context.newCDPSession(page);
    const nextWorker = await attachWorkers(cdp, 'svd-model-download');
    let lastId = '';
    for (const precision of precisions) {
      const id = `svd-xt-bench-${precision}`;
      for (const old of [lastId, id]) if (old) await call(page, 'remove', old);
      const opfsBefore = await call<number>(page, 'usage');
      const samples: { heap?: number; renderer: number; gpu: number; opfs?: number }[] = [];
      // the two download workers of a Hub job (stager, converter): their heaps are summed
      const workers: WorkerTarget[] = [];
      void nextWorker().then((w) => workers.push(w));
      void nextWorker().then((w) => workers.push(w));
      let busyHeap = false;
      let busyOpfs = false;
      const timer = setInterval(() => {
        const procs = browserProcesses(userDataDir);
        const sum = (t: string) => procs.filter((p) => p.type === t).reduce((a, p) => a + (procMem(p.pid)?.rss ?? 0), 0);
        const s: (typeof samples)[number] = { renderer: sum('renderer'), gpu: sum('gpu-process') };
        samples.push(s);
        if (!busyOpfs) {
          busyOpfs = true;
          void call<number>(page, 'usage').then((u) => (s.opfs = u), () => undefined).finally(() => (busyOpfs = false));
        }
        if (busyHeap || workers.length === 0) return;
        busyHeap = true;
        void (async () => {
          try {
            const heaps = await Promise.all(
              workers.map((w) => Promise.race([w.send<{ usedSize: number; backingStorageSize?: number }>('Runtime.getHeapUsage'), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))])),
            );
            // a sample counts only when every worker answered (a worker compiling a graph may not)
            if (heaps.every((h) => h)) s.heap = heaps.reduce((a, h) => a + h!.usedSize + (h!.backingStorageSize ?? 0), 0);
          } catch {
            /* gone */
          } finally {
            busyHeap = false;
          }
        })();
      }, 200);
      log(`in-tab download + conversion, ${precision}`);
      const t0 = performance.now();
      await call(page, 'startHub', id, { id, label: `SVD-XT (bench) ${precision}`, repo: REPO, revision: 'main', precision, hubUrl: hub.hubUrl });
      const run = await call<RunSummary>(page, 'wait', id, 3_600_000);
      const wallSeconds = (performance.now() - t0) / 1000;
      clearInterval(timer);
      if (!run.done || run.error) throw new Error(`in-tab conversion failed: ${JSON.stringify(run.error)}`);
      const manifest = await page.evaluate(async (modelId) => {
        interface Dir {
          getDirectoryHandle(n: string): Promise<Dir>;
          getFileHandle(n: string): Promise<{ getFile(): Promise<{ text(): Promise<string> }> }>;
        }
        const storage = (globalThis as unknown as { navigator: { storage: { getDirectory(): Promise<Dir> } } }).navigator.storage;
        const dir = await (await (await storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(modelId);
        return (await (await dir.getFileHandle('manifest.json')).getFile()).text();
      }, id);
      const max = (xs: (number | undefined)[]) => xs.reduce<number>((a, b) => Math.max(a, b ?? 0), 0);
      const r: TabRun = {
        precision,
        wallSeconds,
        stats: run.result!.stats,
        peakJsHeld: max(samples.map((s) => s.heap)),
        heapSamples: samples.filter((s) => s.heap !== undefined).length,
        samples: samples.length,
        peakRenderer: max(samples.map((s) => s.renderer)),
        peakGpu: max(samples.map((s) => s.gpu)),
        peakOpfs: max(samples.map((s) => s.opfs)) - opfsBefore,
        opfsBefore,
        sameManifest: manifest === readFileSync(join(cli.get(precision)!.outDir, 'manifest.json'), 'utf8'),
      };
      tab.push(r);
      log(`  stats ${JSON.stringify(r.stats)}`);
      log(`  ${formatSeconds(wallSeconds)} (CLI ${formatSeconds(cli.get(precision)!.wallSeconds)}), JS-held peak ${formatBytes(r.peakJsHeld)} (${r.heapSamples}/${r.samples} samples), renderer ${formatBytes(r.peakRenderer)}, OPFS peak ${formatBytes(r.peakOpfs)}, same manifest as the CLI: ${r.sameManifest}`);
      lastId = id;
    }

    // 4. one generation with the last model, in the same browser (harness.html, same origin: same OPFS)
    if (!args['no-generate']) {
      const gen = await context.newPage();
      const openHarness = async () => {
        await gen.goto(`${origin}/harness.html`, { waitUntil: 'load', timeout: 60_000 });
        await gen.waitForFunction(() => '__svdHarness' in globalThis, undefined, { timeout: 30_000 });
      };
      const w = 128;
      const h = 64;
      const rgba: number[] = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.push((x * 255) / w, (y * 255) / h, 128, 255);
      for (const device of devices) {
        await openHarness(); // a fresh page per device: nothing of the previous run's memory counted
        const peak = { renderer: 0, gpu: 0 };
        const timer = setInterval(() => {
          const procs = browserProcesses(userDataDir);
          const sum = (t: string) => procs.filter((p) => p.type === t).reduce((a, p) => a + (procMem(p.pid)?.rss ?? 0), 0);
          peak.renderer = Math.max(peak.renderer, sum('renderer'));
          peak.gpu = Math.max(peak.gpu, sum('gpu-process'));
        }, 200);
        log(`generation on ${device}: ${w}×${h}, 2 frames, 2 steps`);
        const t0 = performance.now();
        const limit = Number(args['generate-timeout']) * 1000;
        const report = await Promise.race([gen.evaluate(
          (req) => (globalThis as unknown as { __svdHarness: { pipeline(r: unknown): Promise<unknown> } }).__svdHarness.pipeline(req),
          {
            modelBaseUrl: '',
            modelId: lastId,
            device,
            jobs: [{ image: { width: w, height: h, rgba }, request: { fps: 7, motion: 127, cond_aug: 0.02, frames: 2, steps: 2, min_guidance: 1, max_guidance: 3, width: w, height: h, decode_chunk: 2, seed: 1 } }],
          },
        ).catch((e: Error) => ({ error: e.message })), new Promise((r) => setTimeout(() => r({ error: `not finished after ${limit / 1000} s` }), limit))]);
        clearInterval(timer);
        if ((report as { error?: string }).error?.startsWith('not finished')) {
          // stop the job: a fresh page (the old one's worker goes with it)
          await gen.goto('about:blank').catch(() => undefined);
        }
        const seconds = (performance.now() - t0) / 1000;
        generations.push({ device, seconds, peakRenderer: peak.renderer, peakGpu: peak.gpu, report });
        log(`  ${formatSeconds(seconds)}: ${JSON.stringify((report as { jobs?: { result?: { timings: unknown }; error?: unknown }[] }).jobs?.[0]?.result?.timings ?? report).slice(0, 400)}`);
      }
    }
  } finally {
    await context.close().catch(() => undefined);
    await server.close();
    await hub.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }

  // the report
  const lines = [
    '### In-tab download + conversion of a full-size checkpoint (bench/hub.ts)',
    '',
    `Synthetic SVD-XT checkpoint (\`svd-web synth --preset svd-xt\`, fp16 files, ${formatBytes(ckptBytes)}) served by the fake Hub on this machine (loopback). ` +
      `The tab runs two download workers at once (the stager downloads, the converter converts what has arrived). JS-held = both workers' V8 heaps + ArrayBuffer backing stores (CDP), sampled every 200 ms when both answer (a worker compiling a graph may not); renderer RSS contains the workers and bounds them. "convert" is the converter's compile time, "waited" its time waiting for downloads.`,
    '',
    '| precision | CLI wall | CLI peak RSS | tab wall (download + convert + verify) | tab / CLI | convert (/ CLI) | waited | verify | JS-held peak (samples) | renderer peak RSS | OPFS peak | same files as the CLI |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...tab.map((t) => {
      const c = cli.get(t.precision)!;
      return `| ${t.precision} | ${formatSeconds(c.wallSeconds)} | ${c.peakRssBytes ? formatBytes(c.peakRssBytes) : '?'} | ${formatSeconds(t.wallSeconds)} | ${(t.wallSeconds / c.wallSeconds).toFixed(2)}× (goal ≤ ${GOALS.wallRatio}×) | ${formatSeconds(t.stats.convertMs / 1000)} (${(t.stats.convertMs / 1000 / c.wallSeconds).toFixed(2)}×) | ${formatSeconds((t.stats.waitMs ?? 0) / 1000)} | ${formatSeconds(t.stats.verifyMs / 1000)} | ${formatBytes(t.peakJsHeld)} (${t.heapSamples}/${t.samples}) | ${formatBytes(t.peakRenderer)} | ${formatBytes(t.peakOpfs)} | ${t.sameManifest ? 'yes (manifest.json identical)' : 'NO'} |`;
    }),
  ];
  if (generations.length) {
    lines.push('', `Then, with the ${tab[tab.length - 1]?.precision} model in the same browser: one generation at 128×64, 2 frames, 2 steps with CFG.`, '', '| device | wall | stages (s) | renderer peak RSS | GPU process peak RSS |', '|---|---|---|---|---|');
    for (const g of generations) {
      const job = (g.report as { jobs?: { result?: { timings: Record<string, number> }; error?: { message: string } }[]; error?: string }).jobs?.[0];
      const stages = job?.result ? Object.entries(job.result.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ') : `failed: ${job?.error?.message ?? (g.report as { error?: string }).error}`;
      lines.push(`| ${g.device} | ${formatSeconds(g.seconds as number)} | ${stages} | ${formatBytes(g.peakRenderer as number)} | ${formatBytes(g.peakGpu as number)} |`);
    }
  }
  console.log(lines.join('\n'));
}

mkdirSync(CACHE, { recursive: true });
await main();
