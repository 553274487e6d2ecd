/**
 * Which files of a Hub listing make a diffusers-layout Stable Video Diffusion checkpoint: the configs and one weights
 * file per component (fp16 preferred), nothing else of the repository. A checkpoint may take its UNet from a second
 * repository (a distilled replacement such as AnimateLCM-SVD-xt, one safetensors file in diffusers' names): then the
 * base repository gives the configs (unet/config.json included), the image encoder and the VAE, and its own UNet
 * weights are neither required nor selected. Pure; every refusal names the repository, the file and what to do.
 */
import { ModelDeliveryError } from '../models/errors.ts';
import { EXAMPLE_REPO, HUB_URL, modelPageUrl, type HubFile, type HubListing } from './hub-api.ts';

export type Component = 'unet' | 'vae' | 'image_encoder';

/** Where a selected file is downloaded from: its repository, at the commit the listing pointed at. */
export interface FileOrigin {
  repo: string;
  commit: string;
}

/** A UNet that replaces the base checkpoint's: one safetensors file of another repository. */
export interface UnetReplacement {
  listing: HubListing;
  /** the file's path in that repository */
  path: string;
}

export interface CheckpointFiles {
  /** from the base repository */
  configs: HubFile[];
  weights: Record<Component, HubFile>;
  /** bytes per element of each weights file (for the storage estimate) */
  storage: Record<Component, 'fp16' | 'fp32'>;
  /** the repository and commit each component's weights come from */
  origins: Record<Component, FileOrigin>;
  downloadBytes: number;
}

const REQUIRED_CONFIGS = ['model_index.json', 'unet/config.json', 'vae/config.json', 'image_encoder/config.json'];
const OPTIONAL_CONFIGS = ['scheduler/scheduler_config.json', 'feature_extractor/preprocessor_config.json'];
const WEIGHT_STEM: Record<Component, string> = {
  unet: 'unet/diffusion_pytorch_model',
  vae: 'vae/diffusion_pytorch_model',
  image_encoder: 'image_encoder/model',
};

/** A single-file UNet's storage, by its name: published replacements say "fp16" when they are; otherwise fp32. */
export function replacementStorage(path: string): 'fp16' | 'fp32' {
  return /(^|[^a-z0-9])(fp16|f16|half)([^a-z0-9]|$)/i.test(path) ? 'fp16' : 'fp32';
}

/** The files of a diffusers-layout SVD checkpoint, fp16 weights preferred; with `unet`, the UNet from that file instead. */
export function selectCheckpointFiles(listing: HubListing, unet?: UnetReplacement): CheckpointFiles {
  const byPath = new Map(listing.files.map((f) => [f.path, f]));
  const missing: string[] = [];
  const binOnly: string[] = [];
  const configs: HubFile[] = [];
  for (const p of REQUIRED_CONFIGS) {
    const f = byPath.get(p);
    if (f) configs.push(f);
    else missing.push(p);
  }
  for (const p of OPTIONAL_CONFIGS) {
    const f = byPath.get(p);
    if (f) configs.push(f);
  }
  const weights = {} as Record<Component, HubFile>;
  const storage = {} as Record<Component, 'fp16' | 'fp32'>;
  const origins = {} as Record<Component, FileOrigin>;
  const base: FileOrigin = { repo: listing.repo, commit: listing.commit };
  for (const c of Object.keys(WEIGHT_STEM) as Component[]) {
    if (c === 'unet' && unet) continue;
    const stem = WEIGHT_STEM[c];
    const f = byPath.get(`${stem}.fp16.safetensors`) ?? byPath.get(`${stem}.safetensors`);
    if (!f) {
      missing.push(`${stem}.fp16.safetensors (or ${stem}.safetensors)`);
      if (byPath.has(`${stem}.bin`) || byPath.has(`${stem}.fp16.bin`)) binOnly.push(c);
      continue;
    }
    weights[c] = f;
    storage[c] = f.path.endsWith('.fp16.safetensors') ? 'fp16' : 'fp32';
    origins[c] = base;
  }
  if (missing.length > 0) {
    const bin = binOnly.length ? ` For ${binOnly.join(', ')} there are only PyTorch .bin weights, which are not supported: safetensors are needed.` : '';
    throw new ModelDeliveryError(
      'not-found',
      `${listing.repo} (revision ${listing.revision}) is not a diffusers-layout Stable Video Diffusion repository: it lacks ${missing.join(', ')}.${bin} Try ${EXAMPLE_REPO}.`,
      { repo: listing.repo, revision: listing.revision, missing },
    );
  }
  if (unet) {
    const { listing: u, path } = unet;
    const f = u.files.find((x) => x.path === path);
    if (!f) {
      const offered = u.files.filter((x) => x.path.endsWith('.safetensors')).map((x) => x.path);
      throw new ModelDeliveryError(
        'not-found',
        `${u.repo} (revision ${u.revision}) has no file ${path}, the UNet this model takes from it` +
          `${offered.length ? ` (it holds ${offered.join(', ')})` : ''}. Check the repository's page (${modelPageUrl(HUB_URL, u.repo)}): the file may have been renamed or removed.`,
        { repo: u.repo, revision: u.revision, missing: [path] },
      );
    }
    weights.unet = f;
    storage.unet = replacementStorage(path);
    origins.unet = { repo: u.repo, commit: u.commit };
  }
  for (const c of Object.keys(weights) as Component[]) {
    const f = weights[c];
    if (!f.sha256) {
      throw new ModelDeliveryError('http', `Hugging Face lists no sha256 for ${f.path} of ${origins[c].repo}, so its download cannot be verified.`, { repo: origins[c].repo, path: f.path });
    }
  }
  const downloadBytes = [...configs, ...Object.values(weights)].reduce((a, f) => a + f.bytes, 0);
  return { configs, weights, storage, origins, downloadBytes };
}
