/**
 * The shape evaluator (src/compiler/onnx/shape-eval.ts) and the FLOP split of bench/graph-flops.ts on the tiny
 * fixture UNet (fixture A's config, plain and fused attention). Single nodes: tests/compiler/shape-eval.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { evaluateGraph } from '../../src/compiler/onnx/shape-eval.ts';
import { flopSplit } from '../../bench/graph-flops.ts';
import { buildWeightless, unetInputs } from '../../bench/flops.ts';
import { fixturePath, loadTensors } from '../support/fixtures.ts';

const RAW_CONFIG = JSON.parse(readFileSync(fixturePath('A', 'unet', 'config.json'), 'utf8')) as Record<string, unknown>;
const ref = loadTensors(fixturePath('A', 'unet', 'tensors.safetensors'));

describe('shape evaluator on the tiny fixture UNet', () => {
  const shapes = {
    sample: ref.get('input.sample').shape,
    timestep: [1],
    encoder_hidden_states: ref.get('input.encoder_hidden_states').shape,
    added_time_ids: ref.get('input.added_time_ids').shape,
  };

  it("propagates to noise_pred [B,F,4,h,w], the reference output's shape, with plain and fused attention alike", () => {
    const [B, F, , h, w] = shapes.sample;
    const totals: number[] = [];
    for (const attention of ['plain', 'fused'] as const) {
      const g = buildWeightless('unet', 'tiny', attention, RAW_CONFIG);
      const ev = evaluateGraph(g, shapes);
      expect(ev.values.get('noise_pred')!.shape).toEqual([B, F, 4, h, w]);
      expect(ev.values.get('noise_pred')!.shape).toEqual(ref.get('output.sample').shape);
      expect(ev.costs).toHaveLength(g.nodes.length);
      expect(ev.totalFlops).toBeGreaterThan(0);
      totals.push(ev.totalFlops);
    }
    // MultiHeadAttention is counted as QKᵀ + AV: exactly what the plain graph's two MatMuls per attention cost
    expect(totals[1]).toBe(totals[0]);
  });

  it('other sizes and frame counts resolve too (dynamic B, F, H, W through Shape/Concat/Reshape/Resize)', () => {
    const g = buildWeightless('unet', 'tiny', 'fused', RAW_CONFIG);
    for (const [b, f, H, W] of [[1, 5, 64, 96], [2, 2, 128, 64]]) {
      const ev = evaluateGraph(g, unetInputs(b, f, H, W, 8, 32));
      expect(ev.values.get('noise_pred')!.shape).toEqual([b, f, 4, H / 8, W / 8]);
    }
  });

  it('the split covers every counted FLOP', () => {
    const g = buildWeightless('unet', 'tiny', 'fused', RAW_CONFIG);
    const ev = evaluateGraph(g, shapes);
    const split = flopSplit(g, ev);
    expect([...split.values()].reduce((a, b) => a + b, 0)).toBe(ev.totalFlops);
    expect(split.get('other') ?? 0).toBe(0);
    expect(split.get('conv 3×3 (spatial)')).toBeGreaterThan(0);
    expect(split.get('conv temporal 3×1×1')).toBeGreaterThan(0);
    expect(split.get('spatial self-attention QKᵀ+AV')).toBeGreaterThan(0);
  });

  it('a missing input shape or a wrong rank is an error', () => {
    const g = buildWeightless('unet', 'tiny', 'fused', RAW_CONFIG);
    expect(() => evaluateGraph(g, { ...shapes, sample: [2, 3, 8, 16] })).toThrow(/rank/);
    expect(() => evaluateGraph(g, { timestep: [1] })).toThrow(/no shape given/);
  });
});
