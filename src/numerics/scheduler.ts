/**
 * EulerDiscreteScheduler (diffusers) as configured for Stable Video Diffusion: v-prediction, Karras sigmas
 * (rho 7, sigma_min 0.002, sigma_max 700), continuous timesteps t = 0.25·ln σ, final sigma 0.
 *
 * The reference computes the Karras ramp in float64 (numpy) and casts it to float32; everything after that
 * (timesteps, init_noise_sigma, scale_model_input, step) is float32 torch arithmetic. We mirror that order and
 * round every intermediate with Math.fround, so results equal torch's to the last bit or within an ulp or two
 * (transcendental functions such as log/exp/pow may differ by an ulp between libms).
 *
 * Pure TypeScript: no Node or DOM imports (runs in a Web Worker and in Node).
 */

const f32 = Math.fround;

/** The subset of diffusers' `scheduler_config.json` that this scheduler reads. */
export interface EulerSchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'scaled_linear' | 'linear';
  prediction_type: 'v_prediction' | 'epsilon' | 'sample' | 'original_sample';
  interpolation_type: 'linear';
  use_karras_sigmas: boolean;
  /** null: fall back to the smallest training sigma at the chosen timesteps (as diffusers does). */
  sigma_min: number | null;
  /** null: fall back to the largest training sigma at the chosen timesteps. */
  sigma_max: number | null;
  timestep_spacing: 'leading' | 'linspace' | 'trailing';
  steps_offset: number;
  timestep_type: 'continuous' | 'discrete';
  final_sigmas_type: 'zero' | 'sigma_min';
  rescale_betas_zero_snr: boolean;
  use_exponential_sigmas: boolean;
  use_beta_sigmas: boolean;
  trained_betas: null;
}

/** SVD's `scheduler/scheduler_config.json` (svd, svd-xt and svd-xt-1.1 all ship these values). */
export const SVD_SCHEDULER_CONFIG: Readonly<EulerSchedulerConfig> = Object.freeze({
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'v_prediction',
  interpolation_type: 'linear',
  use_karras_sigmas: true,
  sigma_min: 0.002,
  sigma_max: 700.0,
  timestep_spacing: 'leading',
  steps_offset: 1,
  timestep_type: 'continuous',
  final_sigmas_type: 'zero',
  rescale_betas_zero_snr: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  trained_betas: null,
});

export class SchedulerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerConfigError';
  }
}

/**
 * Merges a parsed `scheduler_config.json` (unknown keys such as `_class_name` are ignored) over SVD's values and
 * rejects options this implementation does not reproduce, so a foreign checkpoint fails loudly instead of
 * sampling with a silently different schedule.
 */
export function resolveSchedulerConfig(json?: Partial<Record<keyof EulerSchedulerConfig, unknown>> & Record<string, unknown>): EulerSchedulerConfig {
  const c = { ...SVD_SCHEDULER_CONFIG } as EulerSchedulerConfig;
  if (json) {
    for (const key of Object.keys(SVD_SCHEDULER_CONFIG) as (keyof EulerSchedulerConfig)[]) {
      if (json[key] !== undefined) (c as unknown as Record<string, unknown>)[key] = json[key];
    }
    const cls = json['_class_name'];
    if (cls !== undefined && cls !== 'EulerDiscreteScheduler') {
      throw new SchedulerConfigError(`scheduler _class_name "${String(cls)}" is not supported (only EulerDiscreteScheduler)`);
    }
  }
  const unsupported = (what: string) => {
    throw new SchedulerConfigError(`scheduler config: ${what} is not supported (SVD uses ${describeSvd()})`);
  };
  if (!c.use_karras_sigmas) unsupported('use_karras_sigmas=false');
  if (c.use_exponential_sigmas || c.use_beta_sigmas) unsupported('exponential/beta sigmas');
  if (c.rescale_betas_zero_snr) unsupported('rescale_betas_zero_snr');
  if (c.trained_betas !== null) unsupported('trained_betas');
  if (c.interpolation_type !== 'linear') unsupported(`interpolation_type "${c.interpolation_type}"`);
  if (c.beta_schedule !== 'scaled_linear' && c.beta_schedule !== 'linear') unsupported(`beta_schedule "${c.beta_schedule}"`);
  if (!['leading', 'linspace', 'trailing'].includes(c.timestep_spacing)) unsupported(`timestep_spacing "${c.timestep_spacing}"`);
  if (!['zero', 'sigma_min'].includes(c.final_sigmas_type)) unsupported(`final_sigmas_type "${c.final_sigmas_type}"`);
  if (!['v_prediction', 'epsilon', 'sample', 'original_sample'].includes(c.prediction_type)) unsupported(`prediction_type "${c.prediction_type}"`);
  // diffusers only uses 0.25·ln σ for continuous + v_prediction; other combinations map σ back to discrete
  // training timesteps (_sigma_to_t), which SVD never does.
  if (!(c.timestep_type === 'continuous' && c.prediction_type === 'v_prediction')) {
    unsupported(`timestep_type "${c.timestep_type}" with prediction_type "${c.prediction_type}"`);
  }
  return c;
}

function describeSvd(): string {
  return 'Karras sigmas, v_prediction, continuous timesteps';
}

/** torch.linspace(start, end, steps, dtype=float32): float32 step, symmetric fill from both ends. */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - i - 1)));
  }
  return out;
}

/**
 * The 1000 training sigmas √((1−ᾱ)/ᾱ) in ascending-timestep order, as torch float32 (betas from a float32
 * linspace, cumprod accumulated in double as torch's CPU kernel does, the rest float32).
 */
export function trainingSigmas(config: EulerSchedulerConfig = SVD_SCHEDULER_CONFIG): Float32Array {
  const n = config.num_train_timesteps;
  const betas =
    config.beta_schedule === 'scaled_linear'
      ? torchLinspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n).map((b) => f32(b * b))
      : torchLinspaceF32(config.beta_start, config.beta_end, n);
  const sigmas = new Float32Array(n);
  let acc = 1; // double accumulator (torch CPU cumprod uses acc_type<float> = double)
  for (let i = 0; i < n; i++) {
    acc *= f32(1 - betas[i]);
    const ac = f32(acc);
    sigmas[i] = f32(Math.sqrt(f32(f32(1 - ac) / ac)));
  }
  return sigmas;
}

/** numpy.linspace(0, 1, n) in float64 (i·step, last value exactly 1). */
function rampF64(n: number): Float64Array {
  const r = new Float64Array(n);
  if (n === 1) return r; // numpy gives [start]
  const step = 1 / (n - 1);
  for (let i = 0; i < n; i++) r[i] = i * step;
  r[n - 1] = 1;
  return r;
}

/** Training timesteps chosen by `timestep_spacing` (descending, float32 values as numpy produces them). */
function discreteTimesteps(steps: number, c: EulerSchedulerConfig): Float64Array {
  const n = c.num_train_timesteps;
  const t = new Float64Array(steps);
  if (c.timestep_spacing === 'linspace') {
    // np.linspace(0, n-1, steps, dtype=float32)[::-1]
    const step = (n - 1) / Math.max(steps - 1, 1);
    for (let i = 0; i < steps; i++) t[steps - 1 - i] = f32(i === steps - 1 && steps > 1 ? n - 1 : i * step);
  } else if (c.timestep_spacing === 'leading') {
    // (arange(steps) * (n // steps)).round()[::-1].astype(float32) + steps_offset
    const ratio = Math.floor(n / steps);
    for (let i = 0; i < steps; i++) t[steps - 1 - i] = f32(i * ratio + c.steps_offset);
  } else {
    // trailing: np.round(np.arange(n, 0, -n/steps)).astype(float32) - 1
    const ratio = n / steps;
    for (let i = 0; i < steps; i++) t[i] = f32(roundHalfEven(n - i * ratio) - 1);
  }
  return t;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.interp(x, arange(len(ys)), ys) with float64 arithmetic (clamped at both ends). */
function interpIndex(x: number, ys: Float32Array): number {
  if (x <= 0) return ys[0];
  if (x >= ys.length - 1) return ys[ys.length - 1];
  const i = Math.floor(x);
  const frac = x - i;
  return frac === 0 ? ys[i] : ys[i] + (ys[i + 1] - ys[i]) * frac;
}

/**
 * Karras et al. (2022) sigmas in float64, exactly diffusers' `_convert_to_karras`:
 * (σmax^(1/ρ) + ramp·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ with ramp = linspace(0, 1, N), ρ = 7.
 */
export function karrasSigmasF64(steps: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const ramp = rampF64(steps);
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) out[i] = (maxInvRho + ramp[i] * (minInvRho - maxInvRho)) ** rho;
  return out;
}

export interface EulerSchedule {
  /** float32 [N+1]: Karras sigmas then the final sigma (0 for SVD). */
  sigmas: Float32Array;
  /** float32 [N]: the timestep the UNet sees, 0.25·ln σ_i (float32 log). */
  timesteps: Float32Array;
  /** √(σmax² + 1) for 'leading'/default spacing, σmax for 'linspace'/'trailing'; multiply the initial noise by it. */
  initNoiseSigma: number;
  predictionType: EulerSchedulerConfig['prediction_type'];
}

/** The state of `EulerDiscreteScheduler.set_timesteps(steps)`. */
export function eulerKarrasSchedule(steps: number, config?: Partial<EulerSchedulerConfig> & Record<string, unknown>): EulerSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const c = resolveSchedulerConfig(config);
  if (steps > c.num_train_timesteps) throw new RangeError(`steps (${steps}) cannot exceed num_train_timesteps (${c.num_train_timesteps})`);

  let sigmaMin = c.sigma_min;
  let sigmaMax = c.sigma_max;
  let train: Float32Array | null = null;
  if (sigmaMin === null || sigmaMax === null || c.final_sigmas_type === 'sigma_min') train = trainingSigmas(c);
  if (sigmaMin === null || sigmaMax === null) {
    const ts = discreteTimesteps(steps, c);
    sigmaMin ??= interpIndex(ts[steps - 1], train!);
    sigmaMax ??= interpIndex(ts[0], train!);
  }
  const karras = karrasSigmasF64(steps, sigmaMin, sigmaMax);

  const sigmas = new Float32Array(steps + 1);
  for (let i = 0; i < steps; i++) sigmas[i] = karras[i]; // float64 → float32 cast (round to nearest)
  sigmas[steps] = c.final_sigmas_type === 'zero' ? 0 : train![0];

  const timesteps = new Float32Array(steps);
  for (let i = 0; i < steps; i++) timesteps[i] = f32(0.25 * f32(Math.log(sigmas[i])));

  let maxSigma = 0;
  for (const s of sigmas) maxSigma = Math.max(maxSigma, s);
  const initNoiseSigma =
    c.timestep_spacing === 'linspace' || c.timestep_spacing === 'trailing' ? maxSigma : f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1)));
  return { sigmas, timesteps, initNoiseSigma, predictionType: c.prediction_type };
}

/** `init_noise_sigma` right after construction (before set_timesteps), from the training sigmas. */
export function trainingInitNoiseSigma(config?: Partial<EulerSchedulerConfig> & Record<string, unknown>): number {
  const c = resolveSchedulerConfig(config);
  const s = trainingSigmas(c);
  let m = 0;
  for (const v of s) m = Math.max(m, v);
  return c.timestep_spacing === 'linspace' || c.timestep_spacing === 'trailing' ? m : f32(Math.sqrt(f32(f32(m * m) + 1)));
}

/**
 * float32 √(σ² + 1): square, add one, sqrt, each rounded to float32 (correctly rounded sqrt).
 * torch 2.13 on CPU computes `(σ**2 + 1) ** 0.5` 1 ulp away from the correctly rounded value for some σ
 * (4 of the 29 steps in the scheduler fixture); we keep the correctly rounded, platform-independent value.
 * Over a whole 25-step loop that stays below 4.1e-7 of each tensor's max magnitude (tests/numerics).
 */
export function sqrtSigmaSqPlusOne(sigma: number): number {
  const s = f32(sigma);
  return f32(Math.sqrt(f32(f32(s * s) + 1)));
}

/** `scale_model_input`: x / √(σ² + 1) (a true float32 division per element, not a reciprocal multiply). */
export function scaleModelInput(sample: Float32Array, sigma: number, out: Float32Array = new Float32Array(sample.length)): Float32Array {
  const d = sqrtSigmaSqPlusOne(sigma);
  for (let i = 0; i < sample.length; i++) out[i] = sample[i] / d; // float32 store rounds
  return out;
}

export interface EulerStepOptions {
  predictionType?: EulerSchedulerConfig['prediction_type'];
  /** destination of prev_sample (may alias `sample`); allocated when absent */
  out?: Float32Array;
  /** when given, receives pred_original_sample (x0) */
  predOriginalOut?: Float32Array;
}

/** The float32 scalars of one Euler step, shared by the CPU step below and the GPU step graph. */
export function eulerStepCoefficients(sigma: number, sigmaNext: number): { sigma: number; dt: number; sigmaSqPlusOne: number; cOut: number } {
  const s = f32(sigma);
  const sigmaSqPlusOne = f32(f32(s * s) + 1);
  return { sigma: s, dt: f32(f32(sigmaNext) - s), sigmaSqPlusOne, cOut: f32(-s / f32(Math.sqrt(sigmaSqPlusOne))) };
}

/**
 * One deterministic Euler step (s_churn = 0), float32 like torch:
 *   v-prediction: x0 = out·(−σ/√(σ²+1)) + x/(σ²+1);  epsilon: x0 = x − σ·out;  sample: x0 = out
 *   d = (x − x0)/σ;  prev = x + d·(σnext − σ)
 * With σnext = 0 the result is (up to rounding) x0.
 */
export function eulerStep(modelOutput: Float32Array, sigma: number, sigmaNext: number, sample: Float32Array, opts: EulerStepOptions = {}): Float32Array {
  const n = sample.length;
  if (modelOutput.length !== n) throw new RangeError(`eulerStep: modelOutput has ${modelOutput.length} elements, sample has ${n}`);
  if (!(sigma > 0)) throw new RangeError(`eulerStep: sigma must be > 0, got ${sigma}`);
  const out = opts.out ?? new Float32Array(n);
  const x0Out = opts.predOriginalOut;
  const kind = opts.predictionType ?? 'v_prediction';
  const { sigma: s, dt, sigmaSqPlusOne: s2p1, cOut } = eulerStepCoefficients(sigma, sigmaNext);
  for (let i = 0; i < n; i++) {
    const x = sample[i];
    const m = modelOutput[i];
    let x0: number;
    if (kind === 'v_prediction') x0 = f32(f32(m * cOut) + f32(x / s2p1));
    else if (kind === 'epsilon') x0 = f32(x - f32(s * m));
    else x0 = m;
    const d = f32(f32(x - x0) / s);
    if (x0Out) x0Out[i] = x0;
    out[i] = f32(x + f32(d * dt));
  }
  return out;
}
