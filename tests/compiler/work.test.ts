/**
 * The UNet's work per call (src/compiler/work.ts): fitted from seven shape evaluations of the compiled graph, it must
 * equal a direct evaluation at shapes it was not fitted on (bound 1e-12 relative: the form is exact, the rest is
 * float rounding), for the tiny and the real SVD-XT config.
 */
import { describe, expect, it } from 'vitest';
import { buildWeightless } from '../../bench/flops.ts';
import { fitUnetWork, unetGraphFlops } from '../../src/compiler/work.ts';
import { unetCallFlops } from '../../src/contract/manifest.ts';
import { presetConfigs } from '../../src/compiler/synthetic/configs.ts';

const FACTS = { unetInChannels: 8, sizeMultiple: 64, vaeScaleFactor: 8 };

describe('UNet work per call, fitted from the graph', () => {
  it('tiny config: equals the shape evaluator at unfitted shapes (batch, frames, sizes)', () => {
    const graph = buildWeightless('unet', 'tiny', 'plain');
    const facts = { ...FACTS, embeddingDim: presetConfigs('tiny').unet.cross_attention_dim as number };
    const work = fitUnetWork(graph, facts)!;
    expect(work.coefficients).toHaveLength(7);
    for (const [B, F, h, w] of [[2, 14, 24, 40], [1, 25, 16, 8], [2, 5, 72, 128]]) {
      const direct = unetGraphFlops(graph, facts, B, F, h, w);
      expect(Math.abs(unetCallFlops(work, B, F, h, w) - direct) / direct, `${B}×${F}×${h}×${w}`).toBeLessThanOrEqual(1e-12);
    }
  });

  it('SVD-XT (fused attention): 86.16 TFLOP at 14 frames and 153.91 at 25, 576×1024 with guidance, as the graph counts', () => {
    const graph = buildWeightless('unet', 'svd-xt', 'fused');
    const facts = { ...FACTS, embeddingDim: 1024 };
    const work = fitUnetWork(graph, facts)!;
    for (const [F, tflop] of [[14, 86.16], [25, 153.91]]) {
      const direct = unetGraphFlops(graph, facts, 2, F, 72, 128);
      expect(Math.abs(unetCallFlops(work, 2, F, 72, 128) - direct) / direct).toBeLessThanOrEqual(1e-12);
      expect(direct / 1e12).toBeCloseTo(tflop, 2);
    }
    // batch 1 (guidance 1) is a little over half: the time embedding is per batch, not per frame
    expect(unetCallFlops(work, 1, 25, 72, 128) / unetCallFlops(work, 2, 25, 72, 128)).toBeCloseTo(0.5, 3);
  }, 60_000);
});
