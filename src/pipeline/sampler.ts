/**
 * The model's sampler as the denoising loop uses it: diffusers' EulerDiscreteScheduler for SVD, or AnimateLCM's
 * consistency sampler for fast models, picked from the manifest (`sampler`, with the scheduler config it recorded),
 * as diffusers picks the scheduler class from scheduler_config.json. Both loops (CPU and device) call the same four
 * things: the schedule, the UNet input's scaling, one step on the CPU, and the step graph's per-step inputs.
 */
import type { ModelManifest, SamplerName, StepGraphName } from '../contract/manifest.ts';
import { stepGraphsOf } from '../contract/manifest.ts';
import { eulerKarrasSchedule, eulerStep, eulerStepCoefficients, scaleModelInput, sqrtSigmaSqPlusOne } from '../numerics/scheduler.ts';
import { animateLcmSchedule, consistencyCoefficients, consistencyScaleInput, consistencyStep } from '../numerics/animatelcm.ts';
import { randn } from '../numerics/rng.ts';

/** What a step graph reads each step besides the loop's buffers: its scalars, and fresh noise for consistency steps. */
export interface StepGraphInputs {
  coefs: Float32Array;
  nextDivisor: number;
  /** standard-normal noise [1,F,C,h,w] for this step (consistency sampler, all but the last step) */
  noise?: Float32Array;
}

export interface LoopSampler {
  name: SamplerName;
  /** float32 [N+1], the last 0 */
  sigmas: Float32Array;
  /** float32 [N]: the UNet's timestep input per step */
  timesteps: Float32Array;
  /** the initial standard-normal latents are multiplied by it */
  initNoiseSigma: number;
  /** the step graphs: [batch 1, CFG batch 2] */
  stepGraphs: readonly [StepGraphName, StepGraphName];
  /** whether the step graph has a `noise` input */
  stepNoise: boolean;
  /** the UNet's latent input at step i: latents / √(σ_i² + σ_data²) */
  scaleInput(latents: Float32Array, i: number): Float32Array;
  /** step i on the CPU: the next latents from the guided prediction */
  step(guided: Float32Array, i: number, latents: Float32Array): Float32Array;
  /** step i's inputs of the step graph */
  stepInputs(i: number): StepGraphInputs;
}

/**
 * The sampler for `steps` steps of this model. `seed` and `latentSize` feed the consistency sampler's fresh noise:
 * step i draws the seed's stream 2 + i (streams 0 and 1 are the initial latents and the conditioning noise).
 */
export function samplerFor(manifest: Pick<ModelManifest, 'sampler' | 'scheduler'>, steps: number, seed: number, latentSize: number): LoopSampler {
  const name = manifest.sampler ?? 'euler';
  if (name === 'animatelcm') {
    const s = animateLcmSchedule(steps, manifest.scheduler);
    const noise = (i: number) => randn(seed, latentSize, { stream: 2 + i });
    return {
      name, sigmas: s.sigmas, timesteps: s.timesteps, initNoiseSigma: s.initNoiseSigma, stepGraphs: stepGraphsOf(name), stepNoise: true,
      scaleInput: (latents, i) => consistencyScaleInput(latents, s.sigmas[i], s.config),
      step: (guided, i, latents) => {
        const k = consistencyCoefficients(s.sigmas[i], s.sigmas[i + 1], s.config);
        return consistencyStep(guided, s.sigmas[i], s.sigmas[i + 1], latents, k.noiseScale === 0 ? undefined : noise(i), s.config);
      },
      stepInputs: (i) => {
        const k = consistencyCoefficients(s.sigmas[i], s.sigmas[i + 1], s.config);
        return {
          coefs: Float32Array.of(k.cOut, k.cSkip, k.noiseScale),
          nextDivisor: consistencyCoefficients(s.sigmas[i + 1], 0, s.config).inputDivisor,
          // the last step scales its noise by σ_N = 0: zeros, not a draw (the graph still reads the buffer)
          noise: k.noiseScale === 0 ? new Float32Array(latentSize) : noise(i),
        };
      },
    };
  }
  const s = eulerKarrasSchedule(steps, manifest.scheduler);
  return {
    name, sigmas: s.sigmas, timesteps: s.timesteps, initNoiseSigma: s.initNoiseSigma, stepGraphs: stepGraphsOf(name), stepNoise: false,
    scaleInput: (latents, i) => scaleModelInput(latents, s.sigmas[i]),
    step: (guided, i, latents) => eulerStep(guided, s.sigmas[i], s.sigmas[i + 1], latents, { predictionType: s.predictionType }),
    stepInputs: (i) => {
      const c = eulerStepCoefficients(s.sigmas[i], s.sigmas[i + 1]);
      return { coefs: Float32Array.of(c.cOut, c.sigmaSqPlusOne, c.sigma, c.dt), nextDivisor: sqrtSigmaSqPlusOne(s.sigmas[i + 1]) };
    },
  };
}
