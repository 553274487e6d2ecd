/**
 * manifest.json: what `svd-web convert` writes and everything the app needs to fetch, verify and run a model.
 * The only type the compiler shares with the browser (web-llm's ModelRecord is the pattern).
 */

export const MANIFEST_FORMAT = 'svd-web-model';
export const MANIFEST_VERSION = 1;

export type Precision = 'fp32' | 'fp16' | 'q4f32' | 'q4f16';
export type NetworkName = 'image_encoder' | 'vae_encoder' | 'unet' | 'vae_decoder';
export const GRAPH_NAMES: readonly NetworkName[] = ['image_encoder', 'vae_encoder', 'unet', 'vae_decoder'];
/**
 * Weightless helper graphs: one denoising step (guidance + the sampler's update + the next UNet input) that keeps
 * the loop on the GPU; `_cfg` with classifier-free guidance. Euler models ship denoise_step*, consistency models
 * (AnimateLCM) consistency_step*.
 */
export type StepGraphName = 'denoise_step' | 'denoise_step_cfg' | 'consistency_step' | 'consistency_step_cfg';

/**
 * The sampler a model's UNet was trained for. 'euler': SVD's EulerDiscreteScheduler (Karras sigmas, v-prediction).
 * 'animatelcm': AnimateLCM's consistency sampler (AnimateLCMSVDStochasticIterativeScheduler), a few steps, no guidance.
 */
export type SamplerName = 'euler' | 'animatelcm';
export const SAMPLER_NAMES: readonly SamplerName[] = ['euler', 'animatelcm'];

/** The step graphs of a sampler: [batch 1, classifier-free guidance batch 2]. */
export function stepGraphsOf(sampler: SamplerName): readonly [StepGraphName, StepGraphName] {
  return sampler === 'animatelcm' ? ['consistency_step', 'consistency_step_cfg'] : ['denoise_step', 'denoise_step_cfg'];
}

/** Request settings a model recommends instead of the request defaults (the fast model: 4 steps, guidance 1). */
export interface RequestDefaults {
  steps?: number;
  min_guidance?: number;
  max_guidance?: number;
}

/**
 * The FLOPs of one UNet call, fitted exactly from the compiled graph's shape evaluation (src/compiler/work.ts):
 *   flops(B, F, hw) = Σ coefficients[k] · basis_k(B, F, hw)
 * with B the batch (2 with guidance), F the frames and hw the latent pixels (h·w, sides multiples of the model's
 * size multiple / VAE factor); basis: 1, F, B, B·F, B·F·hw, B·F·hw², B·F²·hw (convolutions and linears grow with
 * B·F·hw, spatial attention with B·F·hw², temporal attention with B·F²·hw).
 */
export interface UnetWork {
  coefficients: number[];
}

export const UNET_WORK_BASIS = ['1', 'F', 'B', 'B·F', 'B·F·hw', 'B·F·hw²', 'B·F²·hw'] as const;

export function unetWorkBasis(batch: number, frames: number, latentPixels: number): number[] {
  const B = batch, F = frames, hw = latentPixels;
  return [1, F, B, B * F, B * F * hw, B * F * hw * hw, B * F * F * hw];
}

/** FLOPs of one UNet call of batch `batch` over `frames` frames of h×w latents. */
export function unetCallFlops(work: UnetWork, batch: number, frames: number, h: number, w: number): number {
  const basis = unetWorkBasis(batch, frames, h * w);
  return work.coefficients.reduce((a, c, k) => a + c * basis[k], 0);
}
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
  /** the sampler the UNet needs (absent before fast mode: 'euler', filled in by parseManifest) */
  sampler: SamplerName;
  /** settings this model recommends over the request defaults (absent: the request defaults) */
  requestDefaults?: RequestDefaults;
  /** the UNet's FLOPs per call as a function of the request (absent in models converted before it was recorded) */
  work?: UnetWork;
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
  if (m!.sampler === undefined) m!.sampler = 'euler';
  if (!SAMPLER_NAMES.includes(m!.sampler)) fail(`sampler ${JSON.stringify(m!.sampler)} is not one this app runs (${SAMPLER_NAMES.join(', ')}); update svd-web`);
  if (m!.work && !(Array.isArray(m!.work.coefficients) && m!.work.coefficients.length === UNET_WORK_BASIS.length && m!.work.coefficients.every(Number.isFinite))) {
    fail(`"work" has ${JSON.stringify(m!.work.coefficients)}; expected ${UNET_WORK_BASIS.length} finite coefficients`);
  }
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
