/**
 * diffusers' AutoencoderKLTemporalDecoder (SVD's `vae`), compiled as two graphs:
 *  - encoder: Encoder + quant_conv → mean of the latent distribution (the first `latent_channels` channels of
 *    the moments; unscaled: the pipeline does not multiply image latents by scaling_factor);
 *  - decoder: TemporalDecoder on ONE temporal window: the n input latents are the n frames of one video chunk,
 *    so the temporal layers (3×1×1 convolutions, learned AlphaBlender mixes) mix across all n of them.
 * Module names mirror the checkpoint: encoder.{conv_in, down_blocks.N.{resnets.M, downsamplers.0.conv}, mid_block,
 * conv_norm_out, conv_out}, quant_conv, decoder.{conv_in, mid_block, up_blocks.N.{resnets.M, upsamplers.0.conv},
 * conv_norm_out, conv_out, time_conv_out}.
 */
import { add, attention, cast, conv, dimsOf, groupNorm, linear, mul, reshape, silu, transpose, type BuildContext, type Module } from '../onnx/nn.ts';
import type { Value } from '../onnx/graph.ts';
import { boolField, configError, intField, intList, numberField, stringList } from './config.ts';

export const VAE_DOWN_BLOCK_TYPES = ['DownEncoderBlock2D'] as const;

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  downBlockTypes: string[];
  layersPerBlock: number;
  normNumGroups: number;
  scalingFactor: number;
  forceUpcast: boolean;
}

/** Every GroupNorm of this model (encoder, decoder and both attentions) uses eps 1e-6 … */
const NORM_EPS = 1e-6;
/** … except the temporal resnets (TemporalResnetBlock, temporal_eps). */
const TEMPORAL_EPS = 1e-5;

export function parseVaeConfig(raw: Record<string, unknown>, file: string): VaeConfig {
  const blocks = raw.block_out_channels;
  if (!Array.isArray(blocks) || blocks.length === 0) throw configError(file, 'block_out_channels', blocks, 'a non-empty list of positive integers');
  const blockOutChannels = intList(raw, 'block_out_channels', file, blocks.length);
  const downBlockTypes = stringList(raw, 'down_block_types', file, VAE_DOWN_BLOCK_TYPES);
  if (downBlockTypes.length !== blockOutChannels.length) {
    throw configError(file, 'down_block_types', downBlockTypes, `one block type per block_out_channels entry (${blockOutChannels.length})`);
  }
  // AutoencoderKLTemporalDecoder has no norm_num_groups argument: its Encoder and TemporalDecoder always use 32.
  // The field is read so that a config asking for anything else fails loudly instead of silently mismatching.
  const normNumGroups = intField(raw, 'norm_num_groups', file, 32);
  if (normNumGroups !== 32) throw configError(file, 'norm_num_groups', normNumGroups, '32 (AutoencoderKLTemporalDecoder fixes 32 groups)');
  for (const c of blockOutChannels) {
    if (c % normNumGroups) throw configError(file, 'block_out_channels', blockOutChannels, `multiples of norm_num_groups ${normNumGroups}`);
  }
  const config: VaeConfig = {
    inChannels: intField(raw, 'in_channels', file, 3),
    outChannels: intField(raw, 'out_channels', file, 3),
    latentChannels: intField(raw, 'latent_channels', file, 4),
    blockOutChannels,
    downBlockTypes,
    layersPerBlock: intField(raw, 'layers_per_block', file, 1),
    normNumGroups,
    scalingFactor: numberField(raw, 'scaling_factor', file, 0.18215),
    forceUpcast: boolField(raw, 'force_upcast', file, true),
  };
  // MidBlockTemporalDecoder runs resnets[0], then zip(resnets[1:], attentions) with ONE attention: with
  // layers_per_block ≠ 2 the reference holds resnets (or an attention) that its forward never uses.
  if (config.layersPerBlock !== 2) throw configError(file, 'layers_per_block', config.layersPerBlock, '2 (the temporal decoder mid block is only well-defined for 2)');
  if (config.inChannels === 0 || config.outChannels === 0 || config.latentChannels === 0) {
    throw configError(file, 'latent_channels', config.latentChannels, 'positive in_channels, out_channels and latent_channels');
  }
  return config;
}

/** Spatial reduction of the encoder (= upscaling of the decoder): one stride-2 step per block but the last. */
export function vaeScaleFactor(config: VaeConfig): number {
  return 2 ** (config.blockOutChannels.length - 1);
}

/**
 * encoder.* + quant_conv.* and decoder.* live in ONE checkpoint file, and each graph takes its weights from its own
 * WeightStore over that file. Each store ignores exactly the OTHER graph's prefixes, so `assertAllTaken` still proves
 * that the graph used every weight of its own half (and any tensor outside both halves, e.g. a post_quant_conv that
 * this model does not have, is reported by both) rather than skipping a whole file's leftovers.
 */
export const VAE_ENCODER_WEIGHTS = (name: string) => name.startsWith('encoder.') || name.startsWith('quant_conv.');
export const VAE_DECODER_WEIGHTS = (name: string) => name.startsWith('decoder.');
/** Ignore rule for the encoder graph's WeightStore. */
export const VAE_ENCODER_IGNORES = VAE_DECODER_WEIGHTS;
/** Ignore rule for the decoder graph's WeightStore. */
export const VAE_DECODER_IGNORES = VAE_ENCODER_WEIGHTS;

// ---------------------------------------------------------------------------------------------------------
// Encoder

/** sample [B, in, H, W] in [-1, 1] → latent [B, latent_channels, H/f, W/f] (mean of the distribution, unscaled). */
export function buildVaeEncoder(ctx: BuildContext, config: VaeConfig): void {
  const g = ctx.graph;
  const groups = config.normNumGroups;
  const blocks = config.blockOutChannels;
  const sample = g.input('sample', 'float32', ['batch', config.inChannels, 'height', 'width']);
  const root = ctx.root();
  const enc = root.sub('encoder');

  let x = conv(enc.sub('conv_in'), cast(g, sample, ctx.act), config.inChannels, blocks[0], [3, 3], { padding: 1 });
  let channels = blocks[0];
  for (let i = 0; i < blocks.length; i++) {
    const block = enc.sub('down_blocks').sub(i);
    for (let j = 0; j < config.layersPerBlock; j++) {
      x = resnet2d(block.sub('resnets').sub(j), x, channels, blocks[i], groups);
      channels = blocks[i];
    }
    if (i < blocks.length - 1) x = downsample(block.sub('downsamplers').sub(0), x, channels);
  }

  const mid = enc.sub('mid_block');
  x = resnet2d(mid.sub('resnets').sub(0), x, channels, channels, groups);
  x = spatialAttention(mid.sub('attentions').sub(0), x, channels, groups);
  x = resnet2d(mid.sub('resnets').sub(1), x, channels, channels, groups);

  x = silu(g, groupNorm(enc.sub('conv_norm_out'), x, channels, groups, NORM_EPS), enc.hint('conv_act'));
  const moments = 2 * config.latentChannels;
  x = conv(enc.sub('conv_out'), x, channels, moments, [3, 3], { padding: 1 });
  x = conv(root.sub('quant_conv'), x, moments, moments, [1, 1]);
  // DiagonalGaussianDistribution.mode() = mean = moments[:, :latent_channels] (the rest is the log-variance)
  const mean = g.op('Slice', [x, g.int64s([0]), g.int64s([config.latentChannels]), g.int64s([1])], {}, { name: 'latent_mean' });
  g.output(cast(g, mean, 'float32'), 'latent', ['batch', config.latentChannels, 'latent_height', 'latent_width']);
}

/**
 * Downsample2D of the VAE (padding 0): F.pad(x, (0, 1, 0, 1)) — one zero column on the right, one zero row at the
 * bottom — then a stride-2 3×3 convolution without padding.
 */
function downsample(m: Module, x: Value, channels: number): Value {
  const g = m.g;
  const padded = g.op('Pad', [x, g.int64s([0, 0, 0, 0, 0, 0, 1, 1])], { mode: 'constant' }, { name: m.hint('pad') });
  return conv(m.sub('conv'), padded, channels, channels, [3, 3], { stride: 2, padding: 0 });
}

// ---------------------------------------------------------------------------------------------------------
// Decoder

/**
 * latent [n, latent_channels, h, w] → frames [n, out_channels, h·f, w·f]: decode(z, num_frames = n), i.e. the n
 * latents form one temporal window (batch 1, image_only_indicator all zeros).
 */
export function buildVaeDecoder(ctx: BuildContext, config: VaeConfig): void {
  const g = ctx.graph;
  const groups = config.normNumGroups;
  const reversed = [...config.blockOutChannels].reverse();
  const latent = g.input('latent', 'float32', ['frames', config.latentChannels, 'latent_height', 'latent_width']);
  const dec = ctx.root().sub('decoder');

  let channels = reversed[0];
  let x = conv(dec.sub('conv_in'), cast(g, latent, ctx.act), config.latentChannels, channels, [3, 3], { padding: 1 });

  const mid = dec.sub('mid_block');
  x = spatioTemporalResBlock(mid.sub('resnets').sub(0), x, channels, channels, groups);
  x = spatialAttention(mid.sub('attentions').sub(0), x, channels, groups);
  x = spatioTemporalResBlock(mid.sub('resnets').sub(1), x, channels, channels, groups);

  for (let i = 0; i < reversed.length; i++) {
    const block = dec.sub('up_blocks').sub(i);
    for (let j = 0; j < config.layersPerBlock + 1; j++) {
      x = spatioTemporalResBlock(block.sub('resnets').sub(j), x, channels, reversed[i], groups);
      channels = reversed[i];
    }
    if (i < reversed.length - 1) x = upsample(block.sub('upsamplers').sub(0), x, channels);
  }

  x = silu(g, groupNorm(dec.sub('conv_norm_out'), x, channels, groups, NORM_EPS), dec.hint('conv_act'));
  x = conv(dec.sub('conv_out'), x, channels, config.outChannels, [3, 3], { padding: 1 });
  const out = fromVideo(dec, conv(dec.sub('time_conv_out'), toVideo(dec, x), config.outChannels, config.outChannels, [3, 1, 1], { padding: [1, 0, 0] }));
  g.output(cast(g, out, 'float32'), 'frames', ['frames', config.outChannels, 'height', 'width']);
}

/** [F, C, H, W] (frames of one video) → [1, C, F, H, W] for the 3-D temporal convolutions. No shape arithmetic. */
function toVideo(m: Module, x: Value): Value {
  const g = m.g;
  return g.op('Unsqueeze', [transpose(g, x, [1, 0, 2, 3], m.hint('to_video_t')), g.int64s([0])], {}, { name: m.hint('to_video') });
}

/** [1, C, F, H, W] → [F, C, H, W]. */
function fromVideo(m: Module, x: Value): Value {
  const g = m.g;
  return transpose(g, g.op('Squeeze', [x, g.int64s([0])], {}, { name: m.hint('from_video_s') }), [1, 0, 2, 3], m.hint('from_video'));
}

/**
 * SpatioTemporalResBlock with merge_strategy "learned" and switch_spatial_to_temporal_mix (the temporal decoder):
 * s = spatial_res_block(x); t = temporal_res_block(s as video) = s + h; α = sigmoid(mix_factor), switched to 1 − α,
 * so out = (1 − σ)·s + σ·t = s + σ·h (σ computed at build time; this form saves two nodes per block).
 * image_only_indicator is all zeros in decode(), and "learned" ignores it anyway.
 */
function spatioTemporalResBlock(m: Module, x: Value, inChannels: number, outChannels: number, groups: number): Value {
  const { ctx, g } = m;
  const spatial = toVideo(m, resnet2d(m.sub('spatial_res_block'), x, inChannels, outChannels, groups));
  const h = temporalResidual(m.sub('temporal_res_block'), spatial, outChannels, groups);
  const mixFactor = m.sub('time_mixer').take('mix_factor', [1]).read()[0];
  const sigma = 1 / (1 + Math.exp(-mixFactor));
  const mixed = add(g, spatial, mul(g, h, g.scalar(sigma, ctx.act), m.hint('time_mixer/scale')), m.hint('time_mixer'));
  return fromVideo(m, mixed);
}

/**
 * The residual branch h of TemporalResnetBlock on [1, C, F, H, W] (the block returns x + h; in = out channels, so no
 * shortcut conv): GroupNorm over (C/G, F, H, W), SiLU, Conv3d (3,1,1) with padding (1,0,0), twice.
 */
function temporalResidual(m: Module, x: Value, channels: number, groups: number): Value {
  const g = m.g;
  let h = silu(g, groupNorm(m.sub('norm1'), x, channels, groups, TEMPORAL_EPS, 5), m.hint('act1'));
  h = conv(m.sub('conv1'), h, channels, channels, [3, 1, 1], { padding: [1, 0, 0] });
  h = silu(g, groupNorm(m.sub('norm2'), h, channels, groups, TEMPORAL_EPS, 5), m.hint('act2'));
  return conv(m.sub('conv2'), h, channels, channels, [3, 1, 1], { padding: [1, 0, 0] });
}

/** Upsample2D(use_conv): nearest 2× (torch's floor(dst/2) indexing) then a 3×3 convolution. */
function upsample(m: Module, x: Value, channels: number): Value {
  const g = m.g;
  const scales = g.constant('float32', [4], [1, 1, 2, 2]);
  const up = g.op('Resize', [x, null, scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, { name: m.hint('Resize') });
  return conv(m.sub('conv'), up, channels, channels, [3, 3], { padding: 1 });
}

// ---------------------------------------------------------------------------------------------------------
// Shared 2-D blocks

/** ResnetBlock2D without time embedding: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), 1×1 shortcut when C changes. */
function resnet2d(m: Module, x: Value, inChannels: number, outChannels: number, groups: number): Value {
  const g = m.g;
  let h = silu(g, groupNorm(m.sub('norm1'), x, inChannels, groups, NORM_EPS), m.hint('act1'));
  h = conv(m.sub('conv1'), h, inChannels, outChannels, [3, 3], { padding: 1 });
  h = silu(g, groupNorm(m.sub('norm2'), h, outChannels, groups, NORM_EPS), m.hint('act2'));
  h = conv(m.sub('conv2'), h, outChannels, outChannels, [3, 3], { padding: 1 });
  const shortcut = inChannels === outChannels ? x : conv(m.sub('conv_shortcut'), x, inChannels, outChannels, [1, 1]);
  return add(g, shortcut, h, m.hint('residual'));
}

/**
 * Attention over the H·W positions of [B, C, H, W] as built by UNetMidBlock2D / MidBlockTemporalDecoder:
 * heads = C / attention_head_dim = 1, head dim C, GroupNorm(32, eps 1e-6) first, residual added, rescale 1.
 */
function spatialAttention(m: Module, x: Value, channels: number, groups: number): Value {
  const g = m.g;
  const normed = groupNorm(m.sub('group_norm'), x, channels, groups, NORM_EPS);
  const tokens = transpose(g, reshape(g, normed, [0, channels, -1], m.hint('flatten')), [0, 2, 1], m.hint('tokens')); // [B, HW, C]
  const q = linear(m.sub('to_q'), tokens, channels, channels);
  const k = linear(m.sub('to_k'), tokens, channels, channels);
  const v = linear(m.sub('to_v'), tokens, channels, channels);
  const out = linear(m.sub('to_out').sub(0), attention(m, q, k, v, 1, channels), channels, channels);
  const back = g.op('Reshape', [transpose(g, out, [0, 2, 1], m.hint('untokens')), dimsOf(g, x, 0)], {}, { name: m.hint('unflatten') });
  return add(g, back, x, m.hint('residual'));
}
