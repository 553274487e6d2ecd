/**
 * The local models the app can run, as the store sees them: id, label, where the worker reads the files from,
 * and the manifest (for the frame limit, the framing preview and required GPU features).
 *
 * Today: the bundled demo model (served with the app at /models/tiny-random/, random weights, output is noise).
 * The model library (src/store/slices/library.ts, issue 7) adds downloaded and imported models from OPFS; the store
 * merges them in through `setLibraryModels`.
 */
import { parseManifest, type ModelManifest } from '../contract/manifest.ts';
import type { ModelSource } from '../contract/job.ts';

export interface ModelChoice {
  id: string;
  label: string;
  source: ModelSource;
  manifest?: ModelManifest;
  /** random-weight demo: output is noise */
  demo?: boolean;
  note?: string;
}

export const DEMO_MODEL_ID = 'tiny-random';
export const DEMO_MODEL_PATH = 'models/tiny-random/';


/** The model the app runs: the chosen one, else the first available (the chosen one may be gone). */
export function selectedModel(s: { models: readonly ModelChoice[]; modelId?: string }): ModelChoice | undefined {
  return s.models.find((m) => m.id === s.modelId) ?? s.models[0];
}

/** Looks for the bundled demo model next to the app. Absent (404) is normal: returns []. */
export async function discoverDemoModel(baseHref: string, doFetch: typeof fetch = fetch): Promise<ModelChoice[]> {
  const baseUrl = new URL(DEMO_MODEL_PATH, baseHref).href;
  try {
    const res = await doFetch(new URL('manifest.json', baseUrl).href, { cache: 'no-cache' } as RequestInit);
    if (!res.ok) return [];
    const manifest = parseManifest(await res.json(), `${DEMO_MODEL_PATH}manifest.json`);
    const size = `${manifest.pipeline.defaultWidth}×${manifest.pipeline.defaultHeight}`;
    return [{
      id: DEMO_MODEL_ID,
      label: `Tiny demo model (${size}, random weights)`,
      source: { kind: 'url', baseUrl },
      manifest,
      demo: true,
      note: 'Random weights: the video is coloured noise. It exists to try the app end to end without the multi-GB model.',
    }];
  } catch {
    return [];
  }
}

/** The manifest for framing when no local model is chosen (Segmind's model, SVD's 1024×576). */
export function defaultFramingManifest(): ModelManifest {
  return {
    format: 'svd-web-model',
    version: 1,
    precision: 'fp16',
    attention: 'fused',
    requiredFeatures: [],
    graphs: {} as ModelManifest['graphs'],
    files: [],
    totalBytes: 0,
    pipeline: {
      latentChannels: 4, unetInChannels: 8, vaeScaleFactor: 8, sizeMultiple: 64, scalingFactor: 0.18215, embeddingDim: 1024,
      clip: { imageSize: 224, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
      defaultFrames: 14, defaultHeight: 576, defaultWidth: 1024,
    },
    sources: { unet: { down_block_types: [0, 0, 0, 0] } },
  } as unknown as ModelManifest;
}
