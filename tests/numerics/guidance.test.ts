import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { applyGuidance, cfgEnabled, eulerKarrasSchedule, eulerStep, guidanceScales, scaleModelInput } from '../../src/numerics/index.ts';

const fx = openSafetensors(fileURLToPath(new URL('../fixtures/A/pipeline/tensors.safetensors', import.meta.url)));

describe('per-frame classifier-free guidance vs the pipeline fixture', () => {
  it('guidance scales = torch.linspace(1, 3, F)', () => {
    const ref = fx.readFloat32('rec.guidance_scale'); // [1,F,1,1,1]
    const g = guidanceScales(1.0, 3.0, ref.length);
    expect(Array.from(g)).toEqual(Array.from(ref));
  });

  it('linspace endpoints, monotonicity and single frame', () => {
    const g = guidanceScales(1.0, 3.0, 25);
    expect(g[0]).toBe(1);
    expect(g[24]).toBe(3);
    for (let i = 1; i < 25; i++) expect(g[i]).toBeGreaterThan(g[i - 1]);
    expect(g[12]).toBeCloseTo(2, 6);
    expect(Array.from(guidanceScales(2.5, 3, 1))).toEqual([2.5]);
    expect(cfgEnabled(3)).toBe(true);
    expect(cfgEnabled(1)).toBe(false);
  });

  it('CFG combine + Euler step reproduce step 0 of the pipeline', () => {
    const s = eulerKarrasSchedule(4);
    const [, frames, c, h, w] = fx.info('rec.step0.unet_out').shape; // [2 (uncond, cond), F, 4, h, w]
    const frameSize = c * h * w;
    const n = frames * frameSize;
    const latents = fx.readFloat32('input.latents').map((v) => v * s.initNoiseSigma);
    // the UNet input: both CFG halves get the same scaled latents in channels 0..3
    const scaled = scaleModelInput(latents, s.sigmas[0]);
    const unetSample = fx.readFloat32('rec.step0.unet_sample'); // [2,F,8,h,w]
    let inErr = 0;
    for (let b = 0; b < 2; b++) {
      for (let f = 0; f < frames; f++) {
        for (let i = 0; i < frameSize; i++) {
          inErr = Math.max(inErr, Math.abs(scaled[f * frameSize + i] - unetSample[(b * frames + f) * 2 * frameSize + i]));
        }
      }
    }
    expect(inErr).toBeLessThan(1e-6);

    const out = fx.readFloat32('rec.step0.unet_out');
    const guided = applyGuidance(out.subarray(0, n), out.subarray(n, 2 * n), guidanceScales(1, 3, frames), frames, frameSize);
    // frame 0 has scale 1: guidance returns the conditional output there (up to float32 rounding of u + (c − u))
    for (let i = 0; i < frameSize; i += 97) expect(Math.abs(guided[i] - out[n + i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(out[n + i])));
    // the last frame (scale 3) differs from the conditional output
    expect(Math.abs(guided[n - 1] - out[2 * n - 1])).toBeGreaterThan(1e-6);
    const next = eulerStep(guided, s.sigmas[0], s.sigmas[1], latents);
    const ref = fx.readFloat32('rec.step0.latents_after');
    let err = 0;
    let scale = 0;
    for (let i = 0; i < n; i++) {
      err = Math.max(err, Math.abs(next[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    // Same float32 inputs and operation order as torch: relative 1e-6 of values that reach ~290.
    expect(err / scale).toBeLessThan(1e-6);
  });

  it('applyGuidance uses u + g(c − u) per frame', () => {
    const u = new Float32Array([1, 1, 2, 2]);
    const c = new Float32Array([3, 5, 2, 0]);
    expect(Array.from(applyGuidance(u, c, [0.5, 2], 2, 2))).toEqual([2, 3, 2, -2]);
    expect(() => applyGuidance(u, c, [1], 2, 2)).toThrow(RangeError);
  });
});
