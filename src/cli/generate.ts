/** `svd-web generate`: image → video on onnxruntime-node, with the same request rules as the app. */
import { parseArgs } from 'node:util';
import { contextForModel, formatRequestErrors, REQUEST_FIELDS, validateRequest } from '../contract/request.ts';
import { EngineError, type FrameBatch } from '../contract/job.ts';
import type { ModelManifest, RequestDefaults } from '../contract/manifest.ts';
import type { SvdRequest } from '../contract/request.ts';
import { InProcessEngine } from '../engine/in-process.ts';
import { NodeModelHost, readModelManifest } from '../engine/node-host.ts';
import { ImageFileError, readImageFile } from '../io/image-file.ts';
import { SafetensorsFile, float32Bytes } from '../io/safetensors.ts';
import { openSafetensors, writeSafetensors } from '../io/safetensors-node.ts';
import { UsageError } from './errors.ts';
import { ProgressBar } from './progress.ts';
import { formatSeconds } from '../common/format.ts';
import { readVideoFrames, writeVideo } from './ffmpeg.ts';
import { joinAt, sizeMismatch } from '../video/clips.ts';
import { sniffImage } from '../contract/image-sniff.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryPlanner } from '../plan/request-plan.ts';
import { planModelFromManifest } from '../plan/model.ts';
import { formatPlan } from '../plan/format.ts';

/** Request fields settable from the command line: flag name → request field. */
const REQUEST_FLAGS = {
  fps: 'fps',
  motion: 'motion',
  seed: 'seed',
  'cond-aug': 'cond_aug',
  frames: 'frames',
  'resize-method': 'resize_method',
  steps: 'steps',
  'min-guidance': 'min_guidance',
  'max-guidance': 'max_guidance',
  width: 'width',
  height: 'height',
  resolution: 'resolution',
  'decode-chunk': 'decode_chunk',
} as const;

export const GENERATE_USAGE = `svd-web generate --model <dir> --image <file> --out <file.mp4> [options]

  --model <dir>          a folder written by svd-web convert
  --image <file>         PNG, JPEG, WebP, GIF (its first frame) or AVIF; EXIF orientation applied, as in the app
  --extend <file>        continue a video (MP4, WebM, GIF) or a frame picture instead of --image: the new clip starts
                         from its last frame (or --extend-from) and --out gets the video joined with it, the seam
                         frame once; size and fps default to the video's
  --extend-from <n>      the frame to continue from, 1 = the first (default the last)
  --out <file>           .mp4 (H.264), .webm or .gif (needs ffmpeg on PATH)
  --device cpu|webgpu    onnxruntime-node execution provider (default cpu)
  --latents <file>       safetensors with "latents" [1,F,4,h,w] of standard-normal draws, instead of the seed's
  --frames-out <file>    also write "frames" float32 [F,3,H,W] in [0,1] as safetensors
  --split-guidance       run the two guidance halves as separate UNet calls (less memory)
  --plan                 print the memory plan of the request on WebGPU (the app's backend) and exit; no --image or
                         --out needed: peak GPU memory and largest buffer per stage, the guidance batch and decode
                         chunk that fit, or what does not fit and what would
  --gpu-memory <GB>      with --plan: the GPU memory the model may use
  --max-buffer <MB>      with --plan: the GPU's largest buffer (maxBufferSize / maxStorageBufferBindingSize)
${Object.entries(REQUEST_FLAGS)
  .map(([flag, field]) => `  --${flag.padEnd(20)} ${REQUEST_FIELDS[field].help}`)
  .join('\n')}

  Steps and guidance not given take the model's recommended values where it has them (a fast AnimateLCM model:
  4 steps without guidance), else ${REQUEST_FIELDS.steps.default} steps with guidance ${REQUEST_FIELDS.min_guidance.default} to ${REQUEST_FIELDS.max_guidance.default}.`;

export async function runGenerate(argv: string[]): Promise<void> {
  const requestOptions = Object.fromEntries(Object.keys(REQUEST_FLAGS).map((f) => [f, { type: 'string' as const }]));
  const { values } = parseArgs({
    args: argv,
    options: {
      ...requestOptions,
      model: { type: 'string' },
      image: { type: 'string' },
      out: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      latents: { type: 'string' },
      'frames-out': { type: 'string' },
      'split-guidance': { type: 'boolean' },
      extend: { type: 'string' },
      'extend-from': { type: 'string' },
      plan: { type: 'boolean' },
      'gpu-memory': { type: 'string' },
      'max-buffer': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(GENERATE_USAGE);
    return;
  }
  if (!values.model) throw new UsageError('--model <dir> is required (a folder written by svd-web convert)');
  if (values.plan) return printPlan(values.model, values);
  if (values['gpu-memory'] !== undefined || values['max-buffer'] !== undefined) throw new UsageError('--gpu-memory and --max-buffer go with --plan');
  if (values.image && values.extend) throw new UsageError('--image and --extend both give the picture to start from; use one');
  if (!values.image && !values.extend) throw new UsageError('--image <file> is required (or --extend <video>)');
  if (values['extend-from'] !== undefined && !values.extend) throw new UsageError('--extend-from needs --extend <video>');
  if (!values.out && !values['frames-out']) throw new UsageError('--out <file.mp4> is required (or --frames-out)');
  if (values.out && !/\.(mp4|webm|gif)$/i.test(values.out)) throw new UsageError(`--out must end in .mp4, .webm or .gif (got "${values.out}")`);
  const device = values.device as string;
  if (device !== 'cpu' && device !== 'webgpu') throw new UsageError(`--device must be cpu or webgpu (got "${device}")`);

  const manifest = readManifest(values.model);
  const extension = values.extend ? await readExtension(values.extend, values['extend-from']) : undefined;
  const flags = { ...values } as Record<string, unknown>;
  if (extension) {
    // the new clip must be the video's size to be joined, and plays at its rate unless told otherwise
    if (flags.width === undefined && flags.height === undefined && flags.resolution === undefined) Object.assign(flags, { width: String(extension.width), height: String(extension.height) });
    if (flags.fps === undefined && extension.fps > 0) flags.fps = String(Math.round(extension.fps));
  }
  const { request, notes } = requestFromFlags(flags, manifest);
  for (const n of notes) console.error(`note: ${n}`);
  if (extension) {
    const size = { width: request.width ?? manifest.pipeline.defaultWidth, height: request.height ?? manifest.pipeline.defaultHeight };
    if (size.width !== extension.width || size.height !== extension.height) throw new UsageError(sizeMismatch(extension, size, `Leave out --width/--height/--resolution (or give --width ${extension.width} --height ${extension.height}) to continue it.`));
  }

  let image;
  if (extension) {
    image = { width: extension.width, height: extension.height, rgba: extension.frames[extension.fromFrame] };
  } else {
    try {
      const decoded = await readImageFile(values.image!);
      for (const n of decoded.notes) console.error(`note: ${n}`);
      image = decoded.input;
    } catch (e) {
      if (e instanceof ImageFileError) throw new UsageError(e.message);
      throw e;
    }
  }
  const latents = values.latents ? readLatents(values.latents) : undefined;

  const engine = new InProcessEngine(new NodeModelHost());
  const bar = new ProgressBar('generating');
  const started = performance.now();
  const batches: FrameBatch[] = [];
  let result;
  try {
    await engine.load({ source: { kind: 'dir', path: values.model }, device: device === 'webgpu' ? 'webgpu' : 'wasm' });
    result = await engine.generate({ image: { pixels: image }, request, latents, floatFrames: !!values['frames-out'], splitGuidanceBatch: values['split-guidance'] }, {
      onProgress: (p) => bar.update(progressFraction(p), 1, `${p.stage} ${p.step}/${p.total}`),
      onFrames: (b) => batches.push(b),
    });
  } catch (e) {
    if (e instanceof EngineError && (e.code === 'invalid-request' || e.code === 'invalid-image' || e.code === 'model')) throw new UsageError(e.message);
    throw e;
  } finally {
    await engine.release();
  }
  const width = result.width!;
  const height = result.height!;
  const made = batches.flatMap((b) => b.frames);
  bar.done(`generated ${made.length} frames ${width}×${height}, seed ${result.seed}`);
  const frames = extension ? joinAt(extension.frames, extension.fromFrame, made) : made;
  if (extension) {
    console.error(`joined: ${frames.length} frames — ${extension.fromFrame + 1} of ${values.extend} (up to frame ${extension.fromFrame + 1} of ${extension.frames.length}), then ${made.length - 1} new (the new clip's first frame repeats that frame and is left out)`);
  }
  if (values['frames-out']) {
    const all = new Float32Array(batches.reduce((a, b) => a + b.float!.length, 0));
    batches.reduce((o, b) => (all.set(b.float!, o), o + b.float!.length), 0);
    writeSafetensors(values['frames-out'], [{ name: 'frames', dtype: 'F32', shape: [made.length, 3, height, width], data: () => float32Bytes(all) }]);
  }
  if (values.out) await writeVideo(values.out, frames, width, height, result.fps);
  const total = (performance.now() - started) / 1000;
  const t = result.local!.timings;
  console.log(
    `${values.out ?? values['frames-out']}: ${formatSeconds(total)} total — load ${formatSeconds(t.load / 1000)}, encode ${formatSeconds(t.encode / 1000)}, ` +
      `denoise ${formatSeconds(t.denoise / 1000)}, decode ${formatSeconds(t.decode / 1000)}; seed ${result.seed}`,
  );
}

/** `--plan`: the memory plan of the request on WebGPU, printed; nothing runs. */
function printPlan(dir: string, values: Record<string, unknown>): void {
  const manifest = readManifest(dir);
  const { request, notes } = requestFromFlags(values, manifest);
  for (const n of notes) console.error(`note: ${n}`);
  const amount = (flag: string, unit: number) => {
    const v = values[flag] as string | undefined;
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number (got "${v}")`);
    return n * unit;
  };
  const maxBuffer = amount('max-buffer', 1e6);
  const device = { kind: 'webgpu' as const, gpuBytes: amount('gpu-memory', 1e9), maxBufferSize: maxBuffer, maxStorageBufferBindingSize: maxBuffer };
  if (request.width === undefined) console.error(`note: no --width/--height: planned at the model's size, ${manifest.pipeline.defaultWidth}×${manifest.pipeline.defaultHeight} (the app frames a picture to about as many pixels)`);
  const planner = new MemoryPlanner(planModelFromManifest(manifest, (path) => readFileSync(join(dir, path))));
  try {
    console.log(formatPlan(planner.plan({
      frames: request.frames, width: request.width ?? manifest.pipeline.defaultWidth, height: request.height ?? manifest.pipeline.defaultHeight,
      guidance: request.max_guidance > 1, decodeChunk: request.decode_chunk,
    }, device)));
  } catch (e) {
    if (/must be a multiple of/.test((e as Error).message)) throw new UsageError(`--plan: ${(e as Error).message}`);
    throw e;
  }
}

interface Extension {
  width: number;
  height: number;
  /** 0 when the source is a picture */
  fps: number;
  frames: Uint8ClampedArray[];
  fromFrame: number;
}

/** What `--extend` continues: a picture (one frame) or every frame of a video, and the frame to start from. */
async function readExtension(path: string, from: string | undefined): Promise<Extension> {
  let head: Uint8Array;
  try {
    head = new Uint8Array(readFileSync(path).subarray(0, 1 << 16));
  } catch (e) {
    throw new UsageError(`--extend: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const sniff = sniffImage(head);
  let source: Omit<Extension, 'fromFrame'>;
  if (sniff.format && sniff.format !== 'gif' && !sniff.animated) {
    try {
      const decoded = await readImageFile(path);
      source = { width: decoded.input.width, height: decoded.input.height, fps: 0, frames: [decoded.input.rgba] };
    } catch (e) {
      if (e instanceof ImageFileError) throw new UsageError(`--extend: ${e.message}`);
      throw e;
    }
  } else {
    try {
      source = readVideoFrames(path);
    } catch (e) {
      throw new UsageError(`--extend: ${(e as Error).message}`);
    }
  }
  const count = source.frames.length;
  const n = from === undefined ? count : Number(from);
  if (!Number.isInteger(n) || n < 1 || n > count) throw new UsageError(`--extend-from must be a frame number from 1 to ${count} (${path} has ${count} frame${count === 1 ? '' : 's'}; got "${from}")`);
  return { ...source, fromFrame: n - 1 };
}

/**
 * The request of the flags, checked against the model: its frame limit, and its recommended settings
 * (manifest.requestDefaults: the fast model's 4 steps without guidance) for the flags not given. Notes: warnings,
 * and which recommended settings were used.
 */
export function requestFromFlags(values: Record<string, unknown>, manifest: Pick<ModelManifest, 'pipeline' | 'requestDefaults' | 'sampler'>): { request: SvdRequest; notes: string[] } {
  const raw: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(REQUEST_FLAGS)) {
    const v = values[flag] as string | undefined;
    // numbers typed on the command line are numbers, so messages read "(got 0)" exactly as the app's do
    if (v !== undefined) raw[field] = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v.trim()) ? Number(v) : v;
  }
  const checked = validateRequest(raw, contextForModel(manifest.pipeline, manifest.requestDefaults));
  if (!checked.ok) throw new UsageError(formatRequestErrors(checked.errors));
  const notes = [...checked.warnings];
  const used = Object.keys(manifest.requestDefaults ?? {}).filter((f) => raw[f] === undefined) as (keyof RequestDefaults)[];
  if (used.length > 0) {
    const who = manifest.sampler === 'animatelcm' ? 'this fast model (AnimateLCM)' : 'this model';
    const flags = Object.entries(REQUEST_FLAGS).filter(([, f]) => (used as string[]).includes(f)).map(([flag]) => `--${flag}`);
    notes.push(`using the settings ${who} is made for: ${used.map((f) => `${f} ${checked.request[f]}`).join(', ')} (${flags.join(', ')} to change)`);
  }
  return { request: checked.request, notes };
}

const STAGE_WEIGHT = { load: 0, encode: 0.05, denoise: 0.85, decode: 0.1 } as const;
function progressFraction(p: { stage: keyof typeof STAGE_WEIGHT; step: number; total: number }): number {
  const before = p.stage === 'encode' ? 0 : p.stage === 'denoise' ? 0.05 : p.stage === 'decode' ? 0.9 : 0;
  return before + STAGE_WEIGHT[p.stage] * (p.total ? p.step / p.total : 0);
}

export function readManifest(dir: string): ModelManifest {
  try {
    return readModelManifest(dir);
  } catch (e) {
    if (e instanceof EngineError) throw new UsageError(e.message);
    throw e;
  }
}

function readLatents(path: string): Float32Array {
  let file: SafetensorsFile;
  try {
    file = openSafetensors(path);
  } catch (e) {
    throw new UsageError(`--latents: ${(e as Error).message}`);
  }
  try {
    if (!file.tensors.has('latents')) throw new UsageError(`--latents: ${path} has no tensor named "latents"`);
    return file.readFloat32('latents');
  } finally {
    file.close();
  }
}
