/**
 * The registry: the models svd-web knows by name (the bundled demo model and the real SVD conversions, which have
 * no public host yet), each a ModelRecord with where it is hosted, its precision, size and GPU needs. Data only.
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
  /** the base URL is a placeholder: there is no hosted conversion; host your own */
  placeholder?: boolean;
  note?: string;
}

const HOST_YOUR_OWN =
  'No hosted conversion exists: convert the checkpoint yourself (`svd-web convert --from <checkpoint> --precision …`), upload the folder ' +
  '(e.g. to a Hugging Face model repo) and use its resolve URL as the base URL — or import the folder from disk.';

/** Placeholder host for conversions nobody hosts yet. Replace with your own repo's resolve URL. */
export const PLACEHOLDER_BASE = 'https://huggingface.co/HOST-YOUR-OWN-CONVERSION';

function realModel(id: string, label: string, precision: 'q4f16' | 'q4f32', frames: number, bytes: number): ModelRecord {
  return {
    id,
    label,
    baseUrl: `${PLACEHOLDER_BASE}/${id}/resolve/main/`,
    precision,
    frames,
    resolution: { width: 1024, height: 576 },
    bytes,
    approximate: true,
    requiredFeatures: precision === 'q4f16' ? ['shader-f16'] : [],
    placeholder: true,
    note: `Host your own conversion. ${HOST_YOUR_OWN}`,
  };
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
  // Sizes are estimates from the parameter counts (UNet 1.52 B, CLIP ViT-H vision 0.63 B, VAE 0.1 B; int4 blocks of 32 for
  // MatMul weights, convolutions in the activation precision). The manifest's totalBytes replaces them once fetched.
  realModel('svd-q4f16', 'Stable Video Diffusion (14 frames) — q4f16', 'q4f16', 14, 1_900_000_000),
  realModel('svd-q4f32', 'Stable Video Diffusion (14 frames) — q4f32', 'q4f32', 14, 3_000_000_000),
  realModel('svd-xt-q4f16', 'Stable Video Diffusion XT (25 frames) — q4f16', 'q4f16', 25, 1_900_000_000),
  realModel('svd-xt-q4f32', 'Stable Video Diffusion XT (25 frames) — q4f32', 'q4f32', 25, 3_000_000_000),
];

/** The registry entry for an id, if any. */
export function findRecord(id: string): ModelRecord | undefined {
  return MODEL_REGISTRY.find((r) => r.id === id);
}
