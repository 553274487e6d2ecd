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
import { stepGraphInputs, stepGraphOutputs, type StepGraphConfig } from './step-graph.ts';

export type ConsistencyStepConfig = StepGraphConfig;

export function buildConsistencyStep(ctx: BuildContext, config: ConsistencyStepConfig): void {
  const g = ctx.graph;
  const io = stepGraphInputs(ctx, config, { coefs: 3, noise: true });
  const { latents, guided, coef } = io;
  const x0 = g.op('Add', [g.op('Mul', [coef(0, 'c_out'), guided]), g.op('Mul', [coef(1, 'c_skip'), latents])], {}, { name: 'consistency/x0' });
  const next = g.op('Add', [x0, g.op('Mul', [io.noise!, coef(2, 'noise_scale')], {}, { name: 'consistency/noise' })], {}, { name: 'consistency/next' });
  stepGraphOutputs(ctx, config, io, next);
}
