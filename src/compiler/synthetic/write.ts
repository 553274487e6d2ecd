/**
 * Synthetic SVD checkpoints: random weights with real (or tiny) configs, in the diffusers layout that
 * `svd-web convert` reads. No real weights can be downloaded where this project is built and tested, so these
 * are what scale tests and benchmarks run on.
 *
 * What is where: configs.ts (presets), record.ts (the weights each graph takes, recorded from the compiler's
 * builders), random.ts (the values), this file (the diffusers-layout folder on disk).
 */
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../io/safetensors-node.ts';
import type { SynthDType, SynthPreset } from './configs.ts';
import { countParams, recordPreset, type RecordedWeight, type SynthComponent } from './record.ts';
import { syntheticTensor } from './random.ts';

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

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * One safetensors file of random weights, tensors sorted by name (as safetensors' save_file stores them), written
 * under a temporary name and renamed when complete, so an interrupted run leaves no file that looks finished.
 */
function writeWeightsFile(path: string, weights: RecordedWeight[], dtype: SynthDType, seed: number, generator: string, onBytes: (n: number) => void): void {
  const sorted = [...weights].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const tensors: TensorToWrite[] = sorted.map((w) => ({
    name: w.name,
    dtype: dtype === 'f16' ? 'F16' : 'F32',
    shape: w.shape,
    data: () => {
      const bytes = syntheticTensor(w.name, w.shape, dtype, seed);
      onBytes(bytes.byteLength);
      return bytes;
    },
  }));
  writeSafetensors(`${path}.partial`, tensors, { format: 'pt', generator });
  renameSync(`${path}.partial`, path);
}

/** The file name AnimateLCM-SVD-xt's repository gives its UNet (a diffusers state dict, fp32, at the repository's root). */
export const ANIMATELCM_UNET_FILE = 'AnimateLCM-SVD-xt.safetensors';

export interface SynthUnetResult {
  /** file written, relative to `out` */
  file: string;
  bytes: number;
  tensors: number;
  params: number;
}

/**
 * Writes a single-file UNet as AnimateLCM-SVD-xt's repository holds one: `out/AnimateLCM-SVD-xt.safetensors`, the
 * UNet's state dict in diffusers' names (fp32 by default, as published), random weights. With the preset's
 * checkpoint (same preset, another seed) it stands in for the fast model's two downloads.
 */
export function synthesizeUnetFile(options: SynthOptions): SynthUnetResult {
  const preset = options.preset ?? 'svd-xt';
  const dtype = options.dtype ?? 'f32';
  const seed = options.seed ?? 0;
  const { weights } = recordPreset(preset);
  const bytesPer = dtype === 'f16' ? 2 : 4;
  const params = countParams(weights.unet);
  mkdirSync(options.out, { recursive: true });
  let doneBytes = 0;
  writeWeightsFile(join(options.out, ANIMATELCM_UNET_FILE), weights.unet, dtype, seed, `svd-web synth ${preset} --layout animatelcm seed ${seed}`, (n) => {
    doneBytes += n;
    options.onProgress?.({ component: 'unet', doneBytes, totalBytes: params * bytesPer });
  });
  return { file: ANIMATELCM_UNET_FILE, bytes: params * bytesPer, tensors: weights.unet.length, params };
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
    writeWeightsFile(join(dir, f.file), f.weights, dtype, seed, `svd-web synth ${preset} seed ${seed}`, (n) => {
      doneBytes += n;
      options.onProgress?.({ component, doneBytes, totalBytes });
    });
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
