/**
 * Finding the parts of a diffusers-layout SVD checkpoint:
 *   unet/config.json + unet/diffusion_pytorch_model[.fp16].safetensors
 *   vae/config.json + vae/diffusion_pytorch_model[.fp16].safetensors
 *   image_encoder/config.json + image_encoder/model[.fp16].safetensors
 *   scheduler/scheduler_config.json, feature_extractor/preprocessor_config.json (optional)
 * The oracle-fixture layout (a component's weights as `weights.safetensors`, the pipeline's image encoder
 * under `pipeline/image_encoder`) is accepted too, so reference data converts without copying.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface ComponentFiles {
  dir: string;
  configPath: string;
  config: Record<string, unknown>;
  weightsPath: string;
}

export interface CheckpointFiles {
  root: string;
  unet: ComponentFiles;
  vae: ComponentFiles;
  imageEncoder: ComponentFiles;
  scheduler?: Record<string, unknown>;
  featureExtractor?: Record<string, unknown>;
}

const WEIGHT_NAMES: Record<string, string[]> = {
  unet: ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors', 'weights.safetensors'],
  vae: ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors', 'weights.safetensors'],
  image_encoder: ['model.safetensors', 'model.fp16.safetensors', 'weights.safetensors'],
};

export function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const value = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value;
  } catch (e) {
    throw new CheckpointError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function component(root: string, names: string[], kind: keyof typeof WEIGHT_NAMES): ComponentFiles {
  const dir = names.map((n) => join(root, n)).find((d) => existsSync(d) && statSync(d).isDirectory());
  if (!dir) throw new CheckpointError(`${root}: missing component folder "${names[0]}/" (a diffusers-layout SVD checkpoint has unet/, vae/ and image_encoder/)`);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new CheckpointError(`${dir}: missing config.json`);
  const weightsPath = WEIGHT_NAMES[kind].map((n) => join(dir, n)).find((p) => existsSync(p));
  if (!weightsPath) {
    const hasBin = existsSync(join(dir, kind === 'image_encoder' ? 'pytorch_model.bin' : 'diffusion_pytorch_model.bin'));
    throw new CheckpointError(
      `${dir}: no weights file (looked for ${WEIGHT_NAMES[kind].slice(0, 2).join(' or ')})` +
        (hasBin ? '; only a PyTorch .bin is there: download the .safetensors files instead' : ''),
    );
  }
  return { dir, configPath, config: readJson(configPath), weightsPath };
}

export function locateCheckpoint(root: string): CheckpointFiles {
  if (!existsSync(root)) throw new CheckpointError(`checkpoint folder ${root} does not exist`);
  if (!statSync(root).isDirectory()) throw new CheckpointError(`${root} is not a folder (point --from at the checkpoint folder that holds unet/, vae/, image_encoder/)`);
  const optional = (p: string) => (existsSync(join(root, p)) ? readJson(join(root, p)) : undefined);
  return {
    root,
    unet: component(root, ['unet'], 'unet'),
    vae: component(root, ['vae'], 'vae'),
    imageEncoder: component(root, ['image_encoder', 'pipeline/image_encoder'], 'image_encoder'),
    scheduler: optional('scheduler/scheduler_config.json') ?? optional('pipeline/scheduler/scheduler_config.json'),
    featureExtractor: optional('feature_extractor/preprocessor_config.json') ?? optional('pipeline/feature_extractor/preprocessor_config.json'),
  };
}
