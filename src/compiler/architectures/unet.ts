/**
 * diffusers' UNetSpatioTemporalConditionModel (SVD's `unet`):
 *   sample [B,F,in,h,w], timestep [1], encoder_hidden_states [B,1,D], added_time_ids [B,3] → noise_pred [B,F,out,h,w].
 * Inside, frames are flattened to rows b·F + f ([B·F, C, H, W]); the temporal layers regroup them per video.
 * image_only_indicator is all zeros, so every AlphaBlender ("learned_with_images") mixes with the build-time constant
 * α = sigmoid(mix_factor): α·spatial + (1 − α)·temporal.
 *
 * Module names mirror the checkpoint: conv_in, time_proj (no weights), time_embedding.linear_{1,2}, add_embedding.linear_{1,2},
 * down_blocks.N.{resnets.M.{spatial_res_block, temporal_res_block, time_mixer}, attentions.M, downsamplers.0.conv},
 * mid_block.{resnets.0, attentions.0, resnets.1}, up_blocks.N.{resnets.M, attentions.M, upsamplers.0.conv},
 * conv_norm_out, conv_out; attentions.M = TransformerSpatioTemporalModel {norm, proj_in, transformer_blocks.L,
 * temporal_transformer_blocks.L, time_pos_embed.linear_{1,2}, time_mixer, proj_out}.
 *
 * Graph shape: dynamic sizes (B, F, and H, W once per resolution level) are read with one Shape node each; every
 * reshape target built from them is made once and shared (ShapeCache), so no layer carries shape arithmetic.
 * The transformers keep tokens as [B·F, H·W, C] for the spatial block and as [B, F, H·W, C] for the temporal block
 * (attention over axis 1), which needs no transposes around the temporal block.
 */
import { add, attention, cast, concat, conv, dimsOf, gelu, groupNorm, layerNorm, linear, mul, reshape, shapeTensor, silu, transpose, type BuildContext, type Module } from '../onnx/nn.ts';
import { roundToFloat16 } from '../../io/float16.ts';
import type { Graph, Value } from '../onnx/graph.ts';
import { ConfigError, configError, intField, intList, stringList } from './config.ts';

export const UNET_DOWN_BLOCK_TYPES = ['CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'] as const;
export const UNET_UP_BLOCK_TYPES = ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'] as const;

export interface UnetConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  downBlockTypes: string[];
  upBlockTypes: string[];
  /** per down block (up blocks use the reversed list, +1 resnet each) */
  layersPerBlock: number[];
  transformerLayersPerBlock: number[];
  numAttentionHeads: number[];
  /** the width D of encoder_hidden_states (one value: the graph has one such input) */
  crossAttentionDim: number;
  additionTimeEmbedDim: number;
  projectionClassEmbeddingsInputDim: number;
  /** the default frame count of the checkpoint (14 for svd, 25 for svd-xt); the graph itself takes any F */
  numFrames: number;
}

/** GroupNorm groups everywhere in this model (ResnetBlock2D, TemporalResnetBlock, transformer norm, conv_norm_out). */
const GROUPS = 32;
/** added_time_ids = [fps − 1, motion_bucket_id, noise_aug_strength] */
const NUM_ADDED_TIME_IDS = 3;

export function parseUnetConfig(raw: Record<string, unknown>, file: string): UnetConfig {
  const blocks = raw.block_out_channels ?? [320, 640, 1280, 1280];
  if (!Array.isArray(blocks) || blocks.length === 0) throw configError(file, 'block_out_channels', blocks, 'a non-empty list of positive integers');
  const n = blocks.length;
  const blockOutChannels = intList(raw, 'block_out_channels', file, n);
  const downBlockTypes = stringList(raw, 'down_block_types', file, UNET_DOWN_BLOCK_TYPES, [
    'CrossAttnDownBlockSpatioTemporal',
    'CrossAttnDownBlockSpatioTemporal',
    'CrossAttnDownBlockSpatioTemporal',
    'DownBlockSpatioTemporal',
  ]);
  const upBlockTypes = stringList(raw, 'up_block_types', file, UNET_UP_BLOCK_TYPES, [
    'UpBlockSpatioTemporal',
    'CrossAttnUpBlockSpatioTemporal',
    'CrossAttnUpBlockSpatioTemporal',
    'CrossAttnUpBlockSpatioTemporal',
  ]);
  if (downBlockTypes.length !== n) throw configError(file, 'down_block_types', downBlockTypes, `one block type per block_out_channels entry (${n})`);
  if (upBlockTypes.length !== n) throw configError(file, 'up_block_types', upBlockTypes, `one block type per block_out_channels entry (${n})`);
  const crossDims = intList(raw, 'cross_attention_dim', file, n, 1024);
  if (crossDims.some((d) => d !== crossDims[0])) {
    throw configError(file, 'cross_attention_dim', raw.cross_attention_dim, 'one width for every block (the graph has a single encoder_hidden_states input)');
  }
  const config: UnetConfig = {
    inChannels: intField(raw, 'in_channels', file, 8),
    outChannels: intField(raw, 'out_channels', file, 4),
    blockOutChannels,
    downBlockTypes,
    upBlockTypes,
    layersPerBlock: intList(raw, 'layers_per_block', file, n, 2),
    transformerLayersPerBlock: intList(raw, 'transformer_layers_per_block', file, n, 1),
    numAttentionHeads: intList(raw, 'num_attention_heads', file, n, [5, 10, 20, 20]),
    crossAttentionDim: crossDims[0],
    additionTimeEmbedDim: intField(raw, 'addition_time_embed_dim', file, 256),
    projectionClassEmbeddingsInputDim: intField(raw, 'projection_class_embeddings_input_dim', file, 768),
    numFrames: intField(raw, 'num_frames', file, 25),
  };
  if (config.inChannels === 0 || config.outChannels === 0) throw configError(file, 'in_channels', config.inChannels, 'positive in_channels and out_channels');
  for (const c of blockOutChannels) {
    if (c % GROUPS) throw configError(file, 'block_out_channels', blockOutChannels, `multiples of ${GROUPS} (GroupNorm groups)`);
  }
  blockOutChannels.forEach((c, i) => {
    if (c % config.numAttentionHeads[i]) {
      throw configError(file, 'num_attention_heads', raw.num_attention_heads, `divisors of block_out_channels ${JSON.stringify(blockOutChannels)}`);
    }
  });
  if (config.additionTimeEmbedDim % 2 || config.additionTimeEmbedDim === 0) {
    throw configError(file, 'addition_time_embed_dim', config.additionTimeEmbedDim, 'a positive even integer');
  }
  if (config.projectionClassEmbeddingsInputDim !== NUM_ADDED_TIME_IDS * config.additionTimeEmbedDim) {
    throw configError(
      file,
      'projection_class_embeddings_input_dim',
      config.projectionClassEmbeddingsInputDim,
      `${NUM_ADDED_TIME_IDS} × addition_time_embed_dim = ${NUM_ADDED_TIME_IDS * config.additionTimeEmbedDim} (added_time_ids has ${NUM_ADDED_TIME_IDS} values)`,
    );
  }
  if (config.numFrames === 0) throw configError(file, 'num_frames', config.numFrames, 'a positive integer');
  return config;
}

/** The spatial reduction of the UNet: one stride-2 step per down block but the last. */
export function unetScaleFactor(config: UnetConfig): number {
  return 2 ** (config.blockOutChannels.length - 1);
}

export interface UnetBuildOptions {
  /**
   * Debugging aid: module paths (e.g. 'down_blocks.0', 'mid_block') whose outputs become extra float32 graph
   * outputs named `hook.<path>`, in the reference's [B·F, C, H, W] layout. Production graphs pass none.
   */
  hooks?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------

/** Reshape targets built from dynamic dims, made once per distinct target and shared by every layer that needs it. */
class ShapeCache {
  private readonly cache = new Map<string, Value>();
  constructor(private readonly g: Graph) {}
  get(dims: (number | Value)[]): Value {
    const key = dims.map((d) => (typeof d === 'number' ? String(d) : `@${d.name}`)).join(',');
    let v = this.cache.get(key);
    if (!v) {
      v = shapeTensor(this.g, dims);
      this.cache.set(key, v);
    }
    return v;
  }
}

interface Level {
  /** [H, W] of this resolution level, int64 [2] */
  hw: Value;
  /** H·W, int64 [1] (made on first use) */
  hwProduct?: Value;
}

/** What every block shares: the dynamic dims, the conditioning tensors and the shape cache. */
interface Shared {
  ctx: BuildContext;
  g: Graph;
  shapes: ShapeCache;
  /** int64 [1] each */
  B: Value;
  F: Value;
  BF: Value;
  /** [B, F] int64 [2] */
  BF2: Value;
  /** silu(time_embedding + add_embedding), repeated over frames: [B, F, T] */
  embAct: Value;
  tembChannels: number;
  /** encoder_hidden_states repeated over frames: [B·F, 1, D] (spatial cross-attention) */
  contextFrames: Value;
  /** encoder_hidden_states as [B, 1, 1, D] (temporal cross-attention: every frame's context is the video's) */
  contextVideo: Value;
  crossDim: number;
  /** frame index 0..F−1 as float32 [F, 1, 1] */
  framePositions: Value;
  /** Timesteps(C) of the frame indices, [F, 1, C] in ctx.act, per C */
  frameSinusoids: Map<number, Value>;
  hooks: Set<string>;
}

export function buildUnet(ctx: BuildContext, config: UnetConfig, options: UnetBuildOptions = {}): void {
  const g = ctx.graph;
  const root = ctx.root();
  const blocks = config.blockOutChannels;
  const c0 = blocks[0];
  const tembChannels = 4 * c0;
  const D = config.crossAttentionDim;

  const sample = g.input('sample', 'float32', ['batch', 'frames', config.inChannels, 'height', 'width']);
  const timestep = g.input('timestep', 'float32', [1]);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'float32', ['batch', 1, D]);
  const addedTimeIds = g.input('added_time_ids', 'float32', ['batch', NUM_ADDED_TIME_IDS]);

  const shapes = new ShapeCache(g);
  const BF2 = dimsOf(g, sample, 0, 2);
  const B = dimsOf(g, sample, 0, 1);
  const F = dimsOf(g, sample, 1, 2);
  const level0: Level = { hw: dimsOf(g, sample, 3, 5) };

  // 1. time: Timesteps(c0) of the (batch-independent) timestep → time_embedding → [1, T]; the added time ids, one
  //    scalar at a time → [B, 3·A] → add_embedding → [B, T]. emb = their sum; every resnet uses silu(emb).
  const tProj = sinusoid(g, reshape(g, timestep, [1, 1], 'time_proj/t'), c0, 'time_proj'); // [1, c0] float32
  const tEmb = timestepEmbedding(root.sub('time_embedding'), cast(g, tProj, ctx.act), c0, tembChannels, tembChannels);
  const A = config.additionTimeEmbedDim;
  const idsProj = sinusoid(g, reshape(g, addedTimeIds, [0, NUM_ADDED_TIME_IDS, 1], 'add_time_proj/ids'), A, 'add_time_proj'); // [B, 3, A]
  const idsFlat = reshape(g, cast(g, idsProj, ctx.act), [0, NUM_ADDED_TIME_IDS * A], 'add_time_proj/flatten');
  const augEmb = timestepEmbedding(root.sub('add_embedding'), idsFlat, config.projectionClassEmbeddingsInputDim, tembChannels, tembChannels);
  const emb = add(g, tEmb, augEmb, 'emb');
  const perFrame = shapes.get([1, F, 1]);
  const embAct = g.op('Expand', [reshape(g, silu(g, emb, 'emb/silu'), [0, 1, tembChannels], 'emb/unsqueeze'), perFrame], {}, { name: 'emb/repeat_frames' });

  const ehs = cast(g, encoderHiddenStates, ctx.act);
  const contextFrames = reshape(g, g.op('Expand', [ehs, perFrame], {}, { name: 'context/repeat_frames' }), [-1, 1, D], 'context/frames');
  const contextVideo = reshape(g, ehs, [0, 1, 1, D], 'context/video');

  const frameIndex = g.op('Range', [g.scalar(0, 'int64'), reshape(g, F, [], 'frames/scalar'), g.scalar(1, 'int64')], {}, { name: 'frames/range' });
  const framePositions = reshape(g, cast(g, frameIndex, 'float32', 'frames/float'), [-1, 1, 1], 'frames/positions');

  // 2. flatten frames into rows and conv_in
  let x = reshape(g, cast(g, sample, ctx.act), [shapes.get([-1, config.inChannels, level0.hw])], 'sample/flatten');
  x = conv(root.sub('conv_in'), x, config.inChannels, c0, [3, 3], { padding: 1 });
  const u: Shared = {
    ctx, g, shapes, B, F, BF: dimsOf(g, x, 0, 1), BF2, embAct, tembChannels, contextFrames, contextVideo, crossDim: D,
    framePositions, frameSinusoids: new Map(), hooks: new Set(options.hooks ?? []),
  };
  hook(u, 'conv_in', x);

  // 3. down
  const levels: Level[] = [level0];
  let level = 0;
  let channels = c0;
  const skips: { value: Value; channels: number }[] = [{ value: x, channels }];
  for (let i = 0; i < blocks.length; i++) {
    const m = root.sub('down_blocks').sub(i);
    const cross = config.downBlockTypes[i] === 'CrossAttnDownBlockSpatioTemporal';
    // CrossAttnDownBlockSpatioTemporal builds its resnets with eps 1e-6, DownBlockSpatioTemporal with 1e-5
    const eps = cross ? 1e-6 : 1e-5;
    for (let j = 0; j < config.layersPerBlock[i]; j++) {
      x = spatioTemporalResBlock(u, m.sub('resnets').sub(j), x, levels[level], channels, blocks[i], eps);
      channels = blocks[i];
      if (cross) x = transformer(u, m.sub('attentions').sub(j), x, levels[level], channels, config.numAttentionHeads[i], config.transformerLayersPerBlock[i]);
      skips.push({ value: x, channels });
    }
    if (i < blocks.length - 1) {
      x = conv(m.sub('downsamplers').sub(0).sub('conv'), x, channels, channels, [3, 3], { stride: 2, padding: 1 });
      level++;
      levels.push({ hw: dimsOf(g, x, 2, 4) });
      skips.push({ value: x, channels });
    }
    hook(u, `down_blocks.${i}`, x);
  }

  // 4. mid: resnet, transformer, resnet (eps 1e-5)
  const last = blocks.length - 1;
  const mid = root.sub('mid_block');
  x = spatioTemporalResBlock(u, mid.sub('resnets').sub(0), x, levels[level], channels, channels, 1e-5);
  x = transformer(u, mid.sub('attentions').sub(0), x, levels[level], channels, config.numAttentionHeads[last], config.transformerLayersPerBlock[last]);
  x = spatioTemporalResBlock(u, mid.sub('resnets').sub(1), x, levels[level], channels, channels, 1e-5);
  hook(u, 'mid_block', x);

  // 5. up: each resnet takes cat([x, skip]) along channels; both up block types use resnet eps 1e-6
  const reversed = [...blocks].reverse();
  for (let i = 0; i < reversed.length; i++) {
    const m = root.sub('up_blocks').sub(i);
    const cross = config.upBlockTypes[i] === 'CrossAttnUpBlockSpatioTemporal';
    const r = last - i;
    for (let j = 0; j < config.layersPerBlock[r] + 1; j++) {
      const skip = skips.pop();
      if (!skip) throw new ConfigError('unet: up blocks need more skip connections than the down blocks made (layers_per_block mismatch)');
      x = concat(g, [x, skip.value], 1, m.sub('resnets').sub(j).hint('cat_skip'));
      x = spatioTemporalResBlock(u, m.sub('resnets').sub(j), x, levels[level], channels + skip.channels, reversed[i], 1e-6);
      channels = reversed[i];
      if (cross) x = transformer(u, m.sub('attentions').sub(j), x, levels[level], channels, config.numAttentionHeads[r], config.transformerLayersPerBlock[r]);
    }
    if (i < reversed.length - 1) {
      // Upsample2D: nearest to the size of the matching down level (= 2× when h, w divide by the UNet's factor;
      // otherwise the reference forwards exactly this size), then a 3×3 conv
      level--;
      const up = m.sub('upsamplers').sub(0);
      const sizes = shapes.get([u.BF, channels, levels[level].hw]);
      x = g.op('Resize', [x, null, null, sizes], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, { name: up.hint('Resize') });
      x = conv(up.sub('conv'), x, channels, channels, [3, 3], { padding: 1 });
    }
    hook(u, `up_blocks.${i}`, x);
  }
  if (skips.length) throw new ConfigError(`unet: ${skips.length} skip connection(s) left over after the up blocks (layers_per_block mismatch)`);

  // 6. out
  x = groupNorm(root.sub('conv_norm_out'), x, channels, GROUPS, 1e-5, 4, shapes.get([0, channels, level0.hw]));
  hook(u, 'conv_norm_out', x);
  x = conv(root.sub('conv_out'), silu(g, x, 'conv_act'), channels, config.outChannels, [3, 3], { padding: 1 });
  const out = reshape(g, x, [shapes.get([BF2, config.outChannels, level0.hw])], 'noise_pred/unflatten');
  g.output(cast(g, out, 'float32'), 'noise_pred', ['batch', 'frames', config.outChannels, 'height', 'width']);
}

function hook(u: Shared, path: string, x: Value, rank = 4): void {
  if (u.hooks.has(path)) u.g.output(cast(u.g, x, 'float32'), `hook.${path}`, Array.from({ length: rank }, (_, i) => `hook_${path}_${i}`));
}

// ---------------------------------------------------------------------------------------------------------
// Embeddings

/**
 * diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0) in float32: x[..., 1] · freqs → [cos, sin],
 * freqs_i = exp(−ln(10000)·i / (dim/2)) computed at build time with float32 rounding at every step as torch does.
 */
function sinusoid(g: Graph, x: Value, dim: number, name: string): Value {
  const half = dim >> 1;
  const c = Math.fround(-Math.log(10000));
  const freqs = Array.from({ length: half }, (_, i) => Math.fround(Math.exp(Math.fround(Math.fround(c * i) / half))));
  const args = g.op('Mul', [x, g.constant('float32', [half], freqs)], {}, { name: `${name}/args` });
  return concat(g, [g.op('Cos', [args], {}, { name: `${name}/cos` }), g.op('Sin', [args], {}, { name: `${name}/sin` })], -1, name);
}

/** TimestepEmbedding: linear_1 → SiLU → linear_2. */
function timestepEmbedding(m: Module, x: Value, inDim: number, hidden: number, outDim: number): Value {
  const h = silu(m.g, linear(m.sub('linear_1'), x, inDim, hidden), m.hint('act'));
  return linear(m.sub('linear_2'), h, hidden, outDim);
}

/** AlphaBlender "learned_with_images" with image_only_indicator = 0: α = sigmoid(mix_factor), in the activation dtype. */
function mixAlpha(m: Module): { alpha: number; beta: number } {
  const mixFactor = m.take('mix_factor', [1]).read()[0];
  const round = m.ctx.act === 'float16' ? roundToFloat16 : Math.fround;
  const alpha = round(1 / (1 + Math.exp(-mixFactor)));
  return { alpha, beta: round(1 - alpha) };
}

// ---------------------------------------------------------------------------------------------------------
// Resnets

/**
 * SpatioTemporalResBlock: s = ResnetBlock2D(x) on [B·F, C, H, W]; the TemporalResnetBlock returns s + h over the
 * video layout [B, C, F, H, W] (in = out channels: no shortcut); the mixer gives α·s + (1 − α)·(s + h) = s + (1 − α)·h.
 */
function spatioTemporalResBlock(u: Shared, m: Module, x: Value, level: Level, inChannels: number, outChannels: number, eps: number): Value {
  const { g, shapes } = u;
  const s = resnet2d(u, m.sub('spatial_res_block'), x, level, inChannels, outChannels, eps);
  hook(u, `${m.path}.spatial_res_block`, s);
  const t = m.sub('temporal_res_block');
  const C = outChannels;
  const video = transpose(g, reshape(g, s, [shapes.get([-1, u.F, C, level.hw])], t.hint('to_video')), [0, 2, 1, 3, 4], t.hint('to_video_t'));
  const videoShape = shapes.get([0, C, u.F, level.hw]);
  let h = silu(g, groupNorm(t.sub('norm1'), video, C, GROUPS, eps, 5, videoShape), t.hint('act1'));
  h = conv(t.sub('conv1'), h, C, C, [3, 1, 1], { padding: [1, 0, 0] });
  const temb = linear(t.sub('time_emb_proj'), u.embAct, u.tembChannels, C); // [B, F, C]
  h = add(g, h, reshape(g, transpose(g, temb, [0, 2, 1], t.hint('temb_t')), [0, 0, 0, 1, 1], t.hint('temb')), t.hint('add_temb'));
  h = silu(g, groupNorm(t.sub('norm2'), h, C, GROUPS, eps, 5, videoShape), t.hint('act2'));
  h = conv(t.sub('conv2'), h, C, C, [3, 1, 1], { padding: [1, 0, 0] });
  const hFrames = reshape(g, transpose(g, h, [0, 2, 1, 3, 4], t.hint('to_frames_t')), [shapes.get([-1, C, level.hw])], t.hint('to_frames'));
  if (u.hooks.has(t.path)) hook(u, t.path, add(g, video, h, t.hint('hook_residual')), 5);
  const { beta } = mixAlpha(m.sub('time_mixer'));
  const out = add(g, s, mul(g, hFrames, g.scalar(beta, u.ctx.act), m.hint('time_mixer/scale')), m.hint('time_mixer'));
  hook(u, m.path, out);
  return out;
}

/** ResnetBlock2D (groups 32, SiLU, time embedding added after conv1, 1×1 shortcut when the channels change). */
function resnet2d(u: Shared, m: Module, x: Value, level: Level, inChannels: number, outChannels: number, eps: number): Value {
  const { g, shapes } = u;
  let h = silu(g, groupNorm(m.sub('norm1'), x, inChannels, GROUPS, eps, 4, shapes.get([0, inChannels, level.hw])), m.hint('act1'));
  h = conv(m.sub('conv1'), h, inChannels, outChannels, [3, 3], { padding: 1 });
  const temb = linear(m.sub('time_emb_proj'), u.embAct, u.tembChannels, outChannels); // [B, F, C]
  h = add(g, h, reshape(g, temb, [-1, outChannels, 1, 1], m.hint('temb')), m.hint('add_temb'));
  h = silu(g, groupNorm(m.sub('norm2'), h, outChannels, GROUPS, eps, 4, shapes.get([0, outChannels, level.hw])), m.hint('act2'));
  h = conv(m.sub('conv2'), h, outChannels, outChannels, [3, 3], { padding: 1 });
  const shortcut = inChannels === outChannels ? x : conv(m.sub('conv_shortcut'), x, inChannels, outChannels, [1, 1]);
  return add(g, shortcut, h, m.hint('residual'));
}

// ---------------------------------------------------------------------------------------------------------
// Transformers

/**
 * TransformerSpatioTemporalModel on [B·F, C, H, W]: GroupNorm(32, eps 1e-6) → tokens → proj_in; per layer a
 * BasicTransformerBlock over the H·W tokens of each frame, then a TemporalBasicTransformerBlock over the F frames of
 * each position (input + time_pos_embed(frame index)), mixed by the time_mixer; proj_out, back to [B·F, C, H, W], + x.
 */
function transformer(u: Shared, m: Module, x: Value, level: Level, channels: number, heads: number, layers: number): Value {
  const { g, shapes, ctx } = u;
  const C = channels;
  const headDim = C / heads;
  const normed = groupNorm(m.sub('norm'), x, C, GROUPS, 1e-6, 4, shapes.get([0, C, level.hw]));
  const tokens = transpose(g, reshape(g, normed, [0, C, -1], m.hint('flatten')), [0, 2, 1], m.hint('tokens')); // [B·F, HW, C]
  let h = linear(m.sub('proj_in'), tokens, C, C);

  // time_pos_embed(Timesteps(C)(frame index)) → [F, 1, C], broadcast over videos and positions
  let sin = u.frameSinusoids.get(C);
  if (!sin) {
    sin = cast(g, sinusoid(g, u.framePositions, C, `frames/time_proj_${C}`), ctx.act);
    u.frameSinusoids.set(C, sin);
  }
  const posEmb = timestepEmbedding(m.sub('time_pos_embed'), sin, C, 4 * C, C);
  const { alpha, beta } = mixAlpha(m.sub('time_mixer'));

  let video: Value | null = null; // [B, F, HW, C]
  for (let l = 0; l < layers; l++) {
    if (video) {
      level.hwProduct ??= g.op('ReduceProd', [level.hw], { keepdims: 1 }, { name: 'hw_product', dtype: 'int64' });
      h = reshape(g, video, [shapes.get([-1, level.hwProduct, C])], m.hint('to_frames'));
    }
    const spatial = basicTransformerBlock(u, m.sub('transformer_blocks').sub(l), h, C, heads, headDim);
    const spatialVideo = reshape(g, spatial, [shapes.get([u.BF2, -1, C])], m.hint('to_video'));
    const temporal = temporalTransformerBlock(u, m.sub('temporal_transformer_blocks').sub(l), add(g, spatialVideo, posEmb, m.hint('add_pos')), C, heads, headDim);
    video = add(
      g,
      mul(g, spatialVideo, g.scalar(alpha, ctx.act), m.hint('time_mixer/spatial')),
      mul(g, temporal, g.scalar(beta, ctx.act), m.hint('time_mixer/temporal')),
      m.hint('time_mixer'),
    );
  }
  if (!video) throw new ConfigError(`${m.path}: transformer_layers_per_block must be at least 1`);
  const projected = linear(m.sub('proj_out'), video, C, C); // [B, F, HW, C]
  const image = reshape(g, transpose(g, projected, [0, 1, 3, 2], m.hint('untokens')), [shapes.get([-1, C, level.hw])], m.hint('unflatten'));
  const out = add(g, image, x, m.hint('residual'));
  hook(u, m.path, out);
  return out;
}

/** BasicTransformerBlock on [B·F, HW, C]: self-attention, cross-attention to the image embedding, GEGLU feed-forward. */
function basicTransformerBlock(u: Shared, m: Module, x: Value, C: number, heads: number, headDim: number): Value {
  const g = u.g;
  const attn1 = m.sub('attn1');
  const n1 = layerNorm(m.sub('norm1'), x, C, 1e-5);
  const q = linear(attn1.sub('to_q'), n1, C, C, { bias: false });
  const k = linear(attn1.sub('to_k'), n1, C, C, { bias: false });
  const v = linear(attn1.sub('to_v'), n1, C, C, { bias: false });
  let h = add(g, linear(attn1.sub('to_out').sub(0), attention(attn1, q, k, v, heads, headDim), C, C), x, m.hint('residual1'));
  h = add(g, singleKeyCrossAttention(m, u.contextFrames, u.crossDim, C), h, m.hint('residual2'));
  const n3 = layerNorm(m.sub('norm3'), h, C, 1e-5);
  return add(g, geglu(m.sub('ff'), n3, C, C), h, m.hint('residual3'));
}

/**
 * TemporalBasicTransformerBlock on the video layout [B, F, HW, C] (dim = time_mix_inner_dim, so is_res):
 * x + ff_in(norm_in x), + attention over the frames, + cross-attention to the video's image embedding, + ff.
 */
function temporalTransformerBlock(u: Shared, m: Module, x: Value, C: number, heads: number, headDim: number): Value {
  const g = u.g;
  let h = add(g, geglu(m.sub('ff_in'), layerNorm(m.sub('norm_in'), x, C, 1e-5), C, C), x, m.hint('residual_in'));
  h = add(g, frameSelfAttention(u, m.sub('attn1'), layerNorm(m.sub('norm1'), h, C, 1e-5), C, heads, headDim), h, m.hint('residual1'));
  h = add(g, singleKeyCrossAttention(m, u.contextVideo, u.crossDim, C), h, m.hint('residual2'));
  return add(g, geglu(m.sub('ff'), layerNorm(m.sub('norm3'), h, C, 1e-5), C, C), h, m.hint('residual3'));
}

/**
 * attn2 (with its norm2) of either block. The context is ONE token (encoder_hidden_states is [B, 1, D]), so the
 * softmax over keys is exactly 1 and the attention output is to_out(to_v(context)) whatever the queries are.
 * norm2, to_q and to_k are still taken (and shape-checked) from the checkpoint; they cannot change the result.
 */
function singleKeyCrossAttention(block: Module, context: Value, contextDim: number, C: number): Value {
  const norm2 = block.sub('norm2');
  norm2.take('weight', [C]);
  norm2.take('bias', [C]);
  const attn2 = block.sub('attn2');
  attn2.sub('to_q').take('weight', [C, C]);
  attn2.sub('to_k').take('weight', [C, contextDim]);
  const v = linear(attn2.sub('to_v'), context, contextDim, C, { bias: false });
  return linear(attn2.sub('to_out').sub(0), v, C, C);
}

/**
 * attn1 of the temporal block: self-attention over the F frames of each (video, position) of x [B, F, HW, C],
 * including to_out. Plain: Einsum over [B, F, HW, heads, d] in 5-D, no layout change. Fused: MultiHeadAttention on
 * [B·HW, F, C] tokens.
 */
function frameSelfAttention(u: Shared, m: Module, x: Value, C: number, heads: number, headDim: number): Value {
  const { g, ctx, shapes } = u;
  if (ctx.options.attention === 'fused') {
    const seq = reshape(g, transpose(g, x, [0, 2, 1, 3], m.hint('seq_t')), [shapes.get([-1, u.F, C])], m.hint('seq'));
    const q = linear(m.sub('to_q'), seq, C, C, { bias: false });
    const k = linear(m.sub('to_k'), seq, C, C, { bias: false });
    const v = linear(m.sub('to_v'), seq, C, C, { bias: false });
    const o = linear(m.sub('to_out').sub(0), attention(m, q, k, v, heads, headDim), C, C); // [B·HW, F, C]
    return transpose(g, reshape(g, o, [shapes.get([u.B, -1, u.F, C])], m.hint('unseq')), [0, 2, 1, 3], m.hint('unseq_t'));
  }
  const q = linear(m.sub('to_q'), x, C, C, { bias: false });
  const k = linear(m.sub('to_k'), x, C, C, { bias: false });
  const v = linear(m.sub('to_v'), x, C, C, { bias: false });
  const heads5 = (t: Value, name: string) => reshape(g, t, [0, 0, 0, heads, headDim], m.hint(`${name}_heads`)); // [B, F, HW, h, d]
  const qh = heads5(mul(g, q, g.scalar(1 / Math.sqrt(headDim), ctx.act), m.hint('q_scale')), 'q');
  const kh = heads5(k, 'k');
  const vh = heads5(v, 'v');
  // Einsum, not MatMul: the products are F×F per (video, position, head) — millions of tiny matrices, on which a tiled
  // MatMul spends a whole workgroup per product (SwiftShader: 5.3 s vs 14 ms for both products at 32×32 latents;
  // docs/swiftshader-profile.md); Einsum's direct kernel also needs no transposes around it.
  const scores = g.op('Einsum', [qh, kh], { equation: 'bfphd,bgphd->bphfg' }, { name: m.hint('scores') }); // [B, HW, h, F, F]
  const probs = cast(g, g.op('Softmax', [cast(g, scores, 'float32')], { axis: -1 }, { name: m.hint('Softmax') }), ctx.act);
  const context = g.op('Einsum', [probs, vh], { equation: 'bphfg,bgphd->bfphd' }, { name: m.hint('context') }); // [B, F, HW, h, d]
  const merged = reshape(g, context, [0, 0, 0, C], m.hint('merge')); // [B, F, HW, C]
  return linear(m.sub('to_out').sub(0), merged, C, C);
}

/** FeedForward with GEGLU: net.0.proj → (a, gate) halves → a · gelu(gate) → net.2. Inner width 4·dim. */
function geglu(m: Module, x: Value, dim: number, dimOut: number): Value {
  const g = m.g;
  const inner = 4 * dim;
  const proj = linear(m.sub('net').sub(0).sub('proj'), x, dim, 2 * inner);
  const [a, gate] = g.node('Split', [proj], { axis: -1, num_outputs: 2 }, { name: m.hint('geglu_split'), outputs: [proj.dtype, proj.dtype] });
  const h = mul(g, a, gelu(g, gate, m.hint('geglu_gelu')), m.hint('geglu'));
  return linear(m.sub('net').sub(2), h, inner, dimOut);
}
