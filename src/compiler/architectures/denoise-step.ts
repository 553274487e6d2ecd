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
import { stepGraphInputs, stepGraphOutputs, type StepGraphConfig } from './step-graph.ts';

export type DenoiseStepConfig = StepGraphConfig;

export function buildDenoiseStep(ctx: BuildContext, config: DenoiseStepConfig): void {
  const g = ctx.graph;
  const io = stepGraphInputs(ctx, config, { coefs: 4, noise: false });
  const { latents, guided, coef } = io;
  const x0 = g.op('Add', [g.op('Mul', [guided, coef(0, 'c_out')]), g.op('Div', [latents, coef(1, 'sigma_sq_plus_one')])], {}, { name: 'euler/x0' });
  const derivative = g.op('Div', [g.op('Sub', [latents, x0], {}, { name: 'euler/diff' }), coef(2, 'sigma')], {}, { name: 'euler/derivative' });
  const next = g.op('Add', [latents, g.op('Mul', [derivative, coef(3, 'dt')], {}, { name: 'euler/delta' })], {}, { name: 'euler/next' });
  stepGraphOutputs(ctx, config, io, next);
}
