/**
 * The registry: the models svd-web knows by name. MODEL_REGISTRY: hosted conversions (a folder written by
 * `svd-web convert`; today the bundled demo model). HUB_CHECKPOINTS: the official SVD checkpoints on the Hugging Face
 * Hub, which the app downloads and converts in the tab (src/convert/). Data only.
 */
import type { Precision } from '../contract/manifest.ts';

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

/** An official diffusers-layout SVD repository that the app converts in the tab. */
export interface HubCheckpoint {
  id: string;
  label: string;
  repo: string;
  revision: string;
  frames: number;
  resolution: { width: number; height: number };
  /** fp16 weights per component, as the official repositories hold them (the Hub's own file list is authoritative) */
  weightBytes: { image_encoder: number; vae: number; unet: number };
  /** their sum (shown with ≈ until the Hub's own file list is fetched) */
  downloadBytes: number;
  licence: { name: string; url: string };
  note?: string;
}

const STABILITY_LICENCE = { name: 'Stability AI Community License (see the model page; commercial use has conditions)', url: 'https://stability.ai/license' };
/** fp16 weights of every official SVD repository: UNet 3.05 GB, CLIP image encoder 1.26 GB, VAE 0.20 GB. */
const SVD_FP16_WEIGHTS = { image_encoder: 1_264_217_240, vae: 195_531_910, unet: 3_049_435_836 };
const SVD_FP16_BYTES = SVD_FP16_WEIGHTS.image_encoder + SVD_FP16_WEIGHTS.vae + SVD_FP16_WEIGHTS.unet;

/** An official repository: every one holds the same networks' fp16 weights, at 576×1024. */
function official(id: string, label: string, repo: string, frames: number, note?: string): HubCheckpoint {
  return { id, label, repo, revision: 'main', frames, resolution: { width: 1024, height: 576 }, weightBytes: SVD_FP16_WEIGHTS, downloadBytes: SVD_FP16_BYTES, licence: STABILITY_LICENCE, ...(note ? { note } : {}) };
}

export const HUB_CHECKPOINTS: HubCheckpoint[] = [
  official('svd-xt', 'Stable Video Diffusion XT (25 frames)', 'stabilityai/stable-video-diffusion-img2vid-xt', 25),
  official('svd', 'Stable Video Diffusion (14 frames)', 'stabilityai/stable-video-diffusion-img2vid', 14),
  official('svd-xt-1-1', 'Stable Video Diffusion XT 1.1 (25 frames)', 'stabilityai/stable-video-diffusion-img2vid-xt-1-1', 25, 'Gated: accept the licence on the model page and paste an access token below.'),
];

/** The id of the converted model a Hub repository becomes at a precision (official ones by their short id). */
export function hubModelId(repo: string, precision: Precision): string {
  const known = HUB_CHECKPOINTS.find((c) => c.repo.toLowerCase() === repo.toLowerCase());
  const base = known ? known.id : repo.replace('/', '--');
  return `${base}-${precision}`.replace(/[^A-Za-z0-9._-]+/g, '-');
}
