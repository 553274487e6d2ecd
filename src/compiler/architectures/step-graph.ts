/**
 * What the weightless step graphs (denoise-step.ts: Euler; consistency-step.ts: AnimateLCM) share: their inputs,
 * classifier-free guidance, and the next UNet input. Each graph adds only its sampler's update in between.
 */
import type { BuildContext } from '../onnx/nn.ts';
import type { Value } from '../onnx/graph.ts';

export interface StepGraphConfig {
  latentChannels: number;
  /** 2 with classifier-free guidance (unconditional half first), else 1 */
  batch: 1 | 2;
}

export interface StepGraphInputs {
  latents: Value;
  imageLatents: Value;
  /** the step's fresh standard-normal noise, when the sampler takes one */
  noise?: Value;
  /** the prediction after guidance: u + g[f]·(c − u) with CFG, the UNet's output as is without */
  guided: Value;
  /** coefs[i] as a [1] tensor */
  coef(i: number, name: string): Value;
  nextDivisor: Value;
}

/** Declares the inputs (latents, noise_pred, image_latents[, noise], coefs[n], next_divisor[, guidance]) and guides. */
export function stepGraphInputs(ctx: BuildContext, config: StepGraphConfig, opts: { coefs: number; noise: boolean }): StepGraphInputs {
  const g = ctx.graph;
  const C = config.latentChannels;
  const latents = g.input('latents', 'float32', [1, 'frames', C, 'height', 'width']);
  const noisePred = g.input('noise_pred', 'float32', [config.batch, 'frames', C, 'height', 'width']);
  const imageLatents = g.input('image_latents', 'float32', [config.batch, 'frames', C, 'height', 'width']);
  const noise = opts.noise ? g.input('noise', 'float32', [1, 'frames', C, 'height', 'width']) : undefined;
  const coefs = g.input('coefs', 'float32', [opts.coefs]);
  const nextDivisor = g.input('next_divisor', 'float32', [1]);

  let guided = noisePred;
  if (config.batch === 2) {
    const guidance = g.input('guidance', 'float32', ['frames']);
    const [u, c] = g.node('Split', [noisePred], { axis: 0, num_outputs: 2 }, { name: 'cfg/split', outputs: ['float32', 'float32'] });
    const scale = g.op('Reshape', [guidance, g.int64s([1, -1, 1, 1, 1])], {}, { name: 'cfg/per_frame' });
    guided = g.op('Add', [u, g.op('Mul', [scale, g.op('Sub', [c, u], {}, { name: 'cfg/delta' })], {}, { name: 'cfg/scaled' })], {}, { name: 'cfg/guided' });
  }
  const coef = (i: number, name: string) => g.op('Slice', [coefs, g.int64s([i]), g.int64s([i + 1])], {}, { name });
  return { latents, imageLatents, noise, guided, coef, nextDivisor };
}

/** Outputs the next latents and the UNet's next input: [next/next_divisor ‖ image_latents] per batch half. */
export function stepGraphOutputs(ctx: BuildContext, config: StepGraphConfig, io: StepGraphInputs, next: Value): void {
  const g = ctx.graph;
  const C = config.latentChannels;
  g.output(next, 'latents_next', [1, 'frames', C, 'height', 'width']);
  const scaled = g.op('Div', [next, io.nextDivisor], {}, { name: 'next/scaled' });
  const halves = config.batch === 2 ? g.op('Concat', [scaled, scaled], { axis: 0 }, { name: 'next/batch' }) : scaled;
  const sample = g.op('Concat', [halves, io.imageLatents], { axis: 2 }, { name: 'next/sample' });
  g.output(sample, 'sample_next', [config.batch, 'frames', 2 * C, 'height', 'width']);
}
