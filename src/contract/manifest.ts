/**
 * manifest.json: what `svd-web convert` writes and everything the app needs to fetch, verify and run a model.
 * The only type the compiler shares with the browser (web-llm's ModelRecord is the pattern).
 */

export const MANIFEST_FORMAT = 'svd-web-model';
export const MANIFEST_VERSION = 1;

export type Precision = 'fp32' | 'fp16' | 'q4f32' | 'q4f16';
export type NetworkName = 'image_encoder' | 'vae_encoder' | 'unet' | 'vae_decoder';
export const GRAPH_NAMES: readonly NetworkName[] = ['image_encoder', 'vae_encoder', 'unet', 'vae_decoder'];
/** Weightless helper graphs: the denoising step (guidance + Euler + next UNet input) that keeps the loop on the GPU. */
export type StepGraphName = 'denoise_step' | 'denoise_step_cfg';
export type GraphName = NetworkName | StepGraphName;

export interface ManifestFile {
  /** path relative to the manifest */
  path: string;
  bytes: number;
  sha256: string;
}

export interface ManifestGraph {
  /** the .onnx file */
  model: string;
  /** external-data files, each passed to ORT as `{path, data}` with `path` = the initializer location */
  externalData: string[];
  nodeCount: number;
  /** each input's dimensions as compiled: a number, or the symbolic name the compiler gave it (absent before v0.2) */
  inputs?: Record<string, (number | string)[]>;
}

export interface PipelineFacts {
  /** channels of the VAE latent (4) */
  latentChannels: number;
  /** UNet input channels: noisy latents + image latents (8) */
  unetInChannels: number;
  /** H / h: 2^(VAE levels − 1), 8 for the real VAE */
  vaeScaleFactor: number;
  /** output sides must be multiples of this: vaeScaleFactor × 2^(UNet down blocks − 1), so every UNet level halves evenly (64) */
  sizeMultiple: number;
  /** latents are divided by this before decoding (0.18215) */
  scalingFactor: number;
  /** image embedding size = UNet cross_attention_dim (1024) */
  embeddingDim: number;
  clip: { imageSize: number; mean: [number, number, number]; std: [number, number, number] };
  /** the model's default (and maximum trained) frame count */
  defaultFrames: number;
  defaultHeight: number;
  defaultWidth: number;
}

export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  precision: Precision;
  /** attention as compiled: 'plain' (MatMul/Softmax) or 'fused' (MultiHeadAttention) */
  attention: 'plain' | 'fused';
  /** GPU features a session needs (e.g. shader-f16 for fp16 activations) */
  requiredFeatures: string[];
  graphs: Record<NetworkName, ManifestGraph> & Partial<Record<StepGraphName, ManifestGraph>>;
  files: ManifestFile[];
  /** total bytes of all files */
  totalBytes: number;
  pipeline: PipelineFacts;
  /** the scheduler config the model was trained with (scheduler_config.json), when the checkpoint had one */
  scheduler?: Record<string, unknown>;
  /** the source configs, verbatim */
  sources: Record<string, unknown>;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Checks a parsed manifest.json and names the first thing that is wrong. */
export function parseManifest(raw: unknown, where = 'manifest.json'): ModelManifest {
  const m = raw as Partial<ModelManifest> | null;
  const fail = (what: string) => {
    throw new ManifestError(`${where}: ${what}`);
  };
  if (!m || typeof m !== 'object') fail('is not a JSON object');
  if (m!.format !== MANIFEST_FORMAT) fail(`format is ${JSON.stringify(m!.format)}, expected "${MANIFEST_FORMAT}" (is this an svd-web convert output?)`);
  if (m!.version !== MANIFEST_VERSION) fail(`version ${m!.version} is not supported (this app reads version ${MANIFEST_VERSION})`);
  if (!Array.isArray(m!.files)) fail('has no "files" list');
  const files = new Map(m!.files!.map((f) => [f.path, f]));
  for (const f of m!.files!) {
    if (typeof f.path !== 'string' || f.path.includes('..') || f.path.startsWith('/')) fail(`file path ${JSON.stringify(f.path)} is not a plain relative path`);
    if (!Number.isInteger(f.bytes) || f.bytes < 0) fail(`file ${f.path} has no valid byte size`);
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) fail(`file ${f.path} has no valid sha256`);
  }
  for (const name of GRAPH_NAMES) if (!m!.graphs?.[name]) fail(`graph "${name}" is missing`);
  for (const [name, g] of Object.entries(m!.graphs!)) {
    for (const p of [g!.model, ...g!.externalData]) if (!files.has(p)) fail(`graph "${name}" refers to ${p}, which is not in "files"`);
    for (const [input, dims] of Object.entries(g!.inputs ?? {})) {
      if (!Array.isArray(dims) || !dims.every((d) => (typeof d === 'number' && Number.isInteger(d) && d >= 0) || (typeof d === 'string' && d.length > 0))) {
        fail(`graph "${name}" input "${input}" has dimensions ${JSON.stringify(dims)}; expected a list of sizes and names`);
      }
    }
  }
  if (!m!.pipeline) fail('has no "pipeline" facts');
  // Manifests written before sizeMultiple was a fact: derive it once here from the UNet's config.
  if (!Number.isInteger(m!.pipeline!.sizeMultiple)) {
    const unet = m!.sources?.unet as { down_block_types?: unknown[] } | undefined;
    m!.pipeline!.sizeMultiple = m!.pipeline!.vaeScaleFactor * 2 ** ((unet?.down_block_types?.length ?? 4) - 1);
  }
  return m as ModelManifest;
}

/** A graph's entry; a missing optional graph is an error naming it. */
export function graphEntry(manifest: ModelManifest, name: GraphName): ManifestGraph {
  const entry = manifest.graphs[name];
  if (!entry) throw new ManifestError(`this model has no "${name}" graph (converted by an older svd-web? convert it again)`);
  return entry;
}
