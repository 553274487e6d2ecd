/**
 * Synthetic checkpoints (`svd-web synth`): the tiny preset has exactly fixture A's tensors (names and shapes, so the
 * recorded names are the reference library's), and converts to q4f16 into four graphs that onnxruntime-node opens;
 * the svd-xt preset's recorded parameter counts equal the spec's counts of the real SVD-XT networks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { presetConfigs } from '../../src/compiler/synthetic/configs.ts';
import { paramBreakdown, recordPreset } from '../../src/compiler/synthetic/record.ts';
import { syntheticTensor, isNormWeight } from '../../src/compiler/synthetic/random.ts';
import { synthesizeCheckpoint } from '../../src/compiler/synthetic/write.ts';
import { convertCheckpoint } from '../../src/compiler/convert-folder.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { GRAPH_NAMES } from '../../src/contract/manifest.ts';
import { fixturePath } from '../support/fixtures.ts';

const temp = mkdtempSync(join(tmpdir(), 'svd-synth-test-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function tensorList(path: string): string[] {
  const f = openSafetensors(path);
  try {
    return [...f.tensors.values()].map((t) => `${t.name} [${t.shape}]`).sort();
  } finally {
    f.close();
  }
}

describe('synthetic checkpoints', () => {
  it('tiny preset: the same tensors as fixture A; converts to q4f16; all four graphs open in onnxruntime-node', { timeout: 600_000 }, async () => {
    const ckpt = join(temp, 'tiny');
    const result = synthesizeCheckpoint({ out: ckpt, preset: 'tiny', dtype: 'f16', seed: 7 });
    expect(result.params.unet).toBeGreaterThan(0);

    // every name and shape equals the reference library's state_dict (fixture A has the same configs)
    expect(tensorList(join(ckpt, 'unet', 'diffusion_pytorch_model.fp16.safetensors'))).toEqual(tensorList(fixturePath('A', 'unet', 'weights.safetensors')));
    expect(tensorList(join(ckpt, 'vae', 'diffusion_pytorch_model.fp16.safetensors'))).toEqual(tensorList(fixturePath('A', 'vae', 'weights.safetensors')));
    expect(tensorList(join(ckpt, 'image_encoder', 'model.fp16.safetensors'))).toEqual(tensorList(fixturePath('A', 'pipeline', 'image_encoder', 'weights.safetensors')));

    // values: f16, std ≈ 0.02, norm gains ≈ 1
    const unet = openSafetensors(join(ckpt, 'unet', 'diffusion_pytorch_model.fp16.safetensors'));
    const w = unet.readFloat32('down_blocks.0.resnets.0.spatial_res_block.conv1.weight');
    const g = unet.readFloat32('down_blocks.0.resnets.0.spatial_res_block.norm1.weight');
    expect(unet.info('conv_in.weight').dtype).toBe('F16');
    unet.close();
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(Math.min(...g)).toBeGreaterThan(0.8);
    expect(Math.max(...g)).toBeLessThan(1.2);

    // configs and the rest of the layout, as published
    expect(JSON.parse(readFileSync(join(ckpt, 'scheduler', 'scheduler_config.json'), 'utf8'))).toMatchObject({ _class_name: 'EulerDiscreteScheduler', use_karras_sigmas: true, prediction_type: 'v_prediction' });
    expect(JSON.parse(readFileSync(join(ckpt, 'feature_extractor', 'preprocessor_config.json'), 'utf8')).image_mean).toEqual([0.48145466, 0.4578275, 0.40821073]);

    const out = join(temp, 'tiny-q4f16');
    const { manifest } = convertCheckpoint({ from: ckpt, out, precision: 'q4f16' });
    expect(manifest.precision).toBe('q4f16');
    expect(manifest.pipeline.defaultFrames).toBe(3);
    for (const name of GRAPH_NAMES) {
      const t0 = performance.now();
      const session = await ort.InferenceSession.create(join(out, manifest.graphs[name].model), { executionProviders: ['cpu'] });
      console.log(`synthetic tiny q4f16 ${name}: opened in ${((performance.now() - t0) / 1000).toFixed(1)} s, inputs ${session.inputNames.join(', ')}`);
      expect(session.outputNames.length).toBe(1);
      await session.release();
    }
  });

  it('same seed, same bytes; another seed, other values', () => {
    const a = syntheticTensor('unet.x.weight', [3, 5], 'f16', 1);
    expect(syntheticTensor('unet.x.weight', [3, 5], 'f16', 1)).toEqual(a);
    expect(syntheticTensor('unet.x.weight', [3, 5], 'f16', 2)).not.toEqual(a);
    expect(syntheticTensor('unet.y.weight', [3, 5], 'f16', 1)).not.toEqual(a);
    expect(isNormWeight('vision_model.pre_layrnorm.weight')).toBe(true);
    expect(isNormWeight('down_blocks.0.attentions.0.norm.bias')).toBe(false);
    expect(isNormWeight('conv_in.weight')).toBe(false);
  });

  it('svd-xt preset: recorded parameter counts equal the spec (real SVD-XT configs)', { timeout: 600_000 }, () => {
    expect(presetConfigs('svd-xt').unet.num_frames).toBe(25);
    expect(presetConfigs('svd').unet.num_frames).toBe(14);
    const t0 = performance.now();
    const { weights } = recordPreset('svd-xt');
    const unet = paramBreakdown(weights.unet);
    const vaeEnc = paramBreakdown(weights.vae_encoder);
    const vaeDec = paramBreakdown(weights.vae_decoder);
    const clip = paramBreakdown(weights.image_encoder);
    const m = (n: number) => Math.round(n / 1e5) / 10; // millions, one decimal, as the spec writes them
    console.log(
      `svd-xt recorded in ${((performance.now() - t0) / 1000).toFixed(1)} s: unet ${unet.total.toLocaleString('en-US')} ` +
        `(linear ${m(unet.linear.params)} M in ${unet.linear.tensors}, conv ${m(unet.conv.params)} M in ${unet.conv.tensors}), ` +
        `vae enc ${m(vaeEnc.total)} M, dec ${m(vaeDec.total)} M, clip ${m(clip.total)} M (linear ${m(clip.linear.params)} M)`,
    );
    // "Sizes and compute of the real SVD-XT networks" in the spec
    expect(unet.total).toBe(1_524_623_082);
    expect(m(unet.linear.params)).toBe(826.0);
    expect(unet.linear.tensors).toBe(464);
    expect(m(unet.conv.params)).toBe(697.6);
    expect(unet.conv.tensors).toBe(110);
    expect(m(vaeEnc.total)).toBe(34.2);
    expect(m(vaeDec.total)).toBe(63.6);
    expect(m(clip.total)).toBe(632.1);
    expect(m(clip.linear.params)).toBe(630.5);
    // every Linear can take the int4 path (in_features divisible by 32)
    for (const w of [...weights.unet, ...weights.image_encoder]) {
      if (w.shape.length === 2 && !w.name.endsWith('embedding.weight')) expect(w.shape[1] % 32, w.name).toBe(0);
    }
  });
});
