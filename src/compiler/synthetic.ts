/**
 * Synthetic SVD checkpoints: random weights with real (or tiny) configs, in the diffusers layout that
 * `svd-web convert` reads. No real weights can be downloaded where this project is built and tested, so these
 * are what scale tests and benchmarks run on.
 *
 * Weight names and shapes are not written down here: they are RECORDED by running the compiler's own
 * architecture builders against a store that notes every `take(name, shape)` (with a graph whose sink
 * discards the bytes). So a synthetic checkpoint has exactly the tensors the compiler consumes, and the
 * fixture parity tests prove those are the reference library's names.
 *
 * Values: a fast seeded PRNG through a 65536-entry inverse-normal table, std 0.02 (norm weights 1 + 0.02·z),
 * written tensor by tensor (never the whole model in memory). Each tensor's stream is seeded from (seed, name),
 * so values do not depend on the order of writing.
 */
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, type ExternalLocation, type InitializerSink } from './onnx/graph.ts';
import { toFloat16Bits } from '../io/float16.ts';
import { BuildContext, PRECISIONS } from './onnx/nn.ts';
import { WeightError, WeightStore, type WeightRef, type WeightSource } from './weights.ts';
import { OPSET } from './compile.ts';
import { buildImageEncoder, parseClipVisionConfig } from './architectures/clip.ts';
import { buildUnet, parseUnetConfig } from './architectures/unet.ts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig } from './architectures/vae.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';

export type SynthPreset = 'svd-xt' | 'svd' | 'tiny';
export const SYNTH_PRESETS: readonly SynthPreset[] = ['svd-xt', 'svd', 'tiny'];
export type SynthDType = 'f16' | 'f32';

type Json = Record<string, unknown>;

export interface SynthConfigs {
  unet: Json;
  vae: Json;
  imageEncoder: Json;
  scheduler: Json;
  featureExtractor: Json;
  modelIndex: Json;
}

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** The configs of stabilityai/stable-video-diffusion-img2vid(-xt), as their config.json files hold them. */
export function presetConfigs(preset: SynthPreset): SynthConfigs {
  if (!SYNTH_PRESETS.includes(preset)) throw new Error(`unknown preset "${preset}" (choose ${SYNTH_PRESETS.join(', ')})`);
  const tiny = preset === 'tiny';
  const unet: Json = {
    _class_name: 'UNetSpatioTemporalConditionModel',
    _diffusers_version: '0.24.0.dev0',
    addition_time_embed_dim: tiny ? 8 : 256,
    block_out_channels: tiny ? [32, 32, 64, 64] : [320, 640, 1280, 1280],
    cross_attention_dim: tiny ? 32 : 1024,
    down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
    in_channels: 8,
    layers_per_block: 2,
    num_attention_heads: tiny ? [2, 2, 4, 4] : [5, 10, 20, 20],
    num_frames: preset === 'svd' ? 14 : tiny ? 3 : 25,
    out_channels: 4,
    projection_class_embeddings_input_dim: tiny ? 24 : 768,
    sample_size: tiny ? 8 : 96,
    transformer_layers_per_block: 1,
    up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
  };
  const vae: Json = {
    _class_name: 'AutoencoderKLTemporalDecoder',
    _diffusers_version: '0.24.0.dev0',
    block_out_channels: tiny ? [32, 64] : [128, 256, 512, 512],
    down_block_types: new Array(tiny ? 2 : 4).fill('DownEncoderBlock2D'),
    force_upcast: true,
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: 2,
    out_channels: 3,
    sample_size: tiny ? 64 : 768,
    scaling_factor: 0.18215,
  };
  const imageEncoder: Json = {
    architectures: ['CLIPVisionModelWithProjection'],
    attention_dropout: 0.0,
    dropout: 0.0,
    hidden_act: 'gelu',
    hidden_size: tiny ? 32 : 1280,
    image_size: 224,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: tiny ? 64 : 5120,
    layer_norm_eps: 1e-5,
    model_type: 'clip_vision_model',
    num_attention_heads: tiny ? 4 : 16,
    num_channels: 3,
    num_hidden_layers: tiny ? 2 : 32,
    patch_size: tiny ? 32 : 14,
    projection_dim: tiny ? 32 : 1024,
    torch_dtype: 'float16',
    transformers_version: '4.34.0.dev0',
  };
  const scheduler: Json = {
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: '0.24.0.dev0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    interpolation_type: 'linear',
    num_train_timesteps: 1000,
    prediction_type: 'v_prediction',
    set_alpha_to_one: false,
    sigma_max: 700.0,
    sigma_min: 0.002,
    skip_prk_steps: true,
    steps_offset: 1,
    timestep_spacing: 'leading',
    timestep_type: 'continuous',
    trained_betas: null,
    use_karras_sigmas: true,
  };
  const featureExtractor: Json = {
    crop_size: { height: 224, width: 224 },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    feature_extractor_type: 'CLIPFeatureExtractor',
    image_mean: CLIP_MEAN,
    image_processor_type: 'CLIPImageProcessor',
    image_std: CLIP_STD,
    resample: 3,
    rescale_factor: 0.00392156862745098,
    size: { shortest_edge: 224 },
  };
  const modelIndex: Json = {
    _class_name: 'StableVideoDiffusionPipeline',
    _diffusers_version: '0.24.0.dev0',
    feature_extractor: ['transformers', 'CLIPImageProcessor'],
    image_encoder: ['transformers', 'CLIPVisionModelWithProjection'],
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    unet: ['diffusers', 'UNetSpatioTemporalConditionModel'],
    vae: ['diffusers', 'AutoencoderKLTemporalDecoder'],
  };
  return { unet, vae, imageEncoder, scheduler, featureExtractor, modelIndex };
}

// ---------------------------------------------------------------------------------------------------------
// Recording the weights an architecture takes

export interface RecordedWeight {
  name: string;
  shape: number[];
}

const emptySource: WeightSource = {
  label: 'recording',
  names: () => [],
  info: () => undefined,
  readFloat32: () => new Float32Array(0),
};

/**
 * A WeightStore that has every weight: `take(name, shape)` records the pair and hands out zeros of that shape
 * (what the builder reads only has to have the right size). Taking a name twice is still an error.
 */
export class RecordingWeightStore extends WeightStore {
  readonly recorded: RecordedWeight[] = [];
  private readonly seen = new Set<string>();
  private zeros = new Float32Array(0);

  constructor() {
    super(emptySource);
  }

  override has(name: string): boolean {
    return this.seen.has(name);
  }

  override take(name: string, shape: number[]): WeightRef {
    if (this.seen.has(name)) throw new WeightError(`recording: weight "${name}" is used twice`);
    this.seen.add(name);
    this.recorded.push({ name, shape: [...shape] });
    const size = shape.reduce((a, b) => a * b, 1);
    return {
      name,
      shape,
      read: () => {
        // one shared zero buffer, grown on demand: builders copy what they read, never write into it
        if (this.zeros.length < size) this.zeros = new Float32Array(size);
        return this.zeros.subarray(0, size);
      },
    };
  }

  override assertAllTaken(): void {}
}

/** An initializer sink that keeps nothing (recording only needs the takes). */
class DiscardSink implements InitializerSink {
  write(name: string, bytes: Uint8Array): ExternalLocation {
    return { location: 'discarded', offset: 0, length: bytes.byteLength };
  }
}

export type SynthComponent = 'unet' | 'vae_encoder' | 'vae_decoder' | 'image_encoder';

/**
 * Runs one architecture builder against a recording store; returns its weights in take order. The builder still
 * processes the (zero) data it reads: q4f32 is the cheapest precision for that (no transposes, no fp16 rounding).
 */
export function recordWeights(component: SynthComponent, configs: SynthConfigs): RecordedWeight[] {
  const store = new RecordingWeightStore();
  // threshold 0: every initializer goes to the discarding sink, none is kept inline in the graph
  const graph = new Graph({ name: component, opset: OPSET, sink: new DiscardSink(), externalThreshold: 0 });
  const ctx = new BuildContext(graph, store, { precision: PRECISIONS.q4f32, attention: 'plain' });
  switch (component) {
    case 'unet':
      buildUnet(ctx, parseUnetConfig(configs.unet, 'unet/config.json'));
      break;
    case 'vae_encoder':
      buildVaeEncoder(ctx, parseVaeConfig(configs.vae, 'vae/config.json'));
      break;
    case 'vae_decoder':
      buildVaeDecoder(ctx, parseVaeConfig(configs.vae, 'vae/config.json'));
      break;
    case 'image_encoder':
      buildImageEncoder(ctx, parseClipVisionConfig(configs.imageEncoder, 'image_encoder/config.json'));
      break;
  }
  return store.recorded;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function countParams(weights: RecordedWeight[]): number {
  return weights.reduce((a, w) => a + numel(w.shape), 0);
}

export interface ParamBreakdown {
  total: number;
  tensors: number;
  /** 2-D `.weight` tensors (torch Linear) */
  linear: { params: number; tensors: number };
  /** 4-D/5-D `.weight` tensors (Conv2d/Conv3d) */
  conv: { params: number; tensors: number };
}

export function paramBreakdown(weights: RecordedWeight[]): ParamBreakdown {
  const out: ParamBreakdown = { total: 0, tensors: weights.length, linear: { params: 0, tensors: 0 }, conv: { params: 0, tensors: 0 } };
  for (const w of weights) {
    const n = numel(w.shape);
    out.total += n;
    if (!w.name.endsWith('.weight')) continue;
    if (w.shape.length === 2 && !/embedding\.weight$/.test(w.name)) {
      out.linear.params += n;
      out.linear.tensors++;
    } else if (w.shape.length >= 4) {
      out.conv.params += n;
      out.conv.tensors++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Random values

/** Normalisation-layer gains (GroupNorm/LayerNorm `.weight`): random around 1, not 0. */
export function isNormWeight(name: string): boolean {
  const parts = name.split('.');
  // norm1/2/3, norm_in, norm, group_norm, conv_norm_out, layer_norm1/2, pre_layrnorm, post_layernorm
  return parts[parts.length - 1] === 'weight' && /norm/.test(parts[parts.length - 2] ?? '');
}

/** Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export const SYNTH_STD = 0.02;

/** 65536 normal quantiles (the 16-bit index is uniform, so the values are N(mean, std²) up to 16-bit resolution). */
function normalTable(mean: number, std: number): Float32Array {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = mean + std * normalQuantile((i + 0.5) / 65536);
  return t;
}

let tables: { f32: { w: Float32Array; norm: Float32Array }; f16: { w: Uint16Array; norm: Uint16Array } } | undefined;
function getTables() {
  if (!tables) {
    const w = normalTable(0, SYNTH_STD);
    const norm = normalTable(1, SYNTH_STD);
    tables = { f32: { w, norm }, f16: { w: toFloat16Bits(w), norm: toFloat16Bits(norm) } };
  }
  return tables;
}

/** FNV-1a of the name mixed with the seed: each tensor's own PRNG stream. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0 || 0x9e3779b9;
}

/**
 * Fills `out` (Uint16Array of f16 bits or Float32Array) from the table with xorshift32, two 16-bit draws per step.
 */
function fillRandom(out: Uint16Array | Float32Array, table: Uint16Array | Float32Array, seed: number): void {
  let s = seed >>> 0;
  const n = out.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = table[s & 0xffff];
    out[i + 1] = table[(s >>> 16) & 0xffff];
  }
  if (i < n) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = table[s & 0xffff];
  }
}

/** The synthetic value bytes of one tensor. */
export function syntheticTensor(name: string, shape: number[], dtype: SynthDType, seed: number): Uint8Array {
  const t = getTables();
  const norm = isNormWeight(name);
  const n = numel(shape);
  const out = dtype === 'f16' ? new Uint16Array(n) : new Float32Array(n);
  fillRandom(out, dtype === 'f16' ? (norm ? t.f16.norm : t.f16.w) : norm ? t.f32.norm : t.f32.w, tensorSeed(seed, name));
  return new Uint8Array(out.buffer);
}

// ---------------------------------------------------------------------------------------------------------
// Writing a checkpoint

export interface SynthOptions {
  out: string;
  preset?: SynthPreset;
  dtype?: SynthDType;
  seed?: number;
  /** after each tensor: bytes written so far of all files */
  onProgress?: (p: { component: string; doneBytes: number; totalBytes: number }) => void;
}

export interface SynthComponentSummary {
  /** file written, relative to `out` */
  file: string;
  bytes: number;
  tensors: number;
  params: number;
}

export interface SynthResult {
  preset: SynthPreset;
  dtype: SynthDType;
  seed: number;
  /** parameters each graph consumes */
  params: Record<SynthComponent, number>;
  components: { unet: SynthComponentSummary; vae: SynthComponentSummary; image_encoder: SynthComponentSummary };
  totalBytes: number;
}

/** Records every component's weights (names, shapes, parameter counts) without writing anything. */
export function recordPreset(preset: SynthPreset): { configs: SynthConfigs; weights: Record<SynthComponent, RecordedWeight[]> } {
  const configs = presetConfigs(preset);
  return {
    configs,
    weights: {
      image_encoder: recordWeights('image_encoder', configs),
      vae_encoder: recordWeights('vae_encoder', configs),
      unet: recordWeights('unet', configs),
      vae_decoder: recordWeights('vae_decoder', configs),
    },
  };
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Writes a diffusers-layout checkpoint under `out`: unet/, vae/, image_encoder/ (config.json + safetensors),
 * scheduler/scheduler_config.json, feature_extractor/preprocessor_config.json, model_index.json. Each weights
 * file is written under a temporary name and renamed when complete, so an interrupted run leaves no file
 * that looks finished.
 */
export function synthesizeCheckpoint(options: SynthOptions): SynthResult {
  const preset = options.preset ?? 'svd-xt';
  const dtype = options.dtype ?? 'f16';
  const seed = options.seed ?? 0;
  const { configs, weights } = recordPreset(preset);
  const bytesPer = dtype === 'f16' ? 2 : 4;
  const suffix = dtype === 'f16' ? '.fp16' : '';
  // The VAE's file holds both halves; real checkpoints (safetensors' save_file) store tensors sorted by name.
  const files = {
    image_encoder: { dir: 'image_encoder', file: `model${suffix}.safetensors`, config: configs.imageEncoder, weights: weights.image_encoder },
    vae: { dir: 'vae', file: `diffusion_pytorch_model${suffix}.safetensors`, config: configs.vae, weights: [...weights.vae_encoder, ...weights.vae_decoder] },
    unet: { dir: 'unet', file: `diffusion_pytorch_model${suffix}.safetensors`, config: configs.unet, weights: weights.unet },
  };
  const totalBytes = Object.values(files).reduce((a, f) => a + countParams(f.weights) * bytesPer, 0);
  let doneBytes = 0;
  const components = {} as SynthResult['components'];

  mkdirSync(options.out, { recursive: true });
  for (const [component, f] of Object.entries(files) as [keyof typeof files, (typeof files)[keyof typeof files]][]) {
    const dir = join(options.out, f.dir);
    mkdirSync(dir, { recursive: true });
    writeJson(join(dir, 'config.json'), f.config);
    const sorted = [...f.weights].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const tensors: TensorToWrite[] = sorted.map((w) => ({
      name: w.name,
      dtype: dtype === 'f16' ? 'F16' : 'F32',
      shape: w.shape,
      data: () => {
        const bytes = syntheticTensor(w.name, w.shape, dtype, seed);
        doneBytes += bytes.byteLength;
        options.onProgress?.({ component, doneBytes, totalBytes });
        return bytes;
      },
    }));
    const path = join(dir, f.file);
    writeSafetensors(`${path}.partial`, tensors, { format: 'pt', generator: `svd-web synth ${preset} seed ${seed}` });
    renameSync(`${path}.partial`, path);
    const params = countParams(f.weights);
    components[component] = { file: `${f.dir}/${f.file}`, bytes: params * bytesPer, tensors: f.weights.length, params };
  }
  mkdirSync(join(options.out, 'scheduler'), { recursive: true });
  writeJson(join(options.out, 'scheduler', 'scheduler_config.json'), configs.scheduler);
  mkdirSync(join(options.out, 'feature_extractor'), { recursive: true });
  writeJson(join(options.out, 'feature_extractor', 'preprocessor_config.json'), configs.featureExtractor);
  writeJson(join(options.out, 'model_index.json'), configs.modelIndex);

  return {
    preset,
    dtype,
    seed,
    params: {
      image_encoder: countParams(weights.image_encoder),
      vae_encoder: countParams(weights.vae_encoder),
      unet: countParams(weights.unet),
      vae_decoder: countParams(weights.vae_decoder),
    },
    components,
    totalBytes,
  };
}
