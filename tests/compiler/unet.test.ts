/**
 * The spatio-temporal UNet (fixture A: UNetSpatioTemporalConditionModel, tiny config, random weights) compiled by our
 * compiler and run with onnxruntime-node against the diffusers reference output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileGraph, type CompiledGraph } from '../../src/compiler/compile.ts';
import { PRECISIONS, dequantizedTwin, type AttentionKind, type Precision } from '../../src/compiler/onnx/nn.ts';
import { MemoryWeightSource, SafetensorsWeightSource, WeightStore, type WeightSource } from '../../src/compiler/weights.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { nodeOutputFolder } from '../../src/io/node-files.ts';
import { buildUnet, parseUnetConfig, type UnetConfig } from '../../src/compiler/architectures/unet.ts';
import { fixturePath, maxAbs, maxAbsDiff } from '../support/fixtures.ts';

const DIR = fixturePath('A', 'unet');
const CONFIG_FILE = join(DIR, 'config.json');
const WEIGHTS_FILE = join(DIR, 'weights.safetensors');
const RAW_CONFIG = JSON.parse(readFileSync(CONFIG_FILE, 'utf8')) as Record<string, unknown>;

/**
 * fp32 tolerance: max|Δ| ≤ 1e-4·max(1, max|ref|). The fixture README suggests ~1e-4 for the UNet; the reference's own
 * float32-vs-float64 error on output.sample is 4.4e-6 (meta.json), and a wrong op moves the output by ≥ 1e-2.
 */
const FP32_TOL = 1e-4;
/**
 * Bounds for the reduced precisions, relative to max|ref| (2.2): fp16 keeps ~11 mantissa bits per op through ~40
 * layers; int4 blocks of 32 (linears) + int8 per-channel (convs) on random N(0, 0.05²) weights move this tiny random
 * network by several percent (real weights are smoother). They guard against broken graphs (NaN, wrong layout), not
 * quality.
 */
const BOUND = { fp16: 1e-2, q4f32: 0.25, q4f16: 0.25 } as const;

let out: string;
let config: UnetConfig;
let tensors: SafetensorsFile;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'svd-unet-'));
  config = parseUnetConfig(RAW_CONFIG, CONFIG_FILE);
  tensors = openSafetensors(join(DIR, 'tensors.safetensors'));
});

afterAll(() => {
  tensors?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

function compile(precision: Precision, attention: AttentionKind = 'plain', source: WeightSource = new SafetensorsWeightSource(openSafetensors(WEIGHTS_FILE)), cfg = config): CompiledGraph {
  return compileGraph(`unet_${precision.name}${precision.emulateQuantization ? '_twin' : ''}_${attention}`, new WeightStore(source), { output: nodeOutputFolder(out), precision, attention }, (ctx) => buildUnet(ctx, cfg));
}

function ref(name: string): { data: Float32Array; dims: number[] } {
  return { data: tensors.readFloat32(name), dims: tensors.info(name).shape };
}

async function run(compiled: CompiledGraph): Promise<{ got: Float32Array; expected: Float32Array; createMs: number }> {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(join(out, compiled.model.path), {
    executionProviders: ['cpu'],
    // exact int4 MatMulNBits (no int8 activation quantization), so the quantized graph itself is measured
    extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
  });
  const createMs = performance.now() - t0;
  try {
    expect(session.inputNames).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'added_time_ids']);
    expect(session.outputNames).toEqual(['noise_pred']);
    const sample = ref('input.sample');
    const ehs = ref('input.encoder_hidden_states');
    const ids = ref('input.added_time_ids');
    const result = await session.run({
      sample: new ort.Tensor('float32', sample.data, sample.dims),
      // the reference passes a 0-dim timestep; the graph takes it as [1]
      timestep: new ort.Tensor('float32', ref('input.timestep').data, [1]),
      encoder_hidden_states: new ort.Tensor('float32', ehs.data, ehs.dims),
      added_time_ids: new ort.Tensor('float32', ids.data, ids.dims),
    });
    const expected = ref('output.sample');
    expect(result.noise_pred.dims).toEqual(expected.dims);
    return { got: result.noise_pred.data as Float32Array, expected: expected.data, createMs };
  } finally {
    await session.release();
  }
}

describe('UNet fp32 matches diffusers', () => {
  for (const attention of ['plain', 'fused'] as const) {
    it(`noise_pred within 1e-4·max(1,|ref|) (${attention} attention)`, async () => {
      const t0 = performance.now();
      const compiled = compile(PRECISIONS.fp32, attention);
      const compileMs = performance.now() - t0;
      const { got, expected, createMs } = await run(compiled);
      const err = maxAbsDiff(got, expected);
      console.log(
        `unet fp32 ${attention}: max|Δ| = ${err.toExponential(2)} (max|ref| ${maxAbs(expected).toFixed(3)}); ` +
          `${compiled.nodeCount} nodes, compile ${compileMs.toFixed(0)} ms, session ${createMs.toFixed(0)} ms`,
      );
      expect(err).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(expected)));
    });
  }

  it('has dynamic batch, frames, height and width (rows stay b·F + f; sizes that do not divide by 8 work)', async () => {
    const compiled = compile(PRECISIONS.fp32, 'plain');
    const session = await ort.InferenceSession.create(join(out, compiled.model.path), { executionProviders: ['cpu'] });
    try {
      const full = ref('input.sample'); // [2, 3, 8, 16, 16]
      const ehs = ref('input.encoder_hidden_states');
      const ids = ref('input.added_time_ids');
      const feeds = (sample: Float32Array, dims: number[], b: number) => ({
        sample: new ort.Tensor('float32', sample, dims),
        timestep: new ort.Tensor('float32', ref('input.timestep').data, [1]),
        encoder_hidden_states: new ort.Tensor('float32', ehs.data.slice(b * 32, (b + 1) * 32), [1, 1, 32]),
        added_time_ids: new ort.Tensor('float32', ids.data.slice(b * 3, (b + 1) * 3), [1, 3]),
      });
      // batch 1 = the second video of the reference batch: the same numbers as that half of output.sample
      const per = full.data.length / 2;
      const second = (await session.run(feeds(full.data.slice(per), [1, 3, 8, 16, 16], 1))).noise_pred;
      expect(second.dims).toEqual([1, 3, 4, 16, 16]);
      const expected = ref('output.sample').data.slice((ref('output.sample').data.length / 2));
      expect(maxAbsDiff(second.data as Float32Array, expected)).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(expected)));
      // 5 frames of 12×10 latents (12 and 10 are not multiples of the UNet's 8: up-sampling follows the skip sizes)
      const odd = new Float32Array(5 * 8 * 12 * 10).map((_, i) => Math.sin(i * 0.37));
      const y = (await session.run(feeds(odd, [1, 5, 8, 12, 10], 0))).noise_pred;
      expect(y.dims).toEqual([1, 5, 4, 12, 10]);
      expect((y.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      await session.release();
    }
  });

  it('is a compact graph', () => {
    const compiled = compile(PRECISIONS.fp32, 'plain');
    // 22 spatio-temporal resnets + 16 spatio-temporal transformers; shapes are shared, not recomputed per layer
    expect(compiled.nodeCount).toBeLessThanOrEqual(2800);
  });
});

describe('UNet reduced precisions run and stay near the reference', () => {
  for (const name of ['fp16', 'q4f32', 'q4f16'] as const) {
    it(`${name} within ${BOUND[name]}·max|ref|`, async () => {
      const compiled = compile(PRECISIONS[name]);
      const { got, expected } = await run(compiled);
      const err = maxAbsDiff(got, expected);
      console.log(`unet ${name}: max|Δ| vs reference = ${err.toExponential(2)} (${((err / maxAbs(expected)) * 100).toFixed(2)}% of max|ref|), ${compiled.nodeCount} nodes`);
      expect(err).toBeLessThanOrEqual(BOUND[name] * maxAbs(expected));
    });
  }

  it('q4f32 equals the fp32 graph built from its own dequantized weights (the int4/int8 path is exact)', async () => {
    const quant = await run(compile(PRECISIONS.q4f32));
    const twin = await run(compile(dequantizedTwin(PRECISIONS.q4f32)));
    const err = maxAbsDiff(quant.got, twin.got);
    console.log(`unet q4f32 vs dequantized fp32 twin: max|Δ| = ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(twin.got)));
  });
});

describe('UNet weights and config are checked', () => {
  /** The fixture's weights in memory, with `edit` applied. */
  function memorySource(edit: (tensors: Map<string, { shape: number[]; data: Float32Array }>) => void): MemoryWeightSource {
    const file = openSafetensors(WEIGHTS_FILE);
    try {
      const map = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [name, info] of file.tensors) map.set(name, { shape: info.shape, data: file.readFloat32(name) });
      edit(map);
      return new MemoryWeightSource('unet-test', map);
    } finally {
      file.close();
    }
  }

  const NAME = 'up_blocks.1.attentions.2.temporal_transformer_blocks.0.attn1.to_k.weight';

  it('a missing weight is named', () => {
    const source = memorySource((t) => t.delete(NAME));
    expect(() => compile(PRECISIONS.fp32, 'plain', source)).toThrow(new RegExp(`missing weight "${NAME.replace(/\./g, '\\.')}"`));
  });

  it('an unused (extra) weight is named', () => {
    const extra = 'down_blocks.0.resnets.0.spatial_res_block.extra.weight';
    const source = memorySource((t) => t.set(extra, { shape: [4], data: new Float32Array(4) }));
    expect(() => compile(PRECISIONS.fp32, 'plain', source)).toThrow(extra);
  });

  it('a weight the graph would not otherwise read (single-key cross-attention to_q) is still shape-checked', () => {
    const name = 'mid_block.attentions.0.transformer_blocks.0.attn2.to_q.weight';
    const source = memorySource((t) => t.set(name, { shape: [64, 32], data: new Float32Array(64 * 32) }));
    expect(() => compile(PRECISIONS.fp32, 'plain', source)).toThrow(new RegExp(`"${name.replace(/\./g, '\\.')}" has shape \\[64,32\\], expected \\[64,64\\]`));
  });

  it('a mis-shaped weight is named', () => {
    const name = 'down_blocks.1.resnets.0.temporal_res_block.conv1.weight';
    const source = memorySource((t) => t.set(name, { shape: [32, 32, 3, 3], data: new Float32Array(32 * 32 * 9) }));
    expect(() => compile(PRECISIONS.fp32, 'plain', source)).toThrow(new RegExp(`"${name.replace(/\./g, '\\.')}" has shape \\[32,32,3,3\\], expected \\[32,32,3,1,1\\]`));
  });

  it('an unknown block type is named', () => {
    const raw = { ...RAW_CONFIG, down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlock3D', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'] };
    expect(() => parseUnetConfig(raw, 'unet/config.json')).toThrow(/unet\/config\.json.*down_block_types.*"CrossAttnDownBlock3D"/);
    const up = { ...RAW_CONFIG, up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlock2D', 'CrossAttnUpBlockSpatioTemporal'] };
    expect(() => parseUnetConfig(up, 'unet/config.json')).toThrow(/up_block_types.*"CrossAttnUpBlock2D"/);
  });

  it('reads the real SVD-XT config (lists and defaults) and rejects inconsistent ones', () => {
    const svdXt = {
      _class_name: 'UNetSpatioTemporalConditionModel',
      addition_time_embed_dim: 256,
      block_out_channels: [320, 640, 1280, 1280],
      cross_attention_dim: 1024,
      down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
      in_channels: 8,
      layers_per_block: 2,
      num_attention_heads: [5, 10, 20, 20],
      num_frames: 25,
      out_channels: 4,
      projection_class_embeddings_input_dim: 768,
      sample_size: 96,
      transformer_layers_per_block: 1,
      up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
    };
    const c = parseUnetConfig(svdXt, 'unet/config.json');
    expect(c.layersPerBlock).toEqual([2, 2, 2, 2]);
    expect(c.transformerLayersPerBlock).toEqual([1, 1, 1, 1]);
    expect(c.numAttentionHeads).toEqual([5, 10, 20, 20]);
    expect(c.crossAttentionDim).toBe(1024);
    expect(c.numFrames).toBe(25);
    expect(parseUnetConfig({ ...svdXt, num_frames: undefined, num_attention_heads: 8 }, 'x').numFrames).toBe(25);
    expect(parseUnetConfig({ ...svdXt, num_attention_heads: 8 }, 'x').numAttentionHeads).toEqual([8, 8, 8, 8]);
    expect(() => parseUnetConfig({ ...svdXt, projection_class_embeddings_input_dim: 512 }, 'unet/config.json')).toThrow(/projection_class_embeddings_input_dim/);
    expect(() => parseUnetConfig({ ...svdXt, num_attention_heads: [5, 10, 20] }, 'unet/config.json')).toThrow(/num_attention_heads/);
    expect(() => parseUnetConfig({ ...svdXt, cross_attention_dim: [1024, 1024, 768, 1024] }, 'unet/config.json')).toThrow(/cross_attention_dim/);
  });
});
