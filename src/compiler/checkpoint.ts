/**
 * Finding the parts of a diffusers-layout SVD checkpoint:
 *   unet/config.json + unet/diffusion_pytorch_model[.fp16].safetensors
 *   vae/config.json + vae/diffusion_pytorch_model[.fp16].safetensors
 *   image_encoder/config.json + image_encoder/model[.fp16].safetensors
 *   scheduler/scheduler_config.json, feature_extractor/preprocessor_config.json (optional)
 * The oracle-fixture layout (a component's weights as `weights.safetensors`, the pipeline's image encoder
 * under `pipeline/image_encoder`) is accepted too, so reference data converts without copying.
 * Read through a FileTree: a folder on disk (CLI) or the files staged in OPFS (the browser's Hub download).
 */
import { joinPath as join, type FileTree } from '../io/files.ts';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface ComponentFiles {
  /** the component's folder, relative to the tree */
  dir: string;
  /** `root/dir/config.json`, for messages */
  configPath: string;
  config: Record<string, unknown>;
  /** the weights file, relative to the tree */
  weightsPath: string;
}

export interface CheckpointFiles {
  tree: FileTree;
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

export function readJson(tree: FileTree, relative: string): Record<string, unknown> {
  const path = join(tree.root, relative);
  let text: string;
  try {
    text = tree.readText(relative);
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

/** The weight files each component may have, in order of preference (the Hub download stages the first present). */
export const COMPONENT_WEIGHT_NAMES = WEIGHT_NAMES;

function component(tree: FileTree, names: string[], kind: keyof typeof WEIGHT_NAMES, replacementWeights?: string): ComponentFiles {
  const root = tree.root;
  const dir = names.find((d) => tree.kind(d) === 'dir');
  if (!dir) throw new CheckpointError(`${root}: missing component folder "${names[0]}/" (a diffusers-layout SVD checkpoint has unet/, vae/ and image_encoder/)`);
  const configRel = `${dir}/config.json`;
  const configPath = join(root, configRel);
  if (tree.kind(configRel) !== 'file') throw new CheckpointError(`${join(root, dir)}: missing config.json`);
  if (replacementWeights !== undefined) {
    if (tree.kind(replacementWeights) !== 'file') throw new CheckpointError(`the ${kind} replacement ${join(root, replacementWeights)} does not exist`);
    return { dir, configPath, config: readJson(tree, configRel), weightsPath: replacementWeights };
  }
  const weightsPath = WEIGHT_NAMES[kind].map((n) => `${dir}/${n}`).find((p) => tree.kind(p) === 'file');
  if (!weightsPath) {
    const hasBin = tree.kind(`${dir}/${kind === 'image_encoder' ? 'pytorch_model.bin' : 'diffusion_pytorch_model.bin'}`) === 'file';
    throw new CheckpointError(
      `${join(root, dir)}: no weights file (looked for ${WEIGHT_NAMES[kind].slice(0, 2).join(' or ')})` +
        (hasBin ? '; only a PyTorch .bin is there: download the .safetensors files instead' : ''),
    );
  }
  return { dir, configPath, config: readJson(tree, configRel), weightsPath };
}

export interface LocateOptions {
  /** a UNet weights file (path in the tree) used instead of unet/'s: unet/ then needs only its config.json */
  unetWeights?: string;
}

export function locateCheckpoint(tree: FileTree, options: LocateOptions = {}): CheckpointFiles {
  const root = tree.root;
  const kind = tree.kind('');
  if (kind === undefined) throw new CheckpointError(`checkpoint folder ${root} does not exist`);
  if (kind !== 'dir') throw new CheckpointError(`${root} is not a folder (point --from at the checkpoint folder that holds unet/, vae/, image_encoder/)`);
  const optional = (p: string) => (tree.kind(p) === 'file' ? readJson(tree, p) : undefined);
  return {
    tree,
    root,
    unet: component(tree, ['unet'], 'unet', options.unetWeights),
    vae: component(tree, ['vae'], 'vae'),
    imageEncoder: component(tree, ['image_encoder', 'pipeline/image_encoder'], 'image_encoder'),
    scheduler: optional('scheduler/scheduler_config.json') ?? optional('pipeline/scheduler/scheduler_config.json'),
    featureExtractor: optional('feature_extractor/preprocessor_config.json') ?? optional('pipeline/feature_extractor/preprocessor_config.json'),
  };
}
