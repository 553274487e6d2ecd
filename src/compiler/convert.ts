/**
 * `svd-web convert`: a diffusers-layout SVD checkpoint → four ONNX graphs + external-data shards + manifest.json.
 * Weights stream from the safetensors files one tensor at a time into the shards, so memory stays at about
 * one tensor whatever the checkpoint's size.
 */
import { mkdirSync } from 'node:fs';
import { writeHashedFile, type WrittenFile } from './writer.ts';
import { compileGraph, type CompiledGraph } from './compile.ts';
import { PRECISIONS, type AttentionKind, type Precision } from './onnx/nn.ts';
import { MemoryWeightSource, SafetensorsWeightSource, WeightStore, type WeightSource } from './weights.ts';
import { locateCheckpoint, type CheckpointFiles } from './checkpoint.ts';
import { buildImageEncoder, parseClipVisionConfig, CLIP_IGNORED_WEIGHTS } from './architectures/clip.ts';
import { buildUnet, parseUnetConfig } from './architectures/unet.ts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig, VAE_DECODER_IGNORES, VAE_ENCODER_IGNORES } from './architectures/vae.ts';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type NetworkName, type ModelManifest, type PipelineFacts } from '../contract/manifest.ts';
import { ConfigError } from './architectures/config.ts';
import { buildDenoiseStep } from './architectures/denoise-step.ts';

export interface ConvertOptions {
  from: string;
  out: string;
  precision: Precision['name'];
  /** 'auto': fused attention when the UNet's largest attention would not fit unfused at the default size */
  attention?: AttentionKind | 'auto';
  /** default output resolution recorded in the manifest (the SVD pipeline's is 576×1024) */
  defaultHeight?: number;
  defaultWidth?: number;
  shardBytes?: number;
  /** store the UNet's spatial convolutions as int4 blocks (quantized precisions only; see Precision.conv) */
  convInt4?: boolean;
  onProgress?: (p: ConvertProgress) => void;
}

export interface ConvertProgress {
  graph: NetworkName;
  /** weight bytes read so far, over all graphs */
  doneBytes: number;
  totalBytes: number;
}

export interface ConvertResult {
  manifest: ModelManifest;
  graphs: CompiledGraph[];
}

/** CLIP's normalisation (OpenAI), used when the checkpoint has no feature_extractor config. */
const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export function convertCheckpoint(options: ConvertOptions): ConvertResult {
  const ckpt = locateCheckpoint(options.from);
  const precision = PRECISIONS[options.precision];
  if (!precision) throw new ConfigError(`unknown precision "${options.precision}" (choose fp32, fp16, q4f32 or q4f16)`);
  mkdirSync(options.out, { recursive: true });

  const unetConfig = parseUnetConfig(ckpt.unet.config, ckpt.unet.configPath);
  const vaeConfig = parseVaeConfig(ckpt.vae.config, ckpt.vae.configPath);
  const clipConfig = parseClipVisionConfig(ckpt.imageEncoder.config, ckpt.imageEncoder.configPath);
  const facts = pipelineFacts(ckpt, options);
  if (clipConfig.projectionDim !== facts.embeddingDim) {
    throw new ConfigError(
      `${ckpt.imageEncoder.configPath}: "projection_dim" is ${clipConfig.projectionDim} but the UNet's cross_attention_dim is ${facts.embeddingDim}; they must match`,
    );
  }
  const attention = options.attention && options.attention !== 'auto' ? options.attention : autoAttention(ckpt);
  const buildOptions = { outDir: options.out, precision, attention, shardBytes: options.shardBytes };
  // The VAE encoder overflows in fp16 at real sizes; diffusers upcasts it (force_upcast), and so do we: weights
  // keep the precision's storage, activations stay float32.
  const encoderOptions = vaeConfig.forceUpcast && precision.activation === 'float16'
    ? { ...buildOptions, precision: { ...precision, activation: 'float32' as const } }
    : buildOptions;

  const sources = {
    image_encoder: new SafetensorsWeightSource(ckpt.imageEncoder.weightsPath),
    vae: new SafetensorsWeightSource(ckpt.vae.weightsPath),
    unet: new SafetensorsWeightSource(ckpt.unet.weightsPath),
  };
  const sizeOf = (s: WeightSource) => s.names().reduce((a, n) => a + ((s.info(n) as { byteLength?: number })?.byteLength ?? 0), 0);
  const totalBytes = sizeOf(sources.image_encoder) + 2 * sizeOf(sources.vae) + sizeOf(sources.unet);
  let doneBytes = 0;
  const tracked = (graph: NetworkName, source: WeightSource): WeightSource => ({
    label: source.label,
    names: () => source.names(),
    info: (n) => source.info(n),
    readFloat32: (n) => {
      const data = source.readFloat32(n);
      doneBytes += (source.info(n) as { byteLength?: number })?.byteLength ?? 0;
      options.onProgress?.({ graph, doneBytes, totalBytes });
      return data;
    },
  });

  const graphs: CompiledGraph[] = [];
  try {
    graphs.push(
      compileGraph('image_encoder', new WeightStore(tracked('image_encoder', sources.image_encoder), CLIP_IGNORED_WEIGHTS), buildOptions, (ctx) =>
        buildImageEncoder(ctx, clipConfig),
      ),
    );
    graphs.push(
      compileGraph('vae_encoder', new WeightStore(tracked('vae_encoder', sources.vae), VAE_ENCODER_IGNORES), encoderOptions, (ctx) =>
        buildVaeEncoder(ctx, vaeConfig),
      ),
    );
    const unetOptions = options.convInt4 && precision.conv === 'int8' ? { ...buildOptions, precision: { ...precision, conv: 'int4' as const } } : buildOptions;
    graphs.push(compileGraph('unet', new WeightStore(tracked('unet', sources.unet)), unetOptions, (ctx) => buildUnet(ctx, unetConfig)));
    graphs.push(
      compileGraph('vae_decoder', new WeightStore(tracked('vae_decoder', sources.vae), VAE_DECODER_IGNORES), buildOptions, (ctx) =>
        buildVaeDecoder(ctx, vaeConfig),
      ),
    );
    // Weightless step graphs for the GPU-resident denoising loop (with and without classifier-free guidance).
    const noWeights = () => new WeightStore(new MemoryWeightSource('denoise step', new Map()));
    const stepOptions = { ...buildOptions, precision: PRECISIONS.fp32 };
    graphs.push(compileGraph('denoise_step', noWeights(), stepOptions, (ctx) => buildDenoiseStep(ctx, { latentChannels: facts.latentChannels, batch: 1 })));
    graphs.push(compileGraph('denoise_step_cfg', noWeights(), stepOptions, (ctx) => buildDenoiseStep(ctx, { latentChannels: facts.latentChannels, batch: 2 })));
  } finally {
    for (const s of Object.values(sources)) s.close();
  }

  const files: WrittenFile[] = graphs.flatMap((g) => [g.model, ...g.externalData]);
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    precision: precision.name,
    attention,
    requiredFeatures: precision.activation === 'float16' ? ['shader-f16'] : [],
    graphs: Object.fromEntries(
      graphs.map((g) => [g.name, { model: g.model.path, externalData: g.externalData.map((f) => f.path), nodeCount: g.nodeCount, inputs: g.inputs }]),
    ) as ModelManifest['graphs'],
    files,
    totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    pipeline: facts,
    scheduler: ckpt.scheduler,
    sources: {
      unet: ckpt.unet.config,
      vae: ckpt.vae.config,
      image_encoder: ckpt.imageEncoder.config,
      ...(ckpt.featureExtractor ? { feature_extractor: ckpt.featureExtractor } : {}),
    },
  };
  writeHashedFile(options.out, 'manifest.json', new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  return { manifest, graphs };
}

function pipelineFacts(ckpt: CheckpointFiles, options: ConvertOptions): PipelineFacts {
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
