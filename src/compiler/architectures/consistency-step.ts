/**
 * AnimateLCM's consistency step as a tiny graph (no weights), the counterpart of denoise-step.ts for fast models,
 * so their loop stays on the GPU too: guidance, the consistency function, fresh noise, the next UNet input.
 *
 *   guided  = u + g[f]·(c − u)                      (CFG; without CFG the prediction is used as is)
 *   x0      = guided·c_out + latents·c_skip          (c_skip = σ_d²/(σ²+σ_d²), c_out = −σ·σ_d/√(σ²+σ_d²))
 *   next    = x0 + noise·noise_scale                 (noise_scale = s_noise·σ_next; 0 at the last step)
 *   sample  = [next/√(σ_next²+σ_d²) ‖ image_latents] per batch half, on the channel axis
 *
 * `coefs` = [c_out, c_skip, noise_scale] and `next_divisor` come from src/numerics/animatelcm.ts, and the
 * operations are those of its CPU step, so the CPU and GPU loops agree to float rounding. `noise` is the step's
 * standard-normal draw from the seeded stream, written by the CPU each step (the GPU cannot reproduce it).
 */
import type { BuildContext } from '../onnx/nn.ts';

export interface ConsistencyStepConfig {
  latentChannels: number;
  /** 2 with classifier-free guidance (unconditional half first), else 1 */
  batch: 1 | 2;
}

export function buildConsistencyStep(ctx: BuildContext, config: ConsistencyStepConfig): void {
  const g = ctx.graph;
  const C = config.latentChannels;
  const latents = g.input('latents', 'float32', [1, 'frames', C, 'height', 'width']);
  const noisePred = g.input('noise_pred', 'float32', [config.batch, 'frames', C, 'height', 'width']);
  const imageLatents = g.input('image_latents', 'float32', [config.batch, 'frames', C, 'height', 'width']);
  const noise = g.input('noise', 'float32', [1, 'frames', C, 'height', 'width']);
  const coefs = g.input('coefs', 'float32', [3]);
  const nextDivisor = g.input('next_divisor', 'float32', [1]);

  let guided = noisePred;
  if (config.batch === 2) {
    const guidance = g.input('guidance', 'float32', ['frames']);
    const [u, c] = g.node('Split', [noisePred], { axis: 0, num_outputs: 2 }, { name: 'cfg/split', outputs: ['float32', 'float32'] });
    const scale = g.op('Reshape', [guidance, g.int64s([1, -1, 1, 1, 1])], {}, { name: 'cfg/per_frame' });
    guided = g.op('Add', [u, g.op('Mul', [scale, g.op('Sub', [c, u], {}, { name: 'cfg/delta' })], {}, { name: 'cfg/scaled' })], {}, { name: 'cfg/guided' });
  }
  const coef = (i: number, name: string) => g.op('Slice', [coefs, g.int64s([i]), g.int64s([i + 1])], {}, { name });
  const x0 = g.op('Add', [g.op('Mul', [coef(0, 'c_out'), guided]), g.op('Mul', [coef(1, 'c_skip'), latents])], {}, { name: 'consistency/x0' });
  const next = g.op('Add', [x0, g.op('Mul', [noise, coef(2, 'noise_scale')], {}, { name: 'consistency/noise' })], {}, { name: 'consistency/next' });
  g.output(next, 'latents_next', [1, 'frames', C, 'height', 'width']);

  const scaled = g.op('Div', [next, nextDivisor], {}, { name: 'next/scaled' });
  const halves = config.batch === 2 ? g.op('Concat', [scaled, scaled], { axis: 0 }, { name: 'next/batch' }) : scaled;
  const sample = g.op('Concat', [halves, imageLatents], { axis: 2 }, { name: 'next/sample' });
  g.output(sample, 'sample_next', [config.batch, 'frames', 2 * C, 'height', 'width']);
}
