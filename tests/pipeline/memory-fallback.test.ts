/**
 * When the UNet runs out of memory on the guidance batch of 2, the pipeline starts the loop again with the two
 * halves as separate batch-1 calls, and the result equals a run that asked for split calls from the start.
 * The same fake networks check that time inside run() is booked to the stage that ran it.
 */
import { describe, expect, it } from 'vitest';
import { generateFrames, isOutOfMemory } from '../../src/pipeline/pipeline.ts';
import { validateRequest } from '../../src/contract/request.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';
import { RunClock } from '../../src/runtime/clock.ts';
import type { GraphSession, ModelRuntime, Tensor32 } from '../../src/runtime/types.ts';

const manifest = {
  pipeline: {
    latentChannels: 4, unetInChannels: 8, vaeScaleFactor: 8, sizeMultiple: 64, scalingFactor: 0.18215, embeddingDim: 8,
    clip: { imageSize: 16, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, defaultFrames: 3, defaultHeight: 64, defaultWidth: 64,
  },
  graphs: {},
  sources: { unet: { down_block_types: ['a', 'b'] } },
} as unknown as ModelManifest;

/** Milliseconds each fake run spends inside run(), on the runtime's (fake) clock. */
const RUN_MS = { image_encoder: 1, vae_encoder: 2, unet: 10, vae_decoder: 100 } as const;

/** Deterministic stand-in networks; the UNet refuses batch 2 when `oomOnBatch2`. */
function fakeRuntime(oomOnBatch2: boolean): ModelRuntime & { unetBatches: number[] } {
  const unetBatches: number[] = [];
  let clockMs = 0;
  const stats = new RunClock(() => clockMs);
  const timedSession = (graph: keyof typeof RUN_MS, run: (feeds: Record<string, Tensor32>) => Record<string, Tensor32>): GraphSession => ({
    run: async (f) => {
      const span = stats.begin();
      clockMs += RUN_MS[graph];
      try {
        return run(f);
      } finally {
        stats.returned(span);
        stats.finish(span);
      }
    },
    release: async () => {},
  });
  return {
    device: 'cpu',
    stats,
    unetBatches,
    async open(graph) {
      const session = (run: (feeds: Record<string, Tensor32>) => Record<string, Tensor32>) => timedSession(graph as keyof typeof RUN_MS, run);
      switch (graph) {
        case 'image_encoder':
          return session(() => ({ image_embeds: { data: Float32Array.from({ length: 8 }, (_, i) => i / 8), dims: [1, 8] } }));
        case 'vae_encoder':
          return session((f) => ({ latent: { data: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => f.sample.data[i % f.sample.data.length]), dims: [1, 4, 8, 8] } }));
        case 'unet':
          return session((f) => {
            const [b, F, , h, w] = f.sample.dims;
            unetBatches.push(b);
            if (b === 2 && oomOnBatch2) throw new Error('Failed to allocate memory for requested buffer of size 123456789');
            const out = new Float32Array(b * F * 4 * h * w);
            const frame = 4 * h * w;
            for (let r = 0; r < b * F; r++) {
              const emb = f.encoder_hidden_states.data[Math.floor(r / F) * 8 + 3];
              for (let i = 0; i < frame; i++) out[r * frame + i] = 0.1 * f.sample.data[r * 2 * frame + i] + emb + 0.01 * f.sample.data[r * 2 * frame + frame + i];
            }
            return { noise_pred: { data: out, dims: [b, F, 4, h, w] } };
          });
        default:
          // frames follow the latents, so a different loop result shows in the frames
          return session((f) => ({ frames: { data: Float32Array.from({ length: f.latent.dims[0] * 3 * 64 * 64 }, (_, i) => Math.tanh(f.latent.data[i % f.latent.data.length])), dims: [f.latent.dims[0], 3, 64, 64] } }));
      }
    },
  };
}

describe('guidance batch memory fallback', () => {
  const image = { width: 64, height: 64, rgba: new Uint8ClampedArray(64 * 64 * 4).fill(128) };
  const checked = validateRequest({ frames: 3, steps: 3, seed: 5, width: 64, height: 64 }, { backend: 'local', maxFrames: 25 });
  if (!checked.ok) throw new Error('bad request');

  it('recognises allocation failures as onnxruntime reports them', () => {
    expect(isOutOfMemory(new Error('Failed to allocate memory for requested buffer'))).toBe(true);
    expect(isOutOfMemory(new Error('std::bad_alloc'))).toBe(true);
    expect(isOutOfMemory(new Error('invalid input shape'))).toBe(false);
  });

  it('retries the loop with batch-1 calls and gets what a split run gets', async () => {
    const failing = fakeRuntime(true);
    const result = await generateFrames(failing, manifest, image, checked.request, { keepFloatFrames: true });
    expect(failing.unetBatches[0]).toBe(2);
    expect(failing.unetBatches.slice(1)).toEqual(new Array(2 * 3).fill(1)); // 3 steps × two halves
    const split = fakeRuntime(false);
    const expected = await generateFrames(split, manifest, image, checked.request, { splitGuidanceBatch: true });
    expect(split.unetBatches).toEqual(new Array(6).fill(1));
    expect(result.frames).toEqual(expected.frames);
    // and the frames carry the loop's result: another seed gives other frames
    const other = await generateFrames(fakeRuntime(false), manifest, image, { ...checked.request, seed: 6 }, { splitGuidanceBatch: true });
    expect(other.frames).not.toEqual(expected.frames);
  });

  it('books the time inside run() to the stage that ran it, the retried loop included', async () => {
    const chunks = Math.ceil(checked.request.frames / checked.request.decode_chunk);
    const plain = await generateFrames(fakeRuntime(false), manifest, image, checked.request);
    expect(plain.ortCall).toEqual({ load: 0, encode: RUN_MS.image_encoder + RUN_MS.vae_encoder, denoise: 3 * RUN_MS.unet, decode: chunks * RUN_MS.vae_decoder });
    // the refused batch-2 call, then 3 steps × two halves
    const retried = await generateFrames(fakeRuntime(true), manifest, image, checked.request);
    expect(retried.ortCall.denoise).toBe(7 * RUN_MS.unet);
  });

  it('does not hide other errors', async () => {
    const rt = fakeRuntime(false);
    const open = rt.open.bind(rt);
    rt.open = async (g) => (g === 'unet' ? { run: async () => { throw new Error('invalid input shape'); }, release: async () => {} } : open(g));
    await expect(generateFrames(rt, manifest, image, checked.request)).rejects.toThrow('invalid input shape');
  });
});
