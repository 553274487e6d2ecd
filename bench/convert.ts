/**
 * Conversion benchmark at full size (the issue's must-show 3; not part of CI):
 *   npx tsx bench/convert.ts [--preset svd-xt|svd|tiny] [--precision q4f16|q4f32|fp16|fp32] [--cache <dir>] [--profile] [--no-ort]
 *
 * 1. synthesizes a random-weight checkpoint with the preset's real configs into a cache folder (reused while the
 *    generator and the architecture code are unchanged);
 * 2. runs `svd-web convert` on it AS A CHILD PROCESS, under `/usr/bin/time -v` when present (else polling
 *    /proc/<pid>/status VmHWM), for wall time, CPU time and peak RSS; `--profile` adds a V8 CPU profile of the
 *    child and prints where its time went;
 * 3. lists every output file and each graph's total, checks the goals (all four graphs ≤ 1.6 GB, UNet ≤ 1 GB,
 *    peak RSS ≤ 2 GB, ≤ 3 min on 2 cores);
 * 4. opens every graph in onnxruntime-node (InferenceSession.create on the CPU EP; creation only) and times it;
 * 5. prints a markdown table for the README.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { SYNTH_PRESETS, type SynthPreset } from '../src/compiler/synthetic/configs.ts';
import { synthesizeCheckpoint } from '../src/compiler/synthetic/write.ts';
import { GRAPH_NAMES, type ModelManifest } from '../src/contract/manifest.ts';
import { ProgressBar } from '../src/cli/progress.ts';
import { formatBytes, formatSeconds } from '../src/common/format.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'svd-web.js');

const GOALS = { allGraphsBytes: 1.6e9, unetBytes: 1e9, peakRssBytes: 2e9, wallSeconds: 180 };

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'svd-xt' },
    precision: { type: 'string', default: 'q4f16' },
    cache: { type: 'string', default: join(tmpdir(), 'svd-web-bench') },
    profile: { type: 'boolean', default: false },
    'no-ort': { type: 'boolean', default: false },
  },
  strict: true,
});
const preset = args.preset as SynthPreset;
if (!SYNTH_PRESETS.includes(preset)) throw new Error(`--preset must be one of ${SYNTH_PRESETS.join(', ')}`);
const precision = args.precision!;
if (!['fp32', 'fp16', 'q4f32', 'q4f16'].includes(precision)) throw new Error('--precision must be fp32, fp16, q4f32 or q4f16');

// ---------------------------------------------------------------------------------------------------------
// 1. the synthetic checkpoint (cached)

function filesUnder(path: string): string[] {
  return statSync(path).isDirectory() ? readdirSync(path).sort().flatMap((n) => filesUnder(join(path, n))) : [path];
}

/** Changes whenever what the generator writes could change: the generator, the architectures, the graph layers. */
function generatorStamp(): string {
  const h = createHash('sha256').update(`${preset}|f16|seed0\n`);
  const sources = [...filesUnder(join(ROOT, 'src/compiler/synthetic')), join(ROOT, 'src/io/safetensors.ts'), join(ROOT, 'src/compiler/onnx/nn.ts'), ...filesUnder(join(ROOT, 'src/compiler/architectures'))];
  for (const f of sources) h.update(f.slice(ROOT.length)).update(readFileSync(f));
  return h.digest('hex');
}

mkdirSync(args.cache!, { recursive: true });
const ckptDir = join(args.cache!, `checkpoint-${preset}-f16`);
const stampPath = join(ckptDir, '.bench-stamp');
const stamp = generatorStamp();
if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
  console.log(`checkpoint: reusing ${ckptDir}`);
} else {
  rmSync(ckptDir, { recursive: true, force: true });
  const bar = new ProgressBar(`synthesizing ${preset}`);
  const t0 = performance.now();
  const r = synthesizeCheckpoint({
    out: ckptDir,
    preset,
    dtype: 'f16',
    seed: 0,
    onProgress: (p) => bar.update(p.doneBytes, p.totalBytes, `${p.component} ${formatBytes(p.doneBytes)}/${formatBytes(p.totalBytes)}`),
  });
  bar.done(`synthesized ${ckptDir}: ${formatBytes(r.totalBytes)} in ${formatSeconds((performance.now() - t0) / 1000)}`);
  writeFileSync(stampPath, stamp);
}
const inputBytes = filesUnder(ckptDir).reduce((a, f) => a + statSync(f).size, 0);

// ---------------------------------------------------------------------------------------------------------
// 2. convert in a child process

interface ChildStats {
  wallSeconds: number;
  peakRssBytes: number;
  userSeconds?: number;
  systemSeconds?: number;
  cpuPercent?: string;
  how: string;
}

const outDir = join(args.cache!, `model-${preset}-${precision}`);
rmSync(outDir, { recursive: true, force: true });
const profDir = join(args.cache!, 'cpu-profile');
rmSync(profDir, { recursive: true, force: true });

async function convertInChild(): Promise<ChildStats> {
  const nodeArgs = [...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), BIN, 'convert', '--from', ckptDir, '--out', outDir, '--precision', precision];
  const timeFile = join(args.cache!, 'time-v.txt');
  rmSync(timeFile, { force: true });
  const useTime = existsSync('/usr/bin/time');
  const [cmd, cmdArgs] = useTime ? ['/usr/bin/time', ['-v', '-o', timeFile, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const t0 = performance.now();
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit'] });
  // /proc polling: the fallback without /usr/bin/time. The pid is node's only when it is spawned directly.
  let polledHwm = 0;
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) polledHwm = Math.max(polledHwm, Number(m[1]) * 1024);
        } catch {
          /* exited */
        }
      }, 50);
  const code: number = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (poll) clearInterval(poll);
  if (code !== 0) throw new Error(`svd-web convert exited with ${code}`);
  if (!useTime) return { wallSeconds, peakRssBytes: polledHwm, how: 'polled /proc/<pid>/status VmHWM every 50 ms' };
  const t = readFileSync(timeFile, 'utf8');
  const field = (re: RegExp) => re.exec(t)?.[1];
  return {
    wallSeconds,
    peakRssBytes: Number(field(/Maximum resident set size \(kbytes\): (\d+)/)) * 1024,
    userSeconds: Number(field(/User time \(seconds\): ([\d.]+)/)),
    systemSeconds: Number(field(/System time \(seconds\): ([\d.]+)/)),
    cpuPercent: field(/Percent of CPU this job got: (\S+)/),
    how: '/usr/bin/time -v',
  };
}

console.log(`\nconverting with: node ${BIN} convert --from ${ckptDir} --out ${outDir} --precision ${precision}`);
const stats = await convertInChild();

// ---------------------------------------------------------------------------------------------------------
// 3. sizes

const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as ModelManifest;
const sizeOf = (f: string) => statSync(join(outDir, f)).size;
const graphRows = GRAPH_NAMES.map((name) => {
  const g = manifest.graphs[name];
  const files = [g.model, ...g.externalData];
  return { name, model: sizeOf(g.model), data: g.externalData.map(sizeOf), total: files.reduce((a, f) => a + sizeOf(f), 0), nodes: g.nodeCount, files };
});
const graphsTotal = graphRows.reduce((a, r) => a + r.total, 0);
const unetTotal = graphRows.find((r) => r.name === 'unet')!.total;
const allFiles = readdirSync(outDir).sort();
const largest = Math.max(...allFiles.map(sizeOf));

// ---------------------------------------------------------------------------------------------------------
// 4. onnxruntime-node session creation

const ortTimes = new Map<string, number | string>();
if (!args['no-ort']) {
  for (const r of graphRows) {
    const t0 = performance.now();
    try {
      const session = await ort.InferenceSession.create(join(outDir, r.files[0]), { executionProviders: ['cpu'] });
      ortTimes.set(r.name, (performance.now() - t0) / 1000);
      await session.release();
    } catch (e) {
      ortTimes.set(r.name, `FAILED: ${(e as Error).message.split('\n')[0]}`);
    }
    console.log(`ort: ${r.name} ${typeof ortTimes.get(r.name) === 'number' ? `${(ortTimes.get(r.name) as number).toFixed(1)} s` : ortTimes.get(r.name)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// 5. report

const gb = (n: number) => `${(n / 1e9).toFixed(3)} GB`;
const mark = (ok: boolean) => (ok ? 'yes' : '**no**');
const cpuModel = cpus()[0]?.model?.trim() ?? '?';
const lines: string[] = [];
lines.push(`### Converting synthetic ${preset} to ${precision}`);
lines.push('');
lines.push(
  `Machine: ${cpus().length} × ${cpuModel}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, onnxruntime-node ${ort.env.versions?.common ?? '?'}. ` +
    `Input: ${formatBytes(inputBytes)} of f16 safetensors. Measured with ${stats.how}.`,
);
lines.push('');
lines.push('| graph | .onnx | external data | total | nodes | ORT-node session create |');
lines.push('|---|---:|---|---:|---:|---:|');
for (const r of graphRows) {
  const o = ortTimes.get(r.name);
  const ortCell = o === undefined ? 'not run' : typeof o === 'number' ? `${o.toFixed(1)} s` : o;
  lines.push(`| ${r.name} | ${formatBytes(r.model)} | ${r.data.map(formatBytes).join(' + ') || '—'} | ${gb(r.total)} | ${r.nodes} | ${ortCell} |`);
}
lines.push(`| **all four** | | | **${gb(graphsTotal)}** | | |`);
lines.push('');
lines.push('| goal | target | measured | met |');
lines.push('|---|---|---|---|');
lines.push(`| all four graphs | ≤ 1.6 GB | ${gb(graphsTotal)} | ${mark(graphsTotal <= GOALS.allGraphsBytes)} |`);
lines.push(`| UNet | ≤ 1 GB | ${gb(unetTotal)} | ${mark(unetTotal <= GOALS.unetBytes)} |`);
lines.push(`| peak RSS of \`svd-web convert\` | ≤ 2 GB | ${gb(stats.peakRssBytes)} | ${mark(stats.peakRssBytes <= GOALS.peakRssBytes)} |`);
lines.push(
  `| wall time | ≤ 3 min on 2 cores | ${formatSeconds(stats.wallSeconds)} on ${cpus().length} cores` +
    (stats.userSeconds !== undefined ? ` (user ${stats.userSeconds.toFixed(1)} s, sys ${stats.systemSeconds!.toFixed(1)} s, CPU ${stats.cpuPercent})` : '') +
    ` | ${mark(stats.wallSeconds <= GOALS.wallSeconds)} |`,
);
lines.push(`| largest file | ≤ 1 GiB | ${formatBytes(largest)} | ${mark(largest <= 2 ** 30)} |`);
const allOpened = [...ortTimes.values()].every((v) => typeof v === 'number');
lines.push(`| every graph opens in onnxruntime-node | | ${args['no-ort'] ? 'not run (--no-ort)' : allOpened ? 'all four' : 'FAILED'} | ${args['no-ort'] ? '—' : mark(allOpened)} |`);
lines.push('');
lines.push('Every output file:');
lines.push('');
lines.push('| file | bytes |');
lines.push('|---|---:|');
for (const f of allFiles) lines.push(`| ${f} | ${sizeOf(f).toLocaleString('en-US')} |`);

console.log(`\n${lines.join('\n')}\n`);

if (args.profile) {
  const prof = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (prof) console.log(summarizeProfile(join(profDir, prof)));
}

/** Self time per function of a V8 .cpuprofile, top 20. */
function summarizeProfile(path: string): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, 20);
  return [`CPU profile of the child (${path}), self time:`, ...rows.map(([k, t]) => `  ${(t / 1e6).toFixed(2).padStart(7)} s ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)].join('\n');
}
