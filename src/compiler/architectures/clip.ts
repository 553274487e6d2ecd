/**
 * transformers' CLIPVisionModelWithProjection (SVD's `image_encoder`, OpenCLIP ViT-H/14 at full size):
 * pixel_values [B,3,S,S] → image_embeds [B, projection_dim] = visual_projection(post_layernorm(CLS token)).
 * Module names mirror the checkpoint: vision_model.{embeddings, pre_layrnorm, encoder.layers.N, post_layernorm},
 * visual_projection.
 */
import { add, attention, cast, concat, conv, dimsOf, gelu, layerNorm, linear, paramValue, reshape, transpose, type BuildContext, type Module } from '../onnx/nn.ts';
import type { Value } from '../onnx/graph.ts';
import { configError, intField, numberField, stringField } from './config.ts';

export interface ClipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  projectionDim: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  hiddenAct: 'gelu' | 'quick_gelu';
  layerNormEps: number;
}

export function parseClipVisionConfig(raw: Record<string, unknown>, file: string): ClipVisionConfig {
  const cfg = (raw.vision_config as Record<string, unknown> | undefined) ?? raw;
  const act = stringField(cfg, 'hidden_act', file, 'gelu');
  if (act !== 'gelu' && act !== 'quick_gelu') throw configError(file, 'hidden_act', act, '"gelu" or "quick_gelu"');
  const config: ClipVisionConfig = {
    hiddenSize: intField(cfg, 'hidden_size', file),
    intermediateSize: intField(cfg, 'intermediate_size', file),
    projectionDim: intField(cfg, 'projection_dim', file),
    numHiddenLayers: intField(cfg, 'num_hidden_layers', file),
    numAttentionHeads: intField(cfg, 'num_attention_heads', file),
    numChannels: intField(cfg, 'num_channels', file, 3),
    imageSize: intField(cfg, 'image_size', file),
    patchSize: intField(cfg, 'patch_size', file),
    hiddenAct: act,
    layerNormEps: numberField(cfg, 'layer_norm_eps', file, 1e-5),
  };
  if (config.hiddenSize % config.numAttentionHeads) throw configError(file, 'num_attention_heads', config.numAttentionHeads, `a divisor of hidden_size ${config.hiddenSize}`);
  if (config.imageSize % config.patchSize) throw configError(file, 'patch_size', config.patchSize, `a divisor of image_size ${config.imageSize}`);
  return config;
}

/** Weights the reference keeps as buffers, not parameters. */
export const CLIP_IGNORED_WEIGHTS = (name: string) => name.endsWith('embeddings.position_ids');

export function buildImageEncoder(ctx: BuildContext, config: ClipVisionConfig): void {
  const g = ctx.graph;
  const { hiddenSize: d, imageSize: s, numChannels: c } = config;
  const pixels = g.input('pixel_values', 'float32', ['batch', c, s, s]);
  const root = ctx.root();
  const vision = root.sub('vision_model');

  const hidden = embeddings(vision.sub('embeddings'), cast(g, pixels, ctx.act), config);
  let x = layerNorm(vision.sub('pre_layrnorm'), hidden, d, config.layerNormEps);
  for (let i = 0; i < config.numHiddenLayers; i++) x = encoderLayer(vision.sub('encoder').sub('layers').sub(i), x, config);

  const cls = g.op('Gather', [x, g.constant('int64', [], [0])], { axis: 1 }, { name: 'vision_model/cls_token' });
  const pooled = layerNorm(vision.sub('post_layernorm'), cls, d, config.layerNormEps);
  const embeds = linear(root.sub('visual_projection'), pooled, d, config.projectionDim, { bias: false });
  g.output(cast(g, embeds, 'float32'), 'image_embeds', ['batch', config.projectionDim]);
}

function embeddings(m: Module, pixels: Value, config: ClipVisionConfig): Value {
  const g = m.g;
  const d = config.hiddenSize;
  const grid = config.imageSize / config.patchSize;
  const patches = conv(m.sub('patch_embedding'), pixels, config.numChannels, d, [config.patchSize, config.patchSize], { stride: config.patchSize, bias: false });
  const tokens = transpose(g, reshape(g, patches, [0, d, -1], m.hint('flatten')), [0, 2, 1], m.hint('tokens')); // [B, N, d]
  const cls = paramValue(m, 'class_embedding', [d], [1, 1, d]);
  const batch = dimsOf(g, pixels, 0, 1);
  const clsTokens = g.op('Expand', [cls, concat(g, [batch, g.int64s([1, d])], 0, m.hint('cls_shape'))], {}, { name: m.hint('cls_expand') });
  // position_ids are 0..N in order, so the embedding lookup is the whole table, added by broadcasting
  const positions = paramValue(m.sub('position_embedding'), 'weight', [grid * grid + 1, d]);
  return add(g, concat(g, [clsTokens, tokens], 1, m.hint('with_cls')), positions, m.hint('add_positions'));
}

function encoderLayer(m: Module, x: Value, config: ClipVisionConfig): Value {
  const g = m.g;
  const d = config.hiddenSize;
  const heads = config.numAttentionHeads;
  const attn = m.sub('self_attn');
  const h = layerNorm(m.sub('layer_norm1'), x, d, config.layerNormEps);
  const q = linear(attn.sub('q_proj'), h, d, d);
  const k = linear(attn.sub('k_proj'), h, d, d);
  const v = linear(attn.sub('v_proj'), h, d, d);
  const a = linear(attn.sub('out_proj'), attention(attn, q, k, v, heads, d / heads), d, d);
  const x1 = add(g, x, a, m.hint('residual1'));
  const h2 = layerNorm(m.sub('layer_norm2'), x1, d, config.layerNormEps);
  const mlp = m.sub('mlp');
  const f1 = linear(mlp.sub('fc1'), h2, d, config.intermediateSize);
  const act = config.hiddenAct === 'gelu' ? gelu(g, f1, mlp.hint('gelu')) : quickGelu(m, f1);
  const f2 = linear(mlp.sub('fc2'), act, config.intermediateSize, d);
  return add(g, x1, f2, m.hint('residual2'));
}

function quickGelu(m: Module, x: Value): Value {
  const g = m.g;
  const scaled = g.op('Mul', [x, g.scalar(1.702, x.dtype)]);
  return g.op('Mul', [x, g.op('Sigmoid', [scaled])], {}, { name: m.hint('quick_gelu') });
}
