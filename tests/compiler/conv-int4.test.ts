/**
 * The opt-in int4 convolution storage (`convert --conv-int4`): DequantizeLinear-21 with int4 blocks of 32 input
 * channels per kernel tap. Proven exact against an fp32 UNet built from the same rounded weights; its error
 * against the reference is printed (it is why the option is not the default).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../src/compiler/compile.ts';
import { PRECISIONS, dequantizedTwin, type Precision } from '../../src/compiler/onnx/nn.ts';
import { SafetensorsWeightSource, WeightStore } from '../../src/compiler/weights.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { nodeOutputFolder } from '../../src/io/node-files.ts';
import { buildUnet, parseUnetConfig } from '../../src/compiler/architectures/unet.ts';
import { quantizeInt4ConvBlocks } from '../../src/compiler/quantize.ts';
import { fixturePath, loadTensors, maxAbs, maxAbsDiff, parityBound } from '../support/fixtures.ts';
import { runModel } from '../support/ort.ts';

const DIR = fixturePath('A', 'unet');
const config = parseUnetConfig(JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')), 'unet/config.json');
const ref = loadTensors(join(DIR, 'tensors.safetensors'));
const q4conv: Precision = { ...PRECISIONS.q4f32, conv: 'int4' };

async function compileAndRun(precision: Precision) {
  const outDir = mkdtempSync(join(tmpdir(), 'unet-int4conv-'));
  const compiled = compileGraph('unet', new WeightStore(new SafetensorsWeightSource(openSafetensors(join(DIR, 'weights.safetensors')))), { output: nodeOutputFolder(outDir), precision, attention: 'plain' }, (ctx) => buildUnet(ctx, config));
  const t = ref.get('input.timestep');
  const out = await runModel(join(outDir, compiled.model.path), {
    sample: ref.get('input.sample'),
    timestep: { data: t.data, shape: [1] },
    encoder_hidden_states: ref.get('input.encoder_hidden_states'),
    added_time_ids: ref.get('input.added_time_ids'),
  });
  return out.noise_pred.data;
}

describe('int4 convolution blocks', () => {
  it('pack two signed nibbles per byte, low first, in the weight\'s C order, with blocks along input channels', () => {
    // [O=1, I=32, 1, 2]: tap 0 holds 1..32 scaled, tap 1 the negatives; each tap is its own block
    const w = new Float32Array(64);
    for (let c = 0; c < 32; c++) {
      w[c * 2] = (c + 1) / 32;
      w[c * 2 + 1] = -(c + 1) / 32;
    }
    const q = quantizeInt4ConvBlocks(w, 1, 32);
    expect(q.scales.length).toBe(2);
    expect(q.scales[0]).toBeCloseTo(-1 / 8, 7); // largest magnitude +1 maps to −8
    expect(q.scales[1]).toBeCloseTo(1 / 8, 7);
    // element 0 (c=0,tap0) = 1/32 → round(−0.25) = −0 → nibble 0; element 1 (c=0,tap1) = −1/32 → 0
    expect(q.packed[0]).toBe(0);
    // last channel: +1 → −8 (0x8) at tap 0 and −1 → −8 at tap 1
    expect(q.packed[31]).toBe(0x88);
    expect(maxAbsDiff(q.dequantized, w)).toBeLessThanOrEqual(1 / 16 + 1e-7); // half a quantization step
  });

  it('the q4f32 UNet with int4 convolutions equals its fp32 twin (the int4 conv path is exact)', async () => {
    const [quant, twin] = [await compileAndRun(q4conv), await compileAndRun(dequantizedTwin(q4conv))];
    const err = maxAbsDiff(quant, twin);
    const expected = ref.get('output.sample').data;
    console.log(
      `unet q4f32 + int4 convs: vs twin ${err.toExponential(2)}; vs reference ${maxAbsDiff(quant, expected).toExponential(2)} ` +
        `(${((maxAbsDiff(quant, expected) / maxAbs(expected)) * 100).toFixed(1)}% of max|ref|; int8 convs give ~9%)`,
    );
    expect(err).toBeLessThanOrEqual(parityBound(twin));
    // and it is really quantized differently from the int8 default
    expect(maxAbsDiff(quant, await compileAndRun(PRECISIONS.q4f32))).toBeGreaterThan(1e-3);
  });
});
