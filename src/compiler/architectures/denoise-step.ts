/**
 * The denoising step as a tiny graph (no weights), so the UNet loop can stay on the GPU: classifier-free
 * guidance, the Euler v-prediction step, and the next UNet input, in one run on device buffers.
 *
 *   guided  = u + g[f]·(c − u)                       (CFG; without CFG the prediction is used as is)
 *   x0      = guided·c_out + latents/(σ²+1)           (c_out = −σ/√(σ²+1))
 *   next    = latents + ((latents − x0)/σ)·dt         (dt = σ_next − σ)
 *   sample  = [next/√(σ_next²+1) ‖ image_latents] per batch half, on the channel axis
 *
 * The scalars come in as `coefs` = [c_out, σ²+1, σ, dt] and `next_divisor` = √(σ_next²+1), computed by
 * src/numerics/scheduler.ts, and the operations are those of its CPU step (divisions stay divisions), so the CPU
 * and GPU loops agree to float rounding.
 */
import type { BuildContext } from '../onnx/nn.ts';

export interface DenoiseStepConfig {
  latentChannels: number;
  /** 2 with classifier-free guidance (unconditional half first), else 1 */
  batch: 1 | 2;
}

export function buildDenoiseStep(ctx: BuildContext, config: DenoiseStepConfig): void {
  const g = ctx.graph;
  const C = config.latentChannels;
  const latents = g.input('latents', 'float32', [1, 'frames', C, 'height', 'width']);
  const noisePred = g.input('noise_pred', 'float32', [config.batch, 'frames', C, 'height', 'width']);
  const imageLatents = g.input('image_latents', 'float32', [config.batch, 'frames', C, 'height', 'width']);
  const coefs = g.input('coefs', 'float32', [4]);
  const nextDivisor = g.input('next_divisor', 'float32', [1]);

  let guided = noisePred;
  if (config.batch === 2) {
    const guidance = g.input('guidance', 'float32', ['frames']);
    const [u, c] = g.node('Split', [noisePred], { axis: 0, num_outputs: 2 }, { name: 'cfg/split', outputs: ['float32', 'float32'] });
    const scale = g.op('Reshape', [guidance, g.int64s([1, -1, 1, 1, 1])], {}, { name: 'cfg/per_frame' });
    guided = g.op('Add', [u, g.op('Mul', [scale, g.op('Sub', [c, u], {}, { name: 'cfg/delta' })], {}, { name: 'cfg/scaled' })], {}, { name: 'cfg/guided' });
  }
  const coef = (i: number, name: string) => g.op('Slice', [coefs, g.int64s([i]), g.int64s([i + 1])], {}, { name });
  const x0 = g.op('Add', [g.op('Mul', [guided, coef(0, 'c_out')]), g.op('Div', [latents, coef(1, 'sigma_sq_plus_one')])], {}, { name: 'euler/x0' });
  const derivative = g.op('Div', [g.op('Sub', [latents, x0], {}, { name: 'euler/diff' }), coef(2, 'sigma')], {}, { name: 'euler/derivative' });
  const next = g.op('Add', [latents, g.op('Mul', [derivative, coef(3, 'dt')], {}, { name: 'euler/delta' })], {}, { name: 'euler/next' });
  g.output(next, 'latents_next', [1, 'frames', C, 'height', 'width']);

  const scaled = g.op('Div', [next, nextDivisor], {}, { name: 'next/scaled' });
  const halves = config.batch === 2 ? g.op('Concat', [scaled, scaled], { axis: 0 }, { name: 'next/batch' }) : scaled;
  const sample = g.op('Concat', [halves, imageLatents], { axis: 2 }, { name: 'next/sample' });
  g.output(sample, 'sample_next', [config.batch, 'frames', 2 * C, 'height', 'width']);
}
