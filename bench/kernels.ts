/**
 * Where the GPU time of one UNet call goes, kernel by kernel, on the WebGPU EP.
 *   npx tsx bench/kernels.ts [--model public/models/tiny-random] [--latent 32x32] [--frames 3] [--batch 2] [--runs 1]
 *
 * Runs the UNet in onnxruntime-node's WebGPU EP (the same native EP code as Chromium's; here through SwiftShader, the
 * CPU emulation CI has) with ORT's profiler on. With a profiler the EP brackets every dispatch with GPU timestamps; those
 * events (category "Api", one per dispatched program) are what this report sums: time on the device per program, not
 * the CPU time spent queueing it. Sessions get the job's fixed shapes (freeDimensionOverrides), as the app's device loop does.
 * Printed: node count, dispatches, GPU total, wall time of run(), and the programs by GPU time with their calls.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { parseManifest } from '../src/contract/manifest.ts';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
/** Debian chromium's SwiftShader Vulkan driver: onnxruntime-node's WebGPU EP runs on it where there is no GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface KernelProfileOptions {
  modelDir: string;
  latentHeight: number;
  latentWidth: number;
  frames: number;
  batch: number;
  /** runs of the same session; the last one is reported (the first also compiles pipelines) */
  runs: number;
}

export interface ProgramTime {
  program: string;
  calls: number;
  gpuMs: number;
}

export interface KernelProfile {
  options: KernelProfileOptions;
  nodes: number;
  dispatches: number;
  gpuMs: number;
  runMs: number[];
  createMs: number;
  programs: ProgramTime[];
  adapter: string;
}

interface TraceEvent {
  cat?: string;
  name: string;
  dur: number;
  ts: number;
}

export async function profileUnet(options: KernelProfileOptions): Promise<KernelProfile> {
  // the manifest states the graph's node count and input shapes (as it does for the app's model loading)
  const manifest = parseManifest(JSON.parse(readFileSync(join(options.modelDir, 'manifest.json'), 'utf8')));
  const unet = manifest.graphs.unet;
  const modelPath = join(options.modelDir, unet.model);
  const fixedDim = (input: string, axis: number): number => {
    const d = unet.inputs?.[input]?.[axis];
    if (typeof d !== 'number') throw new Error(`manifest: unet input ${input} has no fixed dimension ${axis}`);
    return d;
  };
  const channels = fixedDim('sample', 2);
  const crossDim = fixedDim('encoder_hidden_states', 2);
  const { batch: B, frames: F, latentHeight: H, latentWidth: W } = options;
  const dir = mkdtempSync(join(tmpdir(), 'svd-kernels-'));
  try {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['webgpu'],
      enableProfiling: true,
      profileFilePrefix: join(dir, 'unet'),
      logSeverityLevel: 3,
      freeDimensionOverrides: { batch: B, frames: F, height: H, width: W },
    });
    const createMs = performance.now() - t0;
    const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
    const feeds = {
      sample: new ort.Tensor('float32', wave(B * F * channels * H * W), [B, F, channels, H, W]),
      timestep: new ort.Tensor('float32', [0.5], [1]),
      encoder_hidden_states: new ort.Tensor('float32', wave(B * crossDim), [B, 1, crossDim]),
      added_time_ids: new ort.Tensor('float32', Float32Array.from({ length: B * 3 }, (_, i) => [6, 127, 0.02][i % 3]), [B, 3]),
    };
    const runMs: number[] = [];
    const runStarts: number[] = [];
    for (let r = 0; r < options.runs; r++) {
      runStarts.push(performance.now());
      await session.run(feeds);
      runMs.push(performance.now() - runStarts[r]);
    }
    // onnxruntime-node writes the trace when profiling ends (on release)
    await session.release();
    const traceFile = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!traceFile) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, traceFile), 'utf8')) as TraceEvent[];
    const gpu = events.filter((e) => e.cat === 'Api');
    if (gpu.length === 0) throw new Error('the profile has no GPU timestamps (the adapter lacks timestamp queries?)');
    // the last run's dispatches: the trace lists them in order, the same number per run
    const perRun = gpu.length / options.runs;
    const last = gpu.slice(gpu.length - perRun);
    const byProgram = new Map<string, ProgramTime>();
    for (const e of last) {
      const program = e.name.split('&').at(-1)!;
      const p = byProgram.get(program) ?? { program, calls: 0, gpuMs: 0 };
      p.calls++;
      p.gpuMs += e.dur / 1000;
      byProgram.set(program, p);
    }
    const programs = [...byProgram.values()].sort((a, b) => b.gpuMs - a.gpuMs);
    return {
      options,
      nodes: unet.nodeCount,
      dispatches: last.length,
      gpuMs: programs.reduce((s, p) => s + p.gpuMs, 0),
      runMs,
      createMs,
      programs,
      adapter: process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD ? 'SwiftShader (Vulkan ICD of Debian chromium)' : `Vulkan ICD ${process.env.VK_ICD_FILENAMES ?? '(system default)'}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function kernelMarkdown(p: KernelProfile, top = 12): string {
  const { batch, frames, latentHeight, latentWidth } = p.options;
  const lines = [
    `UNet of \`${p.options.modelDir.replace(ROOT, '').replace(/^\//, '')}\`, sample ${batch}×${frames}×C×${latentHeight}×${latentWidth} (batch × frames × channels × latent), ${p.adapter}:`,
    `${p.nodes} nodes, ${p.dispatches} dispatches, **GPU ${(p.gpuMs / 1000).toFixed(2)} s**, run() ${p.runMs.map((m) => (m / 1000).toFixed(1)).join(' / ')} s, session ${(p.createMs / 1000).toFixed(1)} s`,
    '',
    '| program | calls | GPU s | share | ms / call |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const q of p.programs.slice(0, top)) {
    lines.push(`| ${q.program} | ${q.calls} | ${(q.gpuMs / 1000).toFixed(2)} | ${((q.gpuMs / p.gpuMs) * 100).toFixed(1)}% | ${(q.gpuMs / q.calls).toFixed(1)} |`);
  }
  const rest = p.programs.slice(top);
  if (rest.length) lines.push(`| ${rest.length} others | ${rest.reduce((s, q) => s + q.calls, 0)} | ${(rest.reduce((s, q) => s + q.gpuMs, 0) / 1000).toFixed(2)} | | |`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: join(ROOT, 'public', 'models', 'tiny-random') },
      latent: { type: 'string', default: '32x32' },
      frames: { type: 'string', default: '3' },
      batch: { type: 'string', default: '2' },
      runs: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const [latentHeight, latentWidth] = values.latent.split('x').map(Number);
  if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const profile = await profileUnet({
    modelDir: values.model,
    latentHeight,
    latentWidth,
    frames: Number(values.frames),
    batch: Number(values.batch),
    runs: Number(values.runs),
  });
  console.log(kernelMarkdown(profile));
}
