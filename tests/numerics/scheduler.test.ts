import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { readFloat64 } from '../../src/io/safetensors.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import {
  eulerKarrasSchedule,
  eulerStep,
  karrasSigmasF64,
  resolveSchedulerConfig,
  scaleModelInput,
  trainingInitNoiseSigma,
  SVD_SCHEDULER_CONFIG,
} from '../../src/numerics/index.ts';

const dir = fileURLToPath(new URL('../fixtures/A/scheduler/', import.meta.url));
const fx = openSafetensors(dir + 'tensors.safetensors');
const fixtureConfig = JSON.parse(readFileSync(dir + 'config.json', 'utf8'));
const pipelineConfig = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/A/pipeline/scheduler/scheduler_config.json', import.meta.url)), 'utf8'),
);
const STEP_COUNTS = [25, 14, 4, 1];
const f32 = Math.fround;

/** Element-wise relative error, exact zeros in the reference compared absolutely. */
function maxRel(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(a.length).toBe(ref.length);
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(a[i] - ref[i]);
    m = Math.max(m, ref[i] === 0 ? d : d / Math.abs(ref[i]));
  }
  return m;
}

/**
 * Max |a − ref| divided by max |ref| over the tensor. The loop tensors contain values near zero produced by
 * cancellation (sin pattern, 0.1·x + 0.05·t), where per-element relative error is meaningless, so the loop is
 * judged against the tensor's scale instead.
 */
function normRel(a: Float32Array, ref: Float32Array): number {
  expect(a.length).toBe(ref.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i] - ref[i]));
    s = Math.max(s, Math.abs(ref[i]));
  }
  return d / s;
}

describe('EulerDiscreteScheduler (SVD config) vs diffusers fixture', () => {
  it('reads the fixture scheduler_config.json as the SVD config', () => {
    expect(resolveSchedulerConfig(fixtureConfig)).toEqual(resolveSchedulerConfig(pipelineConfig));
    expect(resolveSchedulerConfig(fixtureConfig)).toEqual({ ...SVD_SCHEDULER_CONFIG });
  });

  it('rejects configs it does not reproduce', () => {
    expect(() => resolveSchedulerConfig({ use_karras_sigmas: false })).toThrow(/use_karras_sigmas/);
    expect(() => resolveSchedulerConfig({ prediction_type: 'epsilon' })).toThrow(/timestep_type/);
    expect(() => resolveSchedulerConfig({ _class_name: 'DDIMScheduler' })).toThrow(/DDIMScheduler/);
  });

  for (const n of STEP_COUNTS) {
    it(`set_timesteps(${n}): Karras float64, sigmas, timesteps, init_noise_sigma`, () => {
      const s = eulerKarrasSchedule(n, fixtureConfig);
      // float64 stage: same formula as numpy; only pow() may differ in the last bit.
      expect(maxRel(karrasSigmasF64(n, 0.002, 700), readFloat64(fx, `N${n}.sigmas_karras_float64`))).toBeLessThan(1e-14);
      expect(s.sigmas.length).toBe(n + 1);
      expect(s.sigmas[n]).toBe(0);
      expect(maxRel(s.sigmas, fx.readFloat32(`N${n}.sigmas`))).toBeLessThan(1e-6);
      expect(maxRel(s.timesteps, fx.readFloat32(`N${n}.timesteps`))).toBeLessThan(1e-6);
      expect(maxRel([s.initNoiseSigma], fx.readFloat32(`N${n}.init_noise_sigma`))).toBeLessThan(1e-6);
    });
  }

  it('init_noise_sigma of the training schedule (before set_timesteps)', () => {
    expect(maxRel([trainingInitNoiseSigma(fixtureConfig)], fx.readFloat32('train.init_noise_sigma'))).toBeLessThan(1e-6);
  });

  it('spec values for 25 steps', () => {
    const s = eulerKarrasSchedule(25);
    expect(s.sigmas[1]).toBeCloseTo(545.72925, 3);
    expect(s.sigmas[24]).toBeCloseTo(0.002, 9);
    expect(s.initNoiseSigma).toBeCloseTo(700.000714, 3);
    expect(s.timesteps[0]).toBeCloseTo(0.25 * Math.log(700), 6);
  });

  for (const n of [4, 25]) {
    it(`full sampling loop of ${n} steps (free-running, every intermediate)`, () => {
      const s = eulerKarrasSchedule(n, fixtureConfig);
      const pattern = fx.readFloat32(`loop${n}.pattern`);
      let sample: Float32Array = pattern.map((v) => v * s.initNoiseSigma);
      expect(normRel(sample, fx.readFloat32(`loop${n}.sample_init`))).toBe(0);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const ref = (k: string) => fx.readFloat32(`loop${n}.step${i}.${k}`);
        const t = s.timesteps[i];
        expect(maxRel([t], ref('t'))).toBeLessThan(1e-6);
        const scaled = scaleModelInput(sample, s.sigmas[i]);
        // the fixture's fake model: 0.1*scaled + 0.05*t in float32 torch ops
        const modelOutput = scaled.map((v) => f32(f32(f32(0.1) * v) + f32(f32(0.05) * t)));
        const x0 = new Float32Array(sample.length);
        const prev = eulerStep(modelOutput, s.sigmas[i], s.sigmas[i + 1], sample, { predOriginalOut: x0 });
        worst = Math.max(
          worst,
          normRel(scaled, ref('scaled_input')),
          normRel(modelOutput, ref('model_output')),
          normRel(x0, ref('pred_original_sample')),
          normRel(prev, ref('prev_sample')),
        );
        sample = prev; // no re-synchronisation with the reference: errors would accumulate
      }
      expect(worst).toBeLessThan(1e-6);
      expect(normRel(sample, fx.readFloat32(`loop${n}.final_sample`))).toBeLessThan(1e-6);
    });
  }

  it('the last step (sigma_next = 0) returns x0', () => {
    const sample = new Float32Array([1, -2, 3.5]);
    const out = new Float32Array([0.3, 0.1, -0.7]);
    const x0 = new Float32Array(3);
    const prev = eulerStep(out, 0.002, 0, sample, { predOriginalOut: x0 });
    for (let i = 0; i < 3; i++) expect(prev[i]).toBeCloseTo(x0[i], 6);
    // v-prediction x0 by hand, float64
    const sg = 0.002;
    expect(x0[1]).toBeCloseTo(0.1 * (-sg / Math.sqrt(sg * sg + 1)) + -2 / (sg * sg + 1), 6);
  });
});
