/** staticDimensions: the freeDimensionOverrides of a session, from the shapes a loop will feed it. */
import { describe, expect, it } from 'vitest';
import { staticDimensions } from '../../src/runtime/shapes.ts';

const unet = {
  sample: ['batch', 'frames', 8, 'height', 'width'],
  timestep: [1],
  encoder_hidden_states: ['batch', 1, 1024],
};

describe('staticDimensions', () => {
  it('names every symbolic dimension from the shapes', () => {
    expect(staticDimensions('unet', unet, { sample: [2, 14, 8, 72, 128], timestep: [1], encoder_hidden_states: [2, 1, 1024] })).toEqual({ batch: 2, frames: 14, height: 72, width: 128 });
  });

  it('names the input and dimension that disagree', () => {
    expect(() => staticDimensions('unet', unet, { sample: [2, 14, 8, 72, 128], timestep: [1], encoder_hidden_states: [1, 1, 1024] })).toThrow(
      'unet: "batch" is 2 at input "sample" dimension 0 but 1 at input "encoder_hidden_states" dimension 0',
    );
    expect(() => staticDimensions('unet', unet, { sample: [2, 14, 4, 72, 128], timestep: [1], encoder_hidden_states: [2, 1, 1024] })).toThrow('input "sample" dimension 2 is fixed at 8');
    expect(() => staticDimensions('unet', unet, { sample: [2, 14, 8, 72], timestep: [1], encoder_hidden_states: [2, 1, 1024] })).toThrow('input "sample" has rank 5');
    expect(() => staticDimensions('unet', unet, { sample: [2, 14, 8, 72, 128], timestep: [1] })).toThrow('no shape given for input "encoder_hidden_states"');
    expect(() => staticDimensions('unet', unet, { sample: [2, 14, 8, 72, 128], timestep: [1], encoder_hidden_states: [2, 1, 1024], extra: [1] })).toThrow('has no input "extra"');
  });
});
