/**
 * `svd-web convert`: a diffusers-layout SVD checkpoint → four ONNX graphs + two weightless step graphs +
 * external-data shards + manifest.json. Weights stream from the safetensors files one tensor at a time into the
 * shards, so memory stays at about one tensor whatever the checkpoint's size.
 *
 * Host-independent: the checkpoint is a FileTree and the output an OutputFolder (src/io/files.ts), so the CLI
 * (files on disk, convert-folder.ts) and the browser's Hub download (OPFS, workers/convert.worker.ts) run this
 * same code and write the same bytes. The conversion is a plan of steps, one graph each; a host may run them
 * in any order and at different times (the browser converts a component as soon as its weights are staged, and
 * skips steps already done after a reload); the manifest lists the graphs in the plan's order whatever the
 * order they ran in.
 */
import { compileGraph, type CompiledGraph } from './compile.ts';
import { PRECISIONS, type AttentionKind, type Precision } from './onnx/nn.ts';
import { MemoryWeightSource, SafetensorsWeightSource, WeightStore, type IgnoreRule, type WeightSource } from './weights.ts';
import { locateCheckpoint, type CheckpointFiles } from './checkpoint.ts';
import { buildImageEncoder, parseClipVisionConfig, CLIP_IGNORED_WEIGHTS } from './architectures/clip.ts';
import { buildUnet, parseUnetConfig } from './architectures/unet.ts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig, VAE_DECODER_IGNORES, VAE_ENCODER_IGNORES } from './architectures/vae.ts';
import { MANIFEST_FORMAT, MANIFEST_VERSION, stepGraphsOf, type GraphName, type ModelManifest, type PipelineFacts, type SamplerName, type StepGraphName } from '../contract/manifest.ts';
import { ConfigError } from './architectures/config.ts';
import { buildDenoiseStep } from './architectures/denoise-step.ts';
import { buildConsistencyStep } from './architectures/consistency-step.ts';
import { animateLcmSchedulerJson } from '../numerics/animatelcm.ts';
import { fitUnetWork } from './work.ts';
import { UnetReplacementSource } from './unet-replacement.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { writeWholeFile, type FileTree, type OutputFolder, type WrittenFile } from '../io/files.ts';
import type { BuildContext } from './onnx/nn.ts';

export interface ConvertSettings {
  precision: Precision['name'];
  /** 'auto': fused attention when the UNet's largest attention would not fit unfused at the default size */
  attention?: AttentionKind | 'auto';
  /** default output resolution recorded in the manifest (the SVD pipeline's is 576×1024) */
  defaultHeight?: number;
  defaultWidth?: number;
  shardBytes?: number;
  /** store the UNet's spatial convolutions as int4 blocks (quantized precisions only; see Precision.conv) */
  convInt4?: boolean;
  /**
   * A UNet replacement: the path (in the checkpoint tree) of a single-file UNet safetensors in diffusers' names
   * (e.g. AnimateLCM-SVD-xt.safetensors) used instead of unet/'s weights; unet/config.json still describes it.
   */
  unetWeights?: string;
  /** the sampler the UNet was trained for (default 'euler'; 'animatelcm' for AnimateLCM's consistency UNet) */
  sampler?: SamplerName;
}

export interface ConvertModelOptions extends ConvertSettings {
  checkpoint: FileTree;
  output: OutputFolder;
  onProgress?: (p: ConvertProgress) => void;
}

export interface ConvertProgress {
  graph: GraphName;
  /** weight bytes read so far, over all graphs */
  doneBytes: number;
  totalBytes: number;
}

export interface ConvertResult {
  manifest: ModelManifest;
  graphs: CompiledGraph[];
}

/** The checkpoint part a step reads its weights from (null: a weightless graph). */
export type CheckpointComponent = 'image_encoder' | 'vae' | 'unet';

/** Every network in manifest order, with the component whose weights it reads; the sampler's step graphs follow. */
export const GRAPH_COMPONENTS: readonly (readonly [GraphName, CheckpointComponent])[] = [
  ['image_encoder', 'image_encoder'],
  ['vae_encoder', 'vae'],
  ['unet', 'unet'],
  ['vae_decoder', 'vae'],
];

/** The graphs a component's weights feed. */
export function graphsOf(component: CheckpointComponent): GraphName[] {
  return GRAPH_COMPONENTS.filter(([, c]) => c === component).map(([g]) => g);
}

/** Request settings the fast (AnimateLCM) model is run with by default: its authors' 4 steps, no guidance. */
export const FAST_REQUEST_DEFAULTS = { steps: 4, min_guidance: 1, max_guidance: 1 } as const;

export interface ConversionStep {
  graph: GraphName;
  component: CheckpointComponent | null;
  /** bytes of weights the step reads (the VAE's file is read twice: encoder and decoder) */
  weightBytes: number;
}

export interface ConversionPlan {
  checkpoint: CheckpointFiles;
  precision: Precision;
  attention: AttentionKind;
  facts: PipelineFacts;
  settings: ConvertSettings;
  /** in manifest order */
  steps: ConversionStep[];
  /** the weight file of each component, relative to the checkpoint (the UNet's replacement where one is given) */
  weightFiles: Record<CheckpointComponent, string>;
  sampler: SamplerName;
  totalWeightBytes: number;
  /** how each graph of the plan is built (the networks and this sampler's two step graphs) */
  build: Partial<Record<GraphName, (ctx: BuildContext) => void>>;
}

/** CLIP's normalisation (OpenAI), used when the checkpoint has no feature_extractor config. */
const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const IGNORES: Partial<Record<GraphName, IgnoreRule>> = {
  image_encoder: CLIP_IGNORED_WEIGHTS,
  vae_encoder: VAE_ENCODER_IGNORES,
  vae_decoder: VAE_DECODER_IGNORES,
};

/**
 * Reads the checkpoint's configs and the weight files' headers and decides every step; reads no weights.
 * `weightBytes(path)` gives a weight file's tensor bytes when the host knows them without opening the file
 * (the browser plans before the weights are staged); by default the headers are read.
 */
export function planConversion(tree: FileTree, settings: ConvertSettings, weightBytes?: (path: string) => number): ConversionPlan {
  const ckpt = locateCheckpoint(tree, { unetWeights: settings.unetWeights });
  const sampler = settings.sampler ?? 'euler';
  const precision = PRECISIONS[settings.precision];
  if (!precision) throw new ConfigError(`unknown precision "${settings.precision}" (choose fp32, fp16, q4f32 or q4f16)`);
  const unetConfig = parseUnetConfig(ckpt.unet.config, ckpt.unet.configPath);
  const vaeConfig = parseVaeConfig(ckpt.vae.config, ckpt.vae.configPath);
  const clipConfig = parseClipVisionConfig(ckpt.imageEncoder.config, ckpt.imageEncoder.configPath);
  const facts = pipelineFacts(ckpt, settings);
  if (clipConfig.projectionDim !== facts.embeddingDim) {
    throw new ConfigError(
      `${ckpt.imageEncoder.configPath}: "projection_dim" is ${clipConfig.projectionDim} but the UNet's cross_attention_dim is ${facts.embeddingDim}; they must match`,
    );
  }
  const attention = settings.attention && settings.attention !== 'auto' ? settings.attention : autoAttention(ckpt);
  const weightFiles = { image_encoder: ckpt.imageEncoder.weightsPath, vae: ckpt.vae.weightsPath, unet: ckpt.unet.weightsPath };
  const bytesOf = weightBytes ?? ((path: string) => headerBytes(tree, path));
  const sizes = { image_encoder: bytesOf(weightFiles.image_encoder), vae: bytesOf(weightFiles.vae), unet: bytesOf(weightFiles.unet) };
  const step = (graph: GraphName, component: CheckpointComponent | null): ConversionStep => ({ graph, component, weightBytes: component ? sizes[component] : 0 });
  const steps = [...GRAPH_COMPONENTS.map(([graph, component]) => step(graph, component)), ...stepGraphsOf(sampler).map((graph) => step(graph, null))];
  const stepGraph = (batch: 1 | 2) => (ctx: BuildContext) =>
    (sampler === 'animatelcm' ? buildConsistencyStep : buildDenoiseStep)(ctx, { latentChannels: facts.latentChannels, batch });
  const [stepGraph1, stepGraph2] = stepGraphsOf(sampler);
  return {
    checkpoint: ckpt,
    precision,
    attention,
    facts,
    settings,
    steps,
    weightFiles,
    sampler,
    totalWeightBytes: steps.reduce((a, s) => a + s.weightBytes, 0),
    build: {
      image_encoder: (ctx) => buildImageEncoder(ctx, clipConfig),
      vae_encoder: (ctx) => buildVaeEncoder(ctx, vaeConfig),
      unet: (ctx) => buildUnet(ctx, unetConfig),
      vae_decoder: (ctx) => buildVaeDecoder(ctx, vaeConfig),
      [stepGraph1]: stepGraph(1),
      [stepGraph2]: stepGraph(2),
    } as ConversionPlan['build'],
  };
}

/** Tensor bytes of a safetensors file (its header only). */
function headerBytes(tree: FileTree, path: string): number {
  const file = SafetensorsFile.read(tree.open(path));
  try {
    return [...file.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
  } finally {
    file.close();
  }
}

const STEP_GRAPHS: readonly StepGraphName[] = [...stepGraphsOf('euler'), ...stepGraphsOf('animatelcm')];
const isStepGraph = (graph: GraphName): graph is StepGraphName => (STEP_GRAPHS as readonly string[]).includes(graph);

/** The build options of one step: precision adjustments are per graph. */
function stepPrecision(plan: ConversionPlan, graph: GraphName): Precision {
  const { precision } = plan;
  // Weightless step graphs do the Euler/CFG arithmetic in float32 whatever the model's precision.
  if (isStepGraph(graph)) return PRECISIONS.fp32;
  // The VAE encoder overflows in fp16 at real sizes; diffusers upcasts it (force_upcast), and so do we: weights
  // keep the precision's storage, activations stay float32.
  if (graph === 'vae_encoder' && parseVaeConfig(plan.checkpoint.vae.config, plan.checkpoint.vae.configPath).forceUpcast && precision.activation === 'float16') {
    return { ...precision, activation: 'float32' };
  }
  if (graph === 'unet' && plan.settings.convInt4 && precision.conv === 'int8') return { ...precision, conv: 'int4' };
  return precision;
}

/**
 * Compiles one step's graph into `output`. `weights` is the step's component's safetensors file (opened by the
 * host; not closed here); `onBytes` is told the bytes of each weight read.
 */
export function runStep(plan: ConversionPlan, step: ConversionStep, output: OutputFolder, weights: SafetensorsFile | null, onBytes?: (bytes: number) => void): CompiledGraph {
  let source: WeightSource;
  if (step.component) {
    if (!weights) throw new Error(`step ${step.graph} needs the ${step.component} weights`);
    const safetensors = new SafetensorsWeightSource(weights);
    // A replacement UNet file may carry a prefix on every name ("unet."); its source strips it, or names the mapping it lacks.
    const file = step.component === 'unet' && plan.settings.unetWeights ? new UnetReplacementSource(safetensors) : safetensors;
    source = {
      label: file.label,
      names: () => file.names(),
      info: (n) => file.info(n),
      readFloat32: (n) => {
        const data = file.readFloat32(n);
        onBytes?.(file.info(n)?.byteLength ?? 0);
        return data;
      },
    };
  } else source = new MemoryWeightSource(`${step.graph} (no weights)`, new Map());
  const options = { output, precision: stepPrecision(plan, step.graph), attention: plan.attention, shardBytes: plan.settings.shardBytes };
  const build = plan.build[step.graph];
  if (!build) throw new Error(`the plan has no ${step.graph} graph`);
  // The UNet's FLOPs per call, fitted from the graph just built, so the app can say how much work a request is.
  const inspect = step.graph === 'unet' ? (graph: Parameters<typeof fitUnetWork>[0]) => ({ work: fitUnetWork(graph, plan.facts) }) : undefined;
  return compileGraph(step.graph, new WeightStore(source, IGNORES[step.graph]), options, build, inspect);
}

/** The manifest of a finished conversion: graphs and files in the plan's order, whatever order the steps ran in. */
export function buildManifest(plan: ConversionPlan, compiled: CompiledGraph[]): ModelManifest {
  const byName = new Map(compiled.map((g) => [g.name, g]));
  const graphs = plan.steps.map((s) => {
    const g = byName.get(s.graph);
    if (!g) throw new Error(`the conversion has no ${s.graph} graph yet`);
    return g;
  });
  const { precision, checkpoint: ckpt } = plan;
  const files: WrittenFile[] = graphs.flatMap((g) => [g.model, ...g.externalData]);
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    precision: precision.name,
    attention: plan.attention,
    requiredFeatures: precision.activation === 'float16' ? ['shader-f16'] : [],
    sampler: plan.sampler,
    ...(plan.sampler === 'animatelcm' ? { requestDefaults: { ...FAST_REQUEST_DEFAULTS } } : {}),
    ...(byName.get('unet')?.work ? { work: byName.get('unet')!.work } : {}),
    graphs: Object.fromEntries(
      graphs.map((g) => [g.name, { model: g.model.path, externalData: g.externalData.map((f) => f.path), nodeCount: g.nodeCount, inputs: g.inputs }]),
    ) as ModelManifest['graphs'],
    files,
    totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    pipeline: plan.facts,
    // a replacement UNet's sampler is not the checkpoint's scheduler
    scheduler: plan.sampler === 'animatelcm' ? animateLcmSchedulerJson() : ckpt.scheduler,
    sources: {
      unet: ckpt.unet.config,
      vae: ckpt.vae.config,
      image_encoder: ckpt.imageEncoder.config,
      ...(ckpt.featureExtractor ? { feature_extractor: ckpt.featureExtractor } : {}),
    },
  };
}

/** manifest.json exactly as the CLI writes it. */
export function manifestBytes(manifest: ModelManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
}

/** The whole conversion in one go (the CLI): every step in order, then manifest.json. */
export function convertModel(options: ConvertModelOptions): ConvertResult {
  const plan = planConversion(options.checkpoint, options);
  const tree = options.checkpoint;
  const open: Partial<Record<CheckpointComponent, SafetensorsFile>> = {};
  let doneBytes = 0;
  const graphs: CompiledGraph[] = [];
  try {
    for (const step of plan.steps) {
      let weights: SafetensorsFile | null = null;
      if (step.component) weights = open[step.component] ??= SafetensorsFile.read(tree.open(plan.weightFiles[step.component]));
      graphs.push(
        runStep(plan, step, options.output, weights, (n) => {
          doneBytes += n;
          options.onProgress?.({ graph: step.graph, doneBytes, totalBytes: plan.totalWeightBytes });
        }),
      );
    }
  } finally {
    for (const f of Object.values(open)) f.close();
  }
  const manifest = buildManifest(plan, graphs);
  writeWholeFile(options.output, 'manifest.json', manifestBytes(manifest));
  return { manifest, graphs };
}

function pipelineFacts(ckpt: CheckpointFiles, options: ConvertSettings): PipelineFacts {
  const unet = ckpt.unet.config as Record<string, number>;
  const vae = ckpt.vae.config as Record<string, unknown>;
  const clip = ckpt.imageEncoder.config as Record<string, unknown>;
  const fe = ckpt.featureExtractor as { image_mean?: number[]; image_std?: number[] } | undefined;
  const levels = (vae.block_out_channels as number[]).length;
  return {
    latentChannels: (vae.latent_channels as number) ?? 4,
    unetInChannels: unet.in_channels ?? 8,
    vaeScaleFactor: 2 ** (levels - 1),
    sizeMultiple: 2 ** (levels - 1) * 2 ** (((unet as unknown as { down_block_types?: unknown[] }).down_block_types?.length ?? 4) - 1),
    scalingFactor: (vae.scaling_factor as number) ?? 0.18215,
    embeddingDim: unet.cross_attention_dim,
    clip: {
      imageSize: ((clip.vision_config as Record<string, number>)?.image_size ?? clip.image_size) as number,
      mean: (fe?.image_mean as [number, number, number]) ?? CLIP_MEAN,
      std: (fe?.image_std as [number, number, number]) ?? CLIP_STD,
    },
    defaultFrames: unet.num_frames ?? 14,
    defaultHeight: options.defaultHeight ?? 576,
    defaultWidth: options.defaultWidth ?? 1024,
  };
}

/**
 * Unfused attention materialises [batch·frames·heads, L, L] scores; at the resolution real SVD was trained for
 * (UNet sample_size 96 → L = 9216 at the first level, 23.8 GB in fp16 at 576×1024) only the fused kernel fits.
 * Small models keep plain attention, which is correct on every execution provider.
 */
function autoAttention(ckpt: CheckpointFiles): AttentionKind {
  const sampleSize = ckpt.unet.config.sample_size;
  const side = typeof sampleSize === 'number' ? sampleSize : Array.isArray(sampleSize) ? Math.max(...(sampleSize as number[])) : 0;
  return side * side > 4096 ? 'fused' : 'plain';
}
