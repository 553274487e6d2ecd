/**
 * `npm run bench`: one markdown report of every benchmark, also written to bench/results/latest.md.
 *   npx tsx bench/run.ts [--only pipeline,kernels,flops,mux,heap,convert,hub,sessions,attention] [--no-build]
 *
 * Sections (each also runnable alone, e.g. `npx tsx bench/pipeline.ts`):
 *   pipeline — generation-worker overhead, readbacks per step, time per stage (tiny model, Chromium, WebGPU + wasm)
 *   kernels  — GPU time per program of one demo-UNet call on the WebGPU EP (onnxruntime-node; SwiftShader here)
 *   flops    — FLOPs of one SVD-XT UNet call at 576×1024, 14 and 25 frames, counted from the graph
 *   mux      — 25 frames of 1024×576 to MP4: WebCodecs VideoEncoder and ffmpeg.wasm in Chromium, native ffmpeg
 *   sessions — session creation of the demo graphs in onnxruntime-node, with and without named intermediate shapes
 *   heap     — JS heap while creating the sessions of the synthetic full-size SVD-XT (≥ 1 GB external data), and of its
 *              UNet in the 3 parts the device loop makes
 *   attention — chunked attention at full size: chunks, nodes, rewrite and session creation (bench/attention.ts)
 *   convert  — bench/convert.ts: synthetic SVD-XT → q4f16 (time, peak RSS, sizes)
 *   hub      — bench/hub.ts: the same checkpoint through a fake Hub, downloaded and converted in a tab (q4f16, q4f32)
 *              vs the CLI (time, JS-held memory, OPFS), then one generation with it (wasm, WebGPU)
 * Runs in the order convert, flops, sessions, attention, kernels, pipeline, mux, heap, hub (attention and heap read convert's
 * output), prints in the order above.
 * bench/results/latest.md gets the report; with --only, the other sections of the previous latest.md are kept.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../e2e/harness.ts';
import { CHROMIUM } from '../e2e/support/browser.ts';
import { runPipelineBench, openBenchApp, type BenchApp } from './pipeline.ts';
import { runFlops } from './flops.ts';
import { runMuxBench } from './mux.ts';
import { runHeapBench } from './heap.ts';
import { runSessionsBench } from './sessions.ts';
import { runAttentionBench } from './attention.ts';
import { kernelMarkdown, profileUnet, SWIFTSHADER_ICD } from './kernels.ts';

const SECTIONS = ['pipeline', 'kernels', 'flops', 'sessions', 'attention', 'mux', 'heap', 'convert', 'hub'] as const;
type Section = (typeof SECTIONS)[number];
const ORDER: Section[] = ['convert', 'flops', 'sessions', 'attention', 'kernels', 'pipeline', 'mux', 'heap', 'hub'];

const { values } = parseArgs({ options: { only: { type: 'string' }, 'no-build': { type: 'boolean', default: false } }, strict: true });
const only = values.only ? (values.only.split(',').map((s) => s.trim()) as Section[]) : [...SECTIONS];
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}" (choose from ${SECTIONS.join(', ')})`);

const log = (s: string) => console.error(`[bench] ${s}`);
const results = new Map<Section, { markdown: string; seconds: number }>();
const loads: number[][] = [loadavg()];
let adapterLine = 'not probed (no browser section run)';
let chromiumVersion = 'not started';

/** A bench script in a child process; its report is everything from its `heading` on. */
function runChild(script: string, heading: string, extra: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, script), ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      const i = out.indexOf(heading);
      resolve(i >= 0 ? out.slice(i).trim() : out.trim());
    });
  });
}

function cpuModel(): string {
  try {
    return /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model ?? '?';
  } catch {
    return cpus()[0]?.model ?? '?';
  }
}

let app: BenchApp | undefined;
const browserApp = async (): Promise<BenchApp> => {
  if (!app) {
    app = await openBenchApp({ log, reuse: values['no-build'] });
    chromiumVersion = app.browser.version();
    const a = await app.harness('adapterInWorker').catch((e: Error) => ({ ok: false, error: e.message }) as never);
    adapterLine = a.ok
      ? `${a.vendor} ${a.architecture}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}${a.description ? ` "${a.description}"` : ''}, shader-f16 ${a.features?.includes('shader-f16') ? 'yes' : 'no'}, maxBufferSize ${((a.maxBufferSize ?? 0) / 2 ** 30).toFixed(2)} GiB`
      : `none (${a.error})`;
  }
  return app;
};

try {
  for (const section of ORDER) {
    if (!only.includes(section)) continue;
    const t0 = performance.now();
    log(`${section}: start (load average ${loadavg().map((l) => l.toFixed(2)).join(', ')})`);
    let markdown: string;
    try {
      switch (section) {
        case 'convert':
          markdown = await runChild('bench/convert.ts', '### Converting');
          break;
        case 'hub':
          await app?.close();
          app = undefined;
          markdown = await runChild('bench/hub.ts', '### In-tab', ['--precisions', 'q4f16,q4f32', '--devices', 'wasm,webgpu', '--generate-timeout', '420']);
          break;
        case 'flops':
          markdown = await runFlops(log);
          break;
        case 'sessions':
          markdown = await runSessionsBench();
          break;
        case 'attention':
          markdown = await runAttentionBench();
          break;
        case 'kernels': {
          // the parity job's step (32×32 latents, CFG) and the small jobs' (8×8): docs/swiftshader-profile.md
          process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
          const modelDir = join(ROOT, 'public', 'models', 'tiny-random');
          const parts = ['### GPU time per kernel, one UNet call (bench/kernels.ts)', ''];
          for (const latent of [32, 8]) {
            parts.push(kernelMarkdown(await profileUnet({ modelDir, latentHeight: latent, latentWidth: latent, frames: 3, batch: 2, runs: 1 })), '');
          }
          markdown = parts.join('\n').trim();
          break;
        }
        case 'pipeline':
          markdown = await runPipelineBench({}, log, await browserApp());
          break;
        case 'mux':
          markdown = await runMuxBench({}, log, await browserApp());
          break;
        case 'heap': {
          // its own browser (a persistent profile, to find its processes); close the shared one first to free memory
          await app?.close();
          app = undefined;
          const r = await runHeapBench({}, log);
          markdown = `${r.markdown}\n\n${(await runHeapBench({ splitUnet: 3 }, log)).markdown}`;
          const a = r.adapter as { vendor?: string; architecture?: string; isFallbackAdapter?: boolean; features?: string[]; maxBufferSize?: number } | undefined;
          if (a && adapterLine.startsWith('not probed')) {
            adapterLine = `${a.vendor} ${a.architecture}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}, shader-f16 ${a.features?.includes('shader-f16') ? 'yes' : 'no'}, maxBufferSize ${((a.maxBufferSize ?? 0) / 2 ** 30).toFixed(2)} GiB`;
          }
          break;
        }
      }
    } catch (e) {
      markdown = `### ${section}\n\nFAILED: ${(e as Error).stack ?? (e as Error).message}`;
    }
    const seconds = (performance.now() - t0) / 1000;
    loads.push(loadavg());
    results.set(section, { markdown, seconds });
    log(`${section}: done in ${seconds.toFixed(0)} s`);
  }
} finally {
  await app?.close();
}

if (chromiumVersion === 'not started') {
  try {
    chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    chromiumVersion = 'unknown';
  }
}

const maxLoad = Math.max(...loads.map((l) => l[0]));
const header = [
  '## Performance',
  '',
  `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpuModel()}, ${cpus().length} cores, ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, no GPU; node ${process.version}; Chromium ${chromiumVersion}; WebGPU adapter: ${adapterLine}. ` +
    `The machine was shared with other work while this ran: 1-minute load average ${loads.map((l) => l[0].toFixed(1)).join(' → ')} ` +
    `(max ${maxLoad.toFixed(1)} on ${cpus().length} cores), so absolute times are pessimistic (the overhead ratios less so; readback counts and FLOPs not at all).`,
  '',
  `Sections: ${SECTIONS.filter((s) => results.has(s)).map((s) => `${s} (${results.get(s)!.seconds.toFixed(0)} s)`).join(', ')}.`,
];
const marked = (s: Section, md: string) => `<!-- bench:${s} -->\n${md}\n<!-- /bench:${s} -->`;
const report = [...header, '', ...SECTIONS.filter((s) => results.has(s)).flatMap((s) => [marked(s, results.get(s)!.markdown), ''])].join('\n');
console.log(report);

// bench/results/latest.md: the sections run now replace theirs; with --only, the others are kept from the last run
const latest = join(ROOT, 'bench', 'results', 'latest.md');
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
let merged = report;
if (values.only) {
  let previous = '';
  try {
    previous = readFileSync(latest, 'utf8');
  } catch {
    /* first run */
  }
  const kept = (s: Section) => new RegExp(`<!-- bench:${s} -->[\\s\\S]*?<!-- /bench:${s} -->`).exec(previous)?.[0];
  const body = SECTIONS.map((s) => (results.has(s) ? marked(s, results.get(s)!.markdown) : kept(s))).filter((x): x is string => !!x);
  const kept_ = SECTIONS.filter((s) => !results.has(s) && kept(s));
  merged = [...header, ...(kept_.length ? ['', `(${kept_.join(', ')}: kept from the previous run of bench/results/latest.md.)`] : []), '', ...body.flatMap((b) => [b, ''])].join('\n');
}
writeFileSync(latest, merged);
log('written to bench/results/latest.md');
