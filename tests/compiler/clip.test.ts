import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../src/compiler/compile.ts';
import { PRECISIONS, dequantizedTwin, type Precision } from '../../src/compiler/onnx/nn.ts';
import { SafetensorsWeightSource, WeightStore } from '../../src/compiler/weights.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { nodeOutputFolder } from '../../src/io/node-files.ts';
import { buildImageEncoder, parseClipVisionConfig, CLIP_IGNORED_WEIGHTS } from '../../src/compiler/architectures/clip.ts';
import { fixturePath, loadTensors, maxAbs, maxAbsDiff, parityBound } from '../support/fixtures.ts';
import { runModel } from '../support/ort.ts';

const dir = fixturePath('A', 'clip');
const config = parseClipVisionConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), 'clip/config.json');
const ref = loadTensors(join(dir, 'tensors.safetensors'));
const pixels = ref.get('input.pixel_values');
const expected = ref.get('output.image_embeds');

async function compileAndRun(precision: Precision) {
  const outDir = mkdtempSync(join(tmpdir(), `clip-${precision.name}-`));
  const weights = new WeightStore(new SafetensorsWeightSource(openSafetensors(join(dir, 'weights.safetensors'))), CLIP_IGNORED_WEIGHTS);
  const compiled = compileGraph('image_encoder', weights, { output: nodeOutputFolder(outDir), precision, attention: 'plain' }, (ctx) => buildImageEncoder(ctx, config));
  const out = await runModel(join(outDir, 'image_encoder.onnx'), { pixel_values: pixels });
  return { compiled, embeds: out.image_embeds };
}

describe('CLIP image encoder graph', () => {
  it('fp32 matches transformers within 1e-4·max(1,|ref|)', async () => {
    const { embeds } = await compileAndRun(PRECISIONS.fp32);
    expect(embeds.shape).toEqual(expected.shape);
    const err = maxAbsDiff(embeds.data, expected.data);
    console.log(`clip fp32 max|Δ| = ${err.toExponential(2)} (max|ref| ${maxAbs(expected.data).toFixed(3)})`);
    expect(err).toBeLessThanOrEqual(parityBound(expected.data));
  });

  it('q4f32 equals the fp32 graph built from its own dequantized weights', async () => {
    const [quant, twin] = [await compileAndRun(PRECISIONS.q4f32), await compileAndRun(dequantizedTwin(PRECISIONS.q4f32))];
    const err = maxAbsDiff(quant.embeds.data, twin.embeds.data);
    console.log(`clip q4f32 vs dequantized fp32 twin max|Δ| = ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(parityBound(twin.embeds.data));
    // and the quantized graph really is quantized: it differs from the float reference
    expect(maxAbsDiff(quant.embeds.data, expected.data)).toBeGreaterThan(1e-4);
  });

  // Error against the reference per precision. Bounds (relative to max|ref|): fp16 keeps ~11 mantissa bits per
  // op, so a 2-layer network stays within 1%; int4 blocks of 32 on random N(0, 0.05²) weights carry ~8% RMS
  // weight error (uniform rounding over a range set by the block's largest value), so outputs may move by up
  // to ~25% of their scale on this tiny random network (real weights are smoother).
  for (const [name, bound] of [['fp16', 0.01], ['q4f32', 0.25], ['q4f16', 0.25]] as const) {
    it(`${name} runs and stays within ${bound}·max|ref| of the reference`, async () => {
      const { embeds } = await compileAndRun(PRECISIONS[name]);
      const err = maxAbsDiff(embeds.data, expected.data);
      console.log(`clip ${name} max|Δ| vs reference = ${err.toExponential(2)} (${((err / maxAbs(expected.data)) * 100).toFixed(2)}% of max|ref|)`);
      expect(err).toBeLessThanOrEqual(bound * maxAbs(expected.data));
    });
  }
});
