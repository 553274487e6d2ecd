/**
 * The temporal VAE (fixture A: AutoencoderKLTemporalDecoder, random weights) compiled by our compiler and run with
 * onnxruntime-node against the diffusers reference outputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileGraph, type CompiledGraph } from '../../src/compiler/compile.ts';
import { PRECISIONS, dequantizedTwin, type AttentionKind, type Precision, type PrecisionName } from '../../src/compiler/onnx/nn.ts';
import { MemoryWeightSource, SafetensorsWeightSource, WeightStore, type WeightSource } from '../../src/compiler/weights.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { nodeOutputFolder } from '../../src/io/node-files.ts';
import {
  VAE_DECODER_IGNORES,
  VAE_ENCODER_IGNORES,
  buildVaeDecoder,
  buildVaeEncoder,
  parseVaeConfig,
  type VaeConfig,
} from '../../src/compiler/architectures/vae.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'A', 'vae');
const CONFIG_FILE = join(DIR, 'config.json');
const WEIGHTS_FILE = join(DIR, 'weights.safetensors');

type Part = 'encoder' | 'decoder';
const BUILD = { encoder: buildVaeEncoder, decoder: buildVaeDecoder };
const IGNORES = { encoder: VAE_ENCODER_IGNORES, decoder: VAE_DECODER_IGNORES };

let out: string;
let config: VaeConfig;
let tensors: SafetensorsFile;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'svd-vae-'));
  config = parseVaeConfig(JSON.parse(readFileSync(CONFIG_FILE, 'utf8')), CONFIG_FILE);
  tensors = openSafetensors(join(DIR, 'tensors.safetensors'));
});

afterAll(() => {
  tensors?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

function compile(
  part: Part,
  precision: Precision,
  source: WeightSource = new SafetensorsWeightSource(openSafetensors(WEIGHTS_FILE)),
  dir = out,
  attention: AttentionKind = 'plain',
): CompiledGraph {
  const name = `vae_${part}_${precision.name}${precision.emulateQuantization ? '_twin' : ''}_${attention}`;
  return compileGraph(name, new WeightStore(source, IGNORES[part]), { output: nodeOutputFolder(dir), precision, attention }, (ctx) => BUILD[part](ctx, config));
}

function ref(name: string): { data: Float32Array; dims: number[] } {
  return { data: tensors.readFloat32(name), dims: tensors.info(name).shape };
}

async function run(compiled: CompiledGraph, input: string, x: { data: Float32Array; dims: number[] }, output: string): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(join(out, compiled.model.path), {
    executionProviders: ['cpu'],
    // exact int4 MatMulNBits (no int8 activation quantization) so the quantized graphs are measured, not ORT's fusion
    extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
  });
  try {
    expect(session.outputNames).toEqual([output]);
    const result = await session.run({ [input]: new ort.Tensor('float32', x.data, x.dims) });
    return result[output];
  } finally {
    await session.release();
  }
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/**
 * fp32 tolerance: max|Δ| ≤ 1e-4·max(1, max|ref|). The reference's own float32-vs-float64 error is ≤ 6e-7 on these
 * outputs (meta.json) and the fixture README suggests ~1e-5 for the VAE; 1e-4 leaves room for a different (but
 * equally valid) float32 summation order in ORT's convolutions and norms while still catching any wrong op, which
 * shows up at ≥ 1e-2 on outputs of size ~0.3 (e.g. the num_frames=1 output differs by 0.25).
 */
const FP32_TOL = 1e-4;

const ENC = { input: 'enc.input.image', output: 'enc.output.latent_mode' };
const DEC = { input: 'dec.input.z', output: 'dec.output.sample' };

async function encode(compiled: CompiledGraph) {
  const expected = ref(ENC.output);
  const got = await run(compiled, 'sample', ref(ENC.input), 'latent');
  expect(got.dims).toEqual(expected.dims);
  return { got: got.data as Float32Array, expected: expected.data };
}

async function decode(compiled: CompiledGraph) {
  const expected = ref(DEC.output);
  const got = await run(compiled, 'latent', ref(DEC.input), 'frames');
  expect(got.dims).toEqual(expected.dims);
  return { got: got.data as Float32Array, expected: expected.data };
}

describe('VAE fp32 matches diffusers', () => {
  it('encoder: latent = mean of quant_conv(encoder(x))', async () => {
    const compiled = compile('encoder', PRECISIONS.fp32);
    const { got, expected } = await encode(compiled);
    const err = maxDiff(got, expected);
    console.log(`vae encoder fp32: nodes ${compiled.nodeCount}, max|Δ| ${err.toExponential(2)} (max|ref| ${maxAbs(expected).toFixed(3)})`);
    expect(err).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(expected)));
  });

  it('decoder: frames = decode(z, num_frames = n), one temporal window', async () => {
    const compiled = compile('decoder', PRECISIONS.fp32);
    const { got, expected } = await decode(compiled);
    const err = maxDiff(got, expected);
    const perFrame = maxDiff(got, ref('dec.output.sample_num_frames_1').data);
    console.log(
      `vae decoder fp32: nodes ${compiled.nodeCount}, max|Δ| ${err.toExponential(2)} (max|ref| ${maxAbs(expected).toFixed(3)}); ` +
        `vs the num_frames=1 output ${perFrame.toFixed(3)}`,
    );
    expect(err).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(expected)));
    // the temporal layers really mix the n frames: decoding them as n 1-frame videos is far off
    expect(perFrame).toBeGreaterThan(0.1);
  });

  it('fused attention (com.microsoft MultiHeadAttention) gives the same frames and latents', async () => {
    const source = () => new SafetensorsWeightSource(openSafetensors(WEIGHTS_FILE));
    const e = await encode(compile('encoder', PRECISIONS.fp32, source(), out, 'fused'));
    const d = await decode(compile('decoder', PRECISIONS.fp32, source(), out, 'fused'));
    const encErr = maxDiff(e.got, e.expected);
    const decErr = maxDiff(d.got, d.expected);
    console.log(`vae fp32 fused attention: encoder max|Δ| ${encErr.toExponential(2)}, decoder max|Δ| ${decErr.toExponential(2)}`);
    expect(encErr).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(e.expected)));
    expect(decErr).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(d.expected)));
  });
});

describe('VAE reduced precisions (error vs the fp32 reference)', () => {
  /** Loose sanity bounds (outputs are ~0.3 in size); the printed numbers are the measurement. */
  const BOUND: Record<Exclude<PrecisionName, 'fp32'>, number> = { fp16: 5e-3, q4f32: 5e-2, q4f16: 5e-2 };
  for (const name of ['fp16', 'q4f32', 'q4f16'] as const) {
    it(name, async () => {
      const enc = compile('encoder', PRECISIONS[name]);
      const dec = compile('decoder', PRECISIONS[name]);
      const e = await encode(enc);
      const d = await decode(dec);
      const encErr = maxDiff(e.got, e.expected);
      const decErr = maxDiff(d.got, d.expected);
      console.log(
        `vae ${name}: encoder nodes ${enc.nodeCount} max|Δ| ${encErr.toExponential(2)}; decoder nodes ${dec.nodeCount} max|Δ| ${decErr.toExponential(2)}`,
      );
      expect(encErr).toBeLessThanOrEqual(BOUND[name]);
      expect(decErr).toBeLessThanOrEqual(BOUND[name]);
    });
  }

  it('q4f32 equals its fp32 twin with the same rounded weights (the int4/int8 storage is exact)', async () => {
    for (const part of ['encoder', 'decoder'] as const) {
      const run_ = part === 'encoder' ? encode : decode;
      const real = await run_(compile(part, PRECISIONS.q4f32));
      const twin = await run_(compile(part, dequantizedTwin(PRECISIONS.q4f32)));
      const err = maxDiff(real.got, twin.got);
      console.log(`vae ${part} q4f32 vs dequantized fp32 twin: max|Δ| ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(FP32_TOL * Math.max(1, maxAbs(twin.got)));
    }
  });
});

describe('VAE weights and config are checked', () => {
  function fixtureWeights(): Map<string, { shape: number[]; data: Float32Array }> {
    const file = openSafetensors(WEIGHTS_FILE);
    try {
      return new Map([...file.tensors.keys()].map((n) => [n, { shape: file.info(n).shape, data: file.readFloat32(n) }]));
    } finally {
      file.close();
    }
  }
  const compileMem = (part: Part, weights: Map<string, { shape: number[]; data: Float32Array }>) =>
    compile(part, PRECISIONS.fp32, new MemoryWeightSource('vae-test', weights), mkdtempSync(join(out, 'bad-')));

  it('both halves of the one weights file are consumed in full', () => {
    // each graph ignores only the other half, so an extra tensor outside both halves fails both
    const w = fixtureWeights();
    w.set('post_quant_conv.weight', { shape: [4, 4, 1, 1], data: new Float32Array(16) });
    expect(() => compileMem('encoder', w)).toThrow(/post_quant_conv\.weight/);
    expect(() => compileMem('decoder', w)).toThrow(/post_quant_conv\.weight/);
  });

  it('a missing weight throws naming it', () => {
    for (const [part, name] of [
      ['encoder', 'quant_conv.bias'],
      ['encoder', 'encoder.mid_block.attentions.0.to_k.weight'],
      ['decoder', 'decoder.up_blocks.1.resnets.2.time_mixer.mix_factor'],
      ['decoder', 'decoder.time_conv_out.weight'],
    ] as const) {
      const w = fixtureWeights();
      w.delete(name);
      expect(() => compileMem(part, w)).toThrow(new RegExp(`missing weight "${name.replace(/\./g, '\\.')}"`));
    }
  });

  it('an extra (unused) weight throws naming it', () => {
    for (const [part, name] of [
      ['encoder', 'encoder.down_blocks.1.downsamplers.0.conv.weight'],
      ['decoder', 'decoder.mid_block.resnets.2.time_mixer.mix_factor'],
    ] as const) {
      const w = fixtureWeights();
      w.set(name, { shape: [1], data: new Float32Array(1) });
      expect(() => compileMem(part, w)).toThrow(new RegExp(`not used by the architecture: .*"${name.replace(/\./g, '\\.')}"`));
    }
  });

  it('a mis-shaped weight throws naming it', () => {
    for (const [part, name] of [
      ['encoder', 'encoder.down_blocks.0.downsamplers.0.conv.weight'],
      ['decoder', 'decoder.mid_block.resnets.0.temporal_res_block.conv1.weight'],
    ] as const) {
      const w = fixtureWeights();
      const t = w.get(name)!;
      const last = t.shape[t.shape.length - 1];
      w.set(name, { shape: [...t.shape.slice(0, -1), last + 1], data: new Float32Array((t.data.length / last) * (last + 1)) });
      expect(() => compileMem(part, w)).toThrow(new RegExp(`weight "${name.replace(/\./g, '\\.')}" has shape`));
    }
  });

  it('an unknown down_block_type throws naming it', () => {
    const raw = JSON.parse(readFileSync(CONFIG_FILE, 'utf8'));
    raw.down_block_types = ['DownEncoderBlock2D', 'AttnDownEncoderBlock2D'];
    expect(() => parseVaeConfig(raw, 'vae/config.json')).toThrow(/vae\/config\.json.*down_block_types.*"AttnDownEncoderBlock2D"/);
  });

  it('config errors name the file and field', () => {
    const raw = JSON.parse(readFileSync(CONFIG_FILE, 'utf8'));
    expect(() => parseVaeConfig({ ...raw, latent_channels: 'four' }, 'vae/config.json')).toThrow(/vae\/config\.json.*"latent_channels"/);
    expect(() => parseVaeConfig({ ...raw, down_block_types: ['DownEncoderBlock2D'] }, 'vae/config.json')).toThrow(/"down_block_types"/);
    expect(() => parseVaeConfig({ ...raw, norm_num_groups: 16 }, 'vae/config.json')).toThrow(/"norm_num_groups"/);
  });
});
