/**
 * AnimateLCM's consistency sampler for SVD (`AnimateLCMSVDStochasticIterativeScheduler`, G-U-N/AnimateLCM,
 * animatelcm_svd/animatelcm_scheduler.py), with the configuration its authors run (animatelcm_svd/app.py):
 * 40 training timesteps, Karras sigmas between 0.002 and 700 (ρ = 7), σ_data = 1, s_noise = 1, no clipping.
 *
 *   set_timesteps(N):  ratio = 40 // N;  t_k = k·ratio (k = 0…N−1);  ramp_k = t_k / 39  (ascending)
 *                      σ_k = (σmax^(1/ρ) + ramp_k·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ  (float64, descending), then σ_N = 0
 *                      timestep_k = 0.25·ln(σ_k + 1e-44)  (float64; the UNet sees it as float32)
 *   init_noise_sigma   = √(σmax² + 1)  (from the config's σmax, whatever N)
 *   scale_model_input  = x / √(σ² + σ_data²)
 *   step:              c_skip = σ_data² / (σ² + σ_data²);  c_out = −σ·σ_data / √(σ² + σ_data²)
 *                      x0 = c_out·model_output + c_skip·x          (the consistency function)
 *                      prev = x0 + s_noise·z·σ_next,  z ~ N(0, I) fresh each step (none when N = 1; σ_N = 0)
 *
 * Sigmas are stored as float32 (the reference's `astype(np.float32)`); the step's scalars are float32 like torch's
 * 0-d tensor arithmetic. Our z comes from the seeded Philox stream (rng.ts), not torch's generator: the same seed
 * gives the same video in the browser and in Node. Pure TypeScript: no Node or DOM imports.
 */

const f32 = Math.fround;

/** The subset of the scheduler's config this implementation reads. */
export interface AnimateLcmConfig {
  num_train_timesteps: number;
  sigma_min: number;
  sigma_max: number;
  sigma_data: number;
  s_noise: number;
  rho: number;
  clip_denoised: boolean;
}

export const ANIMATELCM_SCHEDULER_CLASS = 'AnimateLCMSVDStochasticIterativeScheduler';

/** What AnimateLCM-SVD-xt's authors construct in animatelcm_svd/app.py (the class defaults differ: σmax 80, σ_data 0.5). */
export const ANIMATELCM_SVD_CONFIG: Readonly<AnimateLcmConfig> = Object.freeze({
  num_train_timesteps: 40,
  sigma_min: 0.002,
  sigma_max: 700.0,
  sigma_data: 1.0,
  s_noise: 1.0,
  rho: 7,
  clip_denoised: false,
});

/** The scheduler config the compiler records in a fast model's manifest. */
export function animateLcmSchedulerJson(): Record<string, unknown> {
  return { _class_name: ANIMATELCM_SCHEDULER_CLASS, ...ANIMATELCM_SVD_CONFIG };
}

/** Merges a recorded config over the authors' values; anything that is not a finite number (or boolean) is refused. */
export function resolveAnimateLcmConfig(json?: Record<string, unknown>): AnimateLcmConfig {
  const c = { ...ANIMATELCM_SVD_CONFIG } as AnimateLcmConfig;
  if (json) {
    const cls = json['_class_name'];
    if (cls !== undefined && cls !== ANIMATELCM_SCHEDULER_CLASS) throw new RangeError(`scheduler _class_name "${String(cls)}" is not ${ANIMATELCM_SCHEDULER_CLASS}`);
    for (const key of Object.keys(ANIMATELCM_SVD_CONFIG) as (keyof AnimateLcmConfig)[]) {
      const v = json[key];
      if (v === undefined) continue;
      if (key === 'clip_denoised' ? typeof v !== 'boolean' : !(typeof v === 'number' && Number.isFinite(v))) {
        throw new RangeError(`AnimateLCM scheduler config: ${key} = ${JSON.stringify(v)} is not valid`);
      }
      (c as unknown as Record<string, unknown>)[key] = v;
    }
  }
  if (!(c.sigma_min > 0 && c.sigma_max > c.sigma_min && c.sigma_data > 0 && c.rho > 0 && Number.isInteger(c.num_train_timesteps) && c.num_train_timesteps >= 2)) {
    throw new RangeError(`AnimateLCM scheduler config is inconsistent: ${JSON.stringify(c)}`);
  }
  return c;
}

export interface ConsistencySchedule {
  /** float32 [N+1]: σ_0 > … > σ_{N−1}, then 0 */
  sigmas: Float32Array;
  /** float32 [N]: what the UNet sees, 0.25·ln(σ + 1e-44) computed in float64 */
  timesteps: Float32Array;
  /** the training timesteps t_k picked (descending, as the reference lists them) */
  trainingTimesteps: number[];
  /** √(σmax² + 1): multiply the initial standard-normal latents by it */
  initNoiseSigma: number;
  config: AnimateLcmConfig;
}

/** The state of `set_timesteps(steps)`. */
export function animateLcmSchedule(steps: number, json?: Record<string, unknown>): ConsistencySchedule {
  const c = resolveAnimateLcmConfig(json);
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (steps > c.num_train_timesteps) {
    throw new RangeError(`steps (${steps}) cannot exceed the sampler's ${c.num_train_timesteps} training timesteps`);
  }
  const ratio = Math.floor(c.num_train_timesteps / steps);
  const ascending = Array.from({ length: steps }, (_, k) => k * ratio);
  const minInv = c.sigma_min ** (1 / c.rho);
  const maxInv = c.sigma_max ** (1 / c.rho);
  const sigmas = new Float32Array(steps + 1);
  const timesteps = new Float32Array(steps);
  for (let k = 0; k < steps; k++) {
    const ramp = ascending[k] / (c.num_train_timesteps - 1);
    const sigma = (maxInv + ramp * (minInv - maxInv)) ** c.rho; // float64, as numpy
    sigmas[k] = sigma;
    timesteps[k] = 0.25 * Math.log(sigma + 1e-44);
  }
  sigmas[steps] = 0;
  return {
    sigmas,
    timesteps,
    trainingTimesteps: ascending.slice().reverse(),
    initNoiseSigma: f32(Math.sqrt(c.sigma_max * c.sigma_max + 1)),
    config: c,
  };
}

/** The float32 scalars of one consistency step, shared by the CPU step below and the GPU step graph. */
export interface ConsistencyCoefficients {
  /** √(σ² + σ_data²): the UNet input is x divided by it */
  inputDivisor: number;
  cSkip: number;
  cOut: number;
  /** s_noise · clamp(σ_next, 0, σmax): the fresh noise's scale (0 at the last step) */
  noiseScale: number;
}

export function consistencyCoefficients(sigma: number, sigmaNext: number, c: AnimateLcmConfig): ConsistencyCoefficients {
  const s = f32(sigma);
  const data2 = f32(c.sigma_data * c.sigma_data);
  const denom = f32(f32(s * s) + data2);
  const root = f32(Math.sqrt(denom));
  const sigmaHat = Math.min(Math.max(f32(sigmaNext), 0), f32(c.sigma_max));
  return {
    inputDivisor: root,
    cSkip: f32(data2 / denom),
    cOut: f32(f32(-s * f32(c.sigma_data)) / root),
    noiseScale: f32(f32(c.s_noise) * sigmaHat),
  };
}

/** `scale_model_input`: x / √(σ² + σ_data²) (a float32 division per element). */
export function consistencyScaleInput(sample: Float32Array, sigma: number, c: AnimateLcmConfig, out: Float32Array = new Float32Array(sample.length)): Float32Array {
  const d = consistencyCoefficients(sigma, 0, c).inputDivisor;
  for (let i = 0; i < sample.length; i++) out[i] = sample[i] / d;
  return out;
}

/**
 * One consistency step: x0 = c_out·m + c_skip·x (clamped to [−1, 1] when clip_denoised), prev = x0 + noiseScale·z.
 * `noise` (standard normal, the shape of the sample) may be absent when noiseScale is 0 (the last step).
 */
export function consistencyStep(
  modelOutput: Float32Array,
  sigma: number,
  sigmaNext: number,
  sample: Float32Array,
  noise: Float32Array | undefined,
  c: AnimateLcmConfig,
  out: Float32Array = new Float32Array(sample.length),
): Float32Array {
  const n = sample.length;
  if (modelOutput.length !== n) throw new RangeError(`consistencyStep: modelOutput has ${modelOutput.length} elements, sample has ${n}`);
  const k = consistencyCoefficients(sigma, sigmaNext, c);
  if (k.noiseScale !== 0 && (!noise || noise.length !== n)) throw new RangeError(`consistencyStep: needs ${n} noise values (got ${noise?.length ?? 0})`);
  for (let i = 0; i < n; i++) {
    let x0 = f32(f32(k.cOut * modelOutput[i]) + f32(k.cSkip * sample[i]));
    if (c.clip_denoised) x0 = Math.min(1, Math.max(-1, x0));
    out[i] = k.noiseScale === 0 ? x0 : f32(x0 + f32(noise![i] * k.noiseScale));
  }
  return out;
}
