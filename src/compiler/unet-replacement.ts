/**
 * The weights of a single-file UNet replacement (e.g. AnimateLCM-SVD-xt.safetensors): a state dict of
 * diffusers' UNetSpatioTemporalConditionModel, which its authors load with `unet.load_state_dict(..., strict=True)`.
 * Names are diffusers' own; a file that puts one prefix before every name ("unet.") is read through it. Stability's
 * original layout ("model.diffusion_model.…") needs a name mapping we do not have: that is refused, naming it.
 */
import { WeightError, type SafetensorsWeightSource, type WeightSource } from './weights.ts';
import type { TensorInfo } from '../io/safetensors.ts';

/** Prefixes some exporters put before diffusers' UNet names. */
const STRIPPABLE = ['unet.', 'model.unet.'];

export class UnetReplacementSource implements WeightSource {
  private readonly prefix: string;

  constructor(private readonly inner: SafetensorsWeightSource) {
    const names = inner.names();
    if (names.length === 0) throw new WeightError(`${inner.label}: holds no tensors; a UNet replacement must be a UNet's safetensors state dict`);
    if (names.some((n) => n.startsWith('model.diffusion_model.'))) {
      throw new WeightError(
        `${inner.label}: uses Stability's original names ("model.diffusion_model.…"), not diffusers'; ` +
          'svd-web reads a UNet in diffusers\' names (conv_in.weight, down_blocks.0…): convert it with diffusers first, or use the diffusers-format file',
      );
    }
    this.prefix = STRIPPABLE.find((p) => names.every((n) => n.startsWith(p))) ?? '';
    if (!names.some((n) => n.slice(this.prefix.length) === 'conv_in.weight')) {
      throw new WeightError(`${inner.label}: has no "conv_in.weight": this is not a UNet state dict in diffusers' names (first names: ${names.slice(0, 3).join(', ')})`);
    }
  }

  get label(): string {
    return this.inner.label;
  }
  names(): string[] {
    return this.inner.names().map((n) => n.slice(this.prefix.length));
  }
  info(name: string): TensorInfo | undefined {
    return this.inner.info(this.prefix + name);
  }
  readFloat32(name: string): Float32Array {
    return this.inner.readFloat32(this.prefix + name);
  }
}
