/**
 * AnimateLCM's consistency sampler (src/numerics/animatelcm.ts) against values derived by hand from its authors'
 * formulas (G-U-N/AnimateLCM, animatelcm_svd/animatelcm_scheduler.py, with the config of animatelcm_svd/app.py:
 * num_train_timesteps 40, σmin 0.002, σmax 700, σ_data 1, s_noise 1, ρ 7, clip_denoised False):
 *
 *   set_timesteps(N): ratio = 40 // N, t = (arange(N)·ratio)[::-1], ramp = t[::-1] / 39,
 *                     σ = (σmax^(1/7) + ramp·(σmin^(1/7) − σmax^(1/7)))^7   (float64), then σ_N = 0
 *                     timestep = 0.25·ln(σ + 1e-44)
 *   step:             x0 = c_out·m + c_skip·x,  c_skip = 1/(σ²+1),  c_out = −σ/√(σ²+1)
 *                     prev = x0 + z·σ_next
 *
 * The literal sigmas and timesteps below were computed with those formulas in float64 (Python's float, which is
 * numpy's float64) and are compared after the float32 cast the reference applies.
 */
import { describe, expect, it } from 'vitest';
import {
  ANIMATELCM_SVD_CONFIG, animateLcmSchedule, consistencyCoefficients, consistencyScaleInput, consistencyStep, resolveAnimateLcmConfig,
} from '../../src/numerics/animatelcm.ts';
import { samplerFor } from '../../src/pipeline/sampler.ts';
import { randn } from '../../src/numerics/rng.ts';

const f32 = Math.fround;

/** float64 values by hand (see the header); σ_N = 0 is appended by the scheduler. */
const EXPECTED: Record<number, { training: number[]; sigmas: number[]; timesteps: number[] }> = {
  1: { training: [0], sigmas: [699.9999999999994], timesteps: [1.6377700837608509] },
  2: { training: [20, 0], sigmas: [699.9999999999994, 13.67844411279635], timesteps: [1.6377700837608509, 0.6539552928203602] },
  4: {
    training: [30, 20, 10, 0],
    sigmas: [699.9999999999994, 128.56369722585464, 13.67844411279635, 0.49687842033435303],
    timesteps: [1.6377700837608509, 1.2141061199432894, 0.6539552928203602, -0.17485247747636337],
  },
  8: {
    training: [35, 30, 25, 20, 15, 10, 5, 0],
    sigmas: [699.9999999999994, 315.73739672103824, 128.56369722585464, 45.85072381658683, 13.67844411279635, 3.1666107910052435, 0.49687842033435303, 0.0397536912397013],
    timesteps: [1.6377700837608509, 1.43872771126529, 1.2141061199432894, 0.9563477462997928, 0.6539552928203602, 0.28816546620924977, -0.17485247747636337, -0.8062631452042534],
  },
};

describe('AnimateLCM consistency sampler: schedule', () => {
  for (const steps of [1, 2, 4, 8]) {
    it(`${steps} step(s): training timesteps, sigmas and UNet timesteps as derived by hand`, () => {
      const s = animateLcmSchedule(steps);
      const e = EXPECTED[steps];
      expect(s.trainingTimesteps).toEqual(e.training);
      // the reference casts sigmas to float32: exact equality with the float32 of the float64 value
      expect([...s.sigmas]).toEqual([...e.sigmas.map(f32), 0]);
      // timesteps are float64 in the reference and float32 in the UNet: equal to the float32 cast (bound: exact)
      expect([...s.timesteps]).toEqual(e.timesteps.map(f32));
      // √(700² + 1), whatever the number of steps
      expect(s.initNoiseSigma).toBe(f32(700.0007142853499));
    });
  }

  it('refuses what the reference refuses, with the reason', () => {
    expect(() => animateLcmSchedule(0)).toThrow(/positive integer/);
    expect(() => animateLcmSchedule(41)).toThrow(/cannot exceed the sampler's 40 training timesteps/);
    expect(animateLcmSchedule(40).sigmas.length).toBe(41);
    expect(() => resolveAnimateLcmConfig({ _class_name: 'EulerDiscreteScheduler' })).toThrow(/is not AnimateLCMSVDStochasticIterativeScheduler/);
    expect(() => resolveAnimateLcmConfig({ sigma_data: 'one' })).toThrow(/sigma_data = "one" is not valid/);
    // the authors' app.py values, not the class defaults (σmax 80, σ_data 0.5)
    expect(ANIMATELCM_SVD_CONFIG).toMatchObject({ sigma_max: 700, sigma_data: 1, clip_denoised: false, num_train_timesteps: 40 });
  });
});

describe('AnimateLCM consistency sampler: one step', () => {
  // step 2 of 4: σ = 13.67844411279635, σ_next = 0.49687842033435303
  const sigma = f32(13.67844411279635);
  const sigmaNext = f32(0.49687842033435303);
  const x = Float32Array.of(1.5, -20.25, 0.125, 7);
  const m = Float32Array.of(-0.5, 0.75, 2, -1.25);
  const z = Float32Array.of(0.3, -1.1, 0.05, 2.2);

  it('x0 = c_out·m + c_skip·x, prev = x0 + z·σ_next, within 2 float32 ulps of the float64 formula', () => {
    const out = consistencyStep(m, sigma, sigmaNext, x, z, ANIMATELCM_SVD_CONFIG);
    for (let i = 0; i < x.length; i++) {
      const cSkip = 1 / (sigma * sigma + 1);
      const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
      const expected = cOut * m[i] + cSkip * x[i] + z[i] * sigmaNext;
      // bound: float32 arithmetic vs float64, |Δ| ≤ 4·2⁻²⁴·(|x0| + |z·σ_next|)
      const scale = Math.abs(cOut * m[i]) + Math.abs(cSkip * x[i]) + Math.abs(z[i] * sigmaNext);
      expect(Math.abs(out[i] - expected), `element ${i}`).toBeLessThanOrEqual(4 * 2 ** -24 * scale);
    }
    // by hand for element 0: c_skip = 1/(13.678444² + 1) = 0.0053163…, c_out = −0.997338…
    expect(out[0]).toBeCloseTo(-0.997338 * -0.5 + 0.0053163 * 1.5 + 0.3 * 0.4968784, 5);
  });

  it('the last step adds no noise (σ_N = 0) and the UNet input is x/√(σ²+1)', () => {
    const last = consistencyStep(m, sigmaNext, 0, x, undefined, ANIMATELCM_SVD_CONFIG);
    const k = consistencyCoefficients(sigmaNext, 0, ANIMATELCM_SVD_CONFIG);
    expect(k.noiseScale).toBe(0);
    for (let i = 0; i < x.length; i++) expect(last[i]).toBe(f32(f32(k.cOut * m[i]) + f32(k.cSkip * x[i])));
    const scaled = consistencyScaleInput(x, sigma, ANIMATELCM_SVD_CONFIG);
    for (let i = 0; i < x.length; i++) expect(Math.abs(scaled[i] - x[i] / Math.sqrt(sigma * sigma + 1))).toBeLessThanOrEqual(2 ** -23 * Math.abs(scaled[i]));
    expect(() => consistencyStep(m, sigma, sigmaNext, x, undefined, ANIMATELCM_SVD_CONFIG)).toThrow(/needs 4 noise values/);
  });

  it('clip_denoised clamps x0 to [−1, 1] when a config asks for it', () => {
    const clipped = consistencyStep(m, sigmaNext, 0, x, undefined, resolveAnimateLcmConfig({ clip_denoised: true }));
    expect(Math.max(...clipped.map(Math.abs))).toBeLessThanOrEqual(1);
    expect(Math.max(...consistencyStep(m, sigmaNext, 0, x, undefined, ANIMATELCM_SVD_CONFIG).map(Math.abs))).toBeGreaterThan(1);
  });
});

describe('AnimateLCM consistency sampler: determinism per seed', () => {
  const n = 2 * 4 * 3 * 5;
  const run = (seed: number) => {
    const s = samplerFor({ sampler: 'animatelcm' }, 4, seed, n);
    let latents: Float32Array = randn(seed, n, { stream: 0 }).map((v) => v * s.initNoiseSigma);
    for (let i = 0; i < 4; i++) latents = s.step(s.scaleInput(latents, i).map((v) => 0.1 * v), i, latents);
    return latents;
  };

  it('the same seed gives the same latents; another seed other latents', () => {
    expect([...run(5)]).toEqual([...run(5)]);
    const a = run(5);
    const b = run(6);
    expect(a.some((v, i) => Math.abs(v - b[i]) > 1e-3)).toBe(true);
  });

  it('step i draws the seed\'s stream 2 + i, and the last step none', () => {
    const s = samplerFor({ sampler: 'animatelcm' }, 4, 5, n);
    expect([...s.stepInputs(1).noise!]).toEqual([...randn(5, n, { stream: 3 })]);
    expect(s.stepInputs(3).noise!.every((v) => v === 0)).toBe(true);
    expect([...s.stepInputs(1).coefs]).toEqual([consistencyCoefficients(s.sigmas[1], s.sigmas[2], ANIMATELCM_SVD_CONFIG).cOut, consistencyCoefficients(s.sigmas[1], s.sigmas[2], ANIMATELCM_SVD_CONFIG).cSkip, s.sigmas[2]]);
  });
});
