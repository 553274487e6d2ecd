/**
 * The registry: the models svd-web knows by name. MODEL_REGISTRY: hosted conversions (a folder written by
 * `svd-web convert`; today the bundled demo model). HUB_CHECKPOINTS: the official SVD checkpoints on the Hugging Face
 * Hub, which the app downloads and converts in the tab (src/convert/), and the fast model whose UNet comes from a
 * second repository. Data only.
 */
import type { Precision, SamplerName } from '../contract/manifest.ts';

export interface ModelRecord {
  id: string;
  label: string;
  /** where a `svd-web convert` output is hosted (a directory URL ending in '/'; relative URLs resolve against the page) */
  baseUrl: string;
  precision: Precision;
  /** default frame count */
  frames: number;
  resolution: { width: number; height: number };
  /** total bytes of the model's files (the manifest's totalBytes is authoritative) */
  bytes: number;
  /** `bytes` is an estimate (no hosted conversion to measure) */
  approximate?: boolean;
  /** GPU features needed (shader-f16 for fp16 activations) */
  requiredFeatures: string[];
  /** bundled demo/test model */
  demo?: boolean;
  note?: string;
}

export const MODEL_REGISTRY: ModelRecord[] = [
  {
    id: 'tiny-random',
    label: 'Tiny demo model (random weights — output is noise; for testing)',
    baseUrl: '/models/tiny-random/',
    precision: 'fp32',
    frames: 3,
    resolution: { width: 64, height: 64 },
    bytes: 22_318_379,
    approximate: true,
    requiredFeatures: [],
    demo: true,
    note: 'Random weights — output is noise; for testing the app and the browser, not for videos.',
  },
];

/** The registry entry for an id, if any. */
export function findRecord(id: string): ModelRecord | undefined {
  return MODEL_REGISTRY.find((r) => r.id === id);
}

/** A licence as the Hub panel states it: its name (or the plain fact that there is none) and where to read it. */
export interface LicenceNote {
  name: string;
  url: string;
}

/**
 * A UNet taken from another repository instead of the base checkpoint's: one safetensors file holding a
 * UNetSpatioTemporalConditionModel state dict in diffusers' names (unet/config.json of the base describes it).
 */
export interface HubUnetSource {
  repo: string;
  revision: string;
  /** the file's path in that repository (nothing else of it is downloaded) */
  path: string;
  /** the file's size as published (the Hub's own file list is authoritative); fp32 unless its name says fp16 */
  bytes: number;
  /** the sampler the UNet was trained for: the converted model's step graphs and its default request */
  sampler: SamplerName;
  licence: LicenceNote;
}

/** An official diffusers-layout SVD repository that the app converts in the tab. */
export interface HubCheckpoint {
  id: string;
  label: string;
  repo: string;
  revision: string;
  frames: number;
  resolution: { width: number; height: number };
  /** weights per component as downloaded: fp16 from the official repositories (the Hub's own file list is authoritative) */
  weightBytes: { image_encoder: number; vae: number; unet: number };
  /** their sum (shown with ≈ until the Hub's own file list is fetched) */
  downloadBytes: number;
  /** the base repository's licence (with `unet`: the image encoder's and the VAE's) */
  licence: LicenceNote;
  /** the UNet comes from this repository, not from `repo` (whose UNet weights are then not downloaded) */
  unet?: HubUnetSource;
  note?: string;
}

const STABILITY_LICENCE = { name: 'Stability AI Community License (see the model page; commercial use has conditions)', url: 'https://stability.ai/license' };
/** fp16 weights of every official SVD repository: UNet 3.05 GB, CLIP image encoder 1.26 GB, VAE 0.20 GB. */
const SVD_FP16_WEIGHTS = { image_encoder: 1_264_217_240, vae: 195_531_910, unet: 3_049_435_836 };
const SVD_FP16_BYTES = SVD_FP16_WEIGHTS.image_encoder + SVD_FP16_WEIGHTS.vae + SVD_FP16_WEIGHTS.unet;
const SVD_XT = 'stabilityai/stable-video-diffusion-img2vid-xt';

/** An official repository: every one holds the same networks' fp16 weights, at 576×1024. */
function official(id: string, label: string, repo: string, frames: number, note?: string): HubCheckpoint {
  return { id, label, repo, revision: 'main', frames, resolution: { width: 1024, height: 576 }, weightBytes: SVD_FP16_WEIGHTS, downloadBytes: SVD_FP16_BYTES, licence: STABILITY_LICENCE, ...(note ? { note } : {}) };
}

/**
 * AnimateLCM-SVD-xt (Wang et al.): SVD-XT's UNet consistency-distilled to make a video in 4 steps without guidance.
 * Its repository holds the UNet alone, as one fp32 file (and a 1.1 variant, and demo media, which are never fetched);
 * the configs, the image encoder and the VAE are SVD-XT's.
 */
const ANIMATELCM_UNET: HubUnetSource = {
  repo: 'wangfuyun/AnimateLCM-SVD-xt',
  revision: 'main',
  path: 'AnimateLCM-SVD-xt.safetensors',
  bytes: 6_098_682_464,
  sampler: 'animatelcm',
  licence: { name: 'the AnimateLCM-SVD-xt model card has no licence tag', url: 'https://huggingface.co/wangfuyun/AnimateLCM-SVD-xt' },
};

function fast(id: string, label: string, base: HubCheckpoint, unet: HubUnetSource, note: string): HubCheckpoint {
  const weightBytes = { ...base.weightBytes, unet: unet.bytes };
  return { ...base, id, label, weightBytes, downloadBytes: weightBytes.image_encoder + weightBytes.vae + weightBytes.unet, unet, note };
}

const XT = official('svd-xt', 'Stable Video Diffusion XT (25 frames)', SVD_XT, 25);

export const HUB_CHECKPOINTS: HubCheckpoint[] = [
  XT,
  fast('svd-xt-fast', 'SVD-XT fast (AnimateLCM, 4 steps)', XT, ANIMATELCM_UNET, '4 steps, no guidance: about 12× less work than 25 guided steps.'),
  official('svd', 'Stable Video Diffusion (14 frames)', 'stabilityai/stable-video-diffusion-img2vid', 14),
  official('svd-xt-1-1', 'Stable Video Diffusion XT 1.1 (25 frames)', 'stabilityai/stable-video-diffusion-img2vid-xt-1-1', 25, 'Gated: accept the licence on the model page and paste an access token below.'),
];

/** The id of the converted model a Hub repository becomes at a precision (official ones by their short id). */
export function hubModelId(repo: string, precision: Precision): string {
  const known = HUB_CHECKPOINTS.find((c) => !c.unet && c.repo.toLowerCase() === repo.toLowerCase());
  return sanitizeId(`${known ? known.id : repo.replace('/', '--')}-${precision}`);
}

/** The id of the converted model a registry entry becomes at a precision (an entry with its own UNet by its id). */
export function hubEntryModelId(c: Pick<HubCheckpoint, 'id'>, precision: Precision): string {
  return sanitizeId(`${c.id}-${precision}`);
}

const sanitizeId = (id: string) => id.replace(/[^A-Za-z0-9._-]+/g, '-');
