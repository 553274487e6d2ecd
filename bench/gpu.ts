/**
 * Real-size timings through onnxruntime-node's WebGPU EP (Dawn; on NVIDIA through Vulkan — the same EP code as
 * Chrome's), for a machine with a GPU. Not part of CI, and not part of `npm run bench` (it needs a GPU to mean
 * anything); here, on SwiftShader, it runs the tiny preset to prove the script works.
 *
 *   npx tsx bench/gpu.ts [--preset svd-xt|svd|tiny] [--precision q4f16|q4f32|fp16|fp32] [--frames 14,25]
 *                        [--height 576 --width 1024] [--steps 3] [--decode-chunk 7] [--work <dir>] [--device webgpu|cpu]
 *
 * 1. synthesizes a random-weight checkpoint with the preset's real configs (or reuses one in --work), converts it
 *    with our compiler (default q4f16 with fused attention, what a user runs);
 * 2. per frame count: one generation at the given size with `--steps` denoising steps, timed from the pipeline's
 *    own progress events: seconds per UNet step (the first step apart: it compiles the kernels), the decode per
 *    chunk, end to end, session creation;
 * 3. prints one markdown section (bench/results/gpu.md gets a copy).
 *
 * Node has no GPUBuffer interop, so the loop is the CPU-side one (each step reads the UNet output back, 2·F·4·h·w
 * floats: 7.4 MB at 576×1024, 25 frames) — a few milliseconds against seconds of UNet work.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { convertCheckpoint } from '../src/compiler/convert-folder.ts';
import { SYNTH_PRESETS, type SynthPreset } from '../src/compiler/synthetic/configs.ts';
import { synthesizeCheckpoint } from '../src/compiler/synthetic/write.ts';
import { parseManifest, type ModelManifest } from '../src/contract/manifest.ts';
import { generateFrames } from '../src/pipeline/pipeline.ts';
import type { Progress } from '../src/contract/job.ts';
import { validateRequest } from '../src/contract/request.ts';
import { NodeRuntime } from '../src/runtime/node.ts';
import type { ModelRuntime } from '../src/runtime/types.ts';
import { buildWeightless, unetInputs } from './flops.ts';
import { evaluateGraph } from '../src/compiler/onnx/shape-eval.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'svd-xt' },
    precision: { type: 'string', default: 'q4f16' },
    frames: { type: 'string', default: '14,25' },
    height: { type: 'string', default: '576' },
    width: { type: 'string', default: '1024' },
    steps: { type: 'string', default: '3' },
    'decode-chunk': { type: 'string', default: '7' },
    work: { type: 'string', default: join(ROOT, '.cache', 'gpu-bench') },
    device: { type: 'string', default: 'webgpu' },
  },
  strict: true,
});

const preset = args.preset as SynthPreset;
if (!SYNTH_PRESETS.includes(preset)) throw new Error(`--preset must be one of ${SYNTH_PRESETS.join(', ')}`);
const precision = args.precision as ModelManifest['precision'];
if (!['fp32', 'fp16', 'q4f32', 'q4f16'].includes(precision)) throw new Error('--precision must be fp32, fp16, q4f32 or q4f16');
const device = args.device as 'webgpu' | 'cpu';
if (device !== 'webgpu' && device !== 'cpu') throw new Error('--device must be webgpu or cpu');
const frameCounts = args.frames!.split(',').map(Number);
const [height, width, steps, decodeChunk] = [args.height, args.width, args.steps, args['decode-chunk']].map(Number);
const log = (s: string) => console.error(`[gpu-bench] ${s}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

// 1. checkpoint and model
const checkpoint = join(args.work!, `${preset}-f16`);
const modelDir = join(args.work!, `${preset}-${precision}`);
mkdirSync(args.work!, { recursive: true });
let synthMs = 0;
let convertMs = 0;
if (!existsSync(join(checkpoint, 'model_index.json'))) {
  log(`synthesizing ${preset} into ${checkpoint}`);
  const t0 = performance.now();
  synthesizeCheckpoint({ out: checkpoint, preset, dtype: 'f16' });
  synthMs = performance.now() - t0;
}
if (!existsSync(join(modelDir, 'manifest.json'))) {
  log(`converting to ${precision} into ${modelDir}`);
  const t0 = performance.now();
  convertCheckpoint({ from: checkpoint, out: modelDir, precision, attention: 'auto' });
  convertMs = performance.now() - t0;
}
const manifest = parseManifest(JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')));

// 2. generations
interface Run {
  frames: number;
  stepMs: number[];
  decodeMs: number[];
  encodeMs: number;
  loadMs: number;
  unetOpenMs: number;
  totalMs: number;
  error?: string;
}

const image = { width, height, rgba: new Uint8ClampedArray(width * height * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 251)) };
const runs: Run[] = [];
for (const frames of frameCounts) {
  const checked = validateRequest(
    { frames, steps, width, height, decode_chunk: Math.min(decodeChunk, frames), seed: 1, fps: 7, motion: 127, cond_aug: 0.02 },
    { backend: 'local', maxFrames: Math.max(25, frames), defaultFrames: manifest.pipeline.defaultFrames },
  );
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  const node = new NodeRuntime(modelDir, manifest, { device, exactQuantizedMatMul: false });
  // session creation per graph, so the UNet's (made inside the loop, before step 1) can be taken out of step 1
  const openMs: Record<string, number> = {};
  const runtime: ModelRuntime = {
    device: node.device,
    stats: node.stats,
    open: async (graph) => {
      const t = performance.now();
      const session = await node.open(graph);
      openMs[graph] = (openMs[graph] ?? 0) + performance.now() - t;
      return session;
    },
  };
  const marks: { p: Progress; t: number }[] = [];
  const t0 = performance.now();
  const run: Run = { frames, stepMs: [], decodeMs: [], encodeMs: 0, loadMs: 0, unetOpenMs: 0, totalMs: 0 };
  log(`${frames} frames at ${width}×${height}, ${steps} steps on ${device}…`);
  try {
    const result = await generateFrames(runtime, manifest, image, checked.request, { onProgress: (p) => marks.push({ p, t: performance.now() }) });
    run.totalMs = performance.now() - t0;
    run.encodeMs = result.timings.encode;
    run.loadMs = result.timings.load;
    // step i ends at its progress mark; it starts at the mark before (the encode's last mark for step 1)
    const denoise = marks.filter((m) => m.p.stage === 'denoise');
    const lastEncode = marks.filter((m) => m.p.stage === 'encode').at(-1)!;
    denoise.forEach((m, i) => run.stepMs.push(m.t - (i === 0 ? lastEncode.t + (openMs.unet ?? 0) : denoise[i - 1].t)));
    run.unetOpenMs = openMs.unet ?? 0;
    const decode = marks.filter((m) => m.p.stage === 'decode');
    decode.forEach((m, i) => run.decodeMs.push(m.t - (i === 0 ? denoise.at(-1)!.t : decode[i - 1].t)));
  } catch (e) {
    run.error = (e as Error).message;
    run.totalMs = performance.now() - t0;
  }
  log(`  ${run.error ? `FAILED: ${run.error}` : `steps ${run.stepMs.map(seconds).join(', ')}; decode ${run.decodeMs.map(seconds).join(', ')}; total ${seconds(run.totalMs)}`}`);
  runs.push(run);
}

// 3. report
/** FLOPs of one UNet call of this preset's config (CFG batch 2), counted from the graph as bench/flops.ts does. */
const unetGraph = buildWeightless('unet', preset, manifest.attention);
const unetConfig = manifest.sources.unet as { in_channels: number; cross_attention_dim: number };
const unetFlops = (frames: number) => evaluateGraph(unetGraph, unetInputs(2, frames, height, width, unetConfig.in_channels, unetConfig.cross_attention_dim)).totalFlops;
const lines: string[] = [];
lines.push(`### SVD pipeline on ${device === 'webgpu' ? "onnxruntime-node's WebGPU EP" : 'onnxruntime-node CPU'}: synthetic ${preset}, ${precision}, ${width}×${height}, ${steps} steps`);
lines.push('');
lines.push(
  `Machine: ${hostname()}, ${cpus()[0]?.model ?? '?'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
    `GPU: ${process.env.GPU_NAME ?? '(set GPU_NAME, e.g. from nvidia-smi)'}; Vulkan ICD: ${process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? 'default'}. ` +
    `${synthMs ? `Synthesized the checkpoint in ${seconds(synthMs)}; ` : ''}${convertMs ? `converted in ${seconds(convertMs)}; ` : ''}` +
    `graphs ${(manifest.totalBytes / 1e9).toFixed(2)} GB, attention ${manifest.attention}. The loop is the CPU-side one (Node has no GPU-buffer interop).`,
);
lines.push('');
lines.push('| frames | sessions (all) | UNet session | encode | first step (compiles kernels) | later steps, mean | TFLOP/s on the later steps | decode per chunk | end to end |');
lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of runs) {
  if (r.error) {
    lines.push(`| ${r.frames} | FAILED: ${r.error.replace(/\|/g, '\\|').slice(0, 300)} | | | | | | | |`);
    continue;
  }
  const later = r.stepMs.slice(1);
  const mean = later.length ? later.reduce((a, b) => a + b, 0) / later.length : NaN;
  const flop = unetFlops(r.frames);
  const rate = flop && later.length ? `${(flop / (mean / 1000) / 1e12).toFixed(1)}` : '—';
  lines.push(
    `| ${r.frames} | ${seconds(r.loadMs)} | ${seconds(r.unetOpenMs)} | ${seconds(r.encodeMs)} | ${seconds(r.stepMs[0])} | ${later.length ? seconds(mean) : '—'} | ${rate} | ` +
      `${r.decodeMs.map(seconds).join(', ')} | ${seconds(r.totalMs)} |`,
  );
}
lines.push('');
lines.push(
  'A 25-step generation ≈ sessions + encode + first step + 24 × later steps + decode. TFLOP/s counts the UNet call ' +
    'as bench/flops.ts does (our graph, CFG batch 2, multiply-add = 2 FLOPs).',
);
const md = lines.join('\n');
console.log(md);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'gpu.md'), md + '\n');
