/** The four fixture networks as test cases: compile one at a precision, and its reference inputs and output. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileGraph, type CompiledGraph } from '../../src/compiler/compile.ts';
import type { AttentionKind, Precision } from '../../src/compiler/onnx/nn.ts';
import { SafetensorsWeightSource, WeightStore } from '../../src/compiler/weights.ts';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import { nodeOutputFolder } from '../../src/io/node-files.ts';
import { buildImageEncoder, parseClipVisionConfig, CLIP_IGNORED_WEIGHTS } from '../../src/compiler/architectures/clip.ts';
import { buildUnet, parseUnetConfig } from '../../src/compiler/architectures/unet.ts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig, VAE_DECODER_IGNORES, VAE_ENCODER_IGNORES } from '../../src/compiler/architectures/vae.ts';
import { fixturePath, loadTensors, type RefTensor } from './fixtures.ts';

export type NetworkCase = 'image_encoder' | 'vae_encoder' | 'unet' | 'vae_decoder';
export const NETWORK_CASES: NetworkCase[] = ['image_encoder', 'vae_encoder', 'vae_decoder', 'unet'];

const FOLDER: Record<NetworkCase, string> = { image_encoder: 'clip', vae_encoder: 'vae', vae_decoder: 'vae', unet: 'unet' };

function config(folder: string): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath('A', folder, 'config.json'), 'utf8'));
}

export function compileNetwork(name: NetworkCase, precision: Precision, outDir: string, attention: AttentionKind = 'plain'): CompiledGraph {
  const folder = FOLDER[name];
  const file = `${folder}/config.json`;
  const source = () => new SafetensorsWeightSource(openSafetensors(fixturePath('A', folder, 'weights.safetensors')));
  const options = { output: nodeOutputFolder(outDir), precision, attention };
  switch (name) {
    case 'image_encoder': {
      const c = parseClipVisionConfig(config(folder), file);
      return compileGraph(name, new WeightStore(source(), CLIP_IGNORED_WEIGHTS), options, (ctx) => buildImageEncoder(ctx, c));
    }
    case 'vae_encoder': {
      const c = parseVaeConfig(config(folder), file);
      return compileGraph(name, new WeightStore(source(), VAE_ENCODER_IGNORES), options, (ctx) => buildVaeEncoder(ctx, c));
    }
    case 'vae_decoder': {
      const c = parseVaeConfig(config(folder), file);
      return compileGraph(name, new WeightStore(source(), VAE_DECODER_IGNORES), options, (ctx) => buildVaeDecoder(ctx, c));
    }
    case 'unet': {
      const c = parseUnetConfig(config(folder), file);
      return compileGraph(name, new WeightStore(source()), options, (ctx) => buildUnet(ctx, c));
    }
  }
}

/** The reference call of each network: graph inputs (by our graph's names) and the expected output. */
export function networkReference(name: NetworkCase): { feeds: Record<string, RefTensor>; output: string; expected: RefTensor } {
  const t = loadTensors(join(fixturePath('A', FOLDER[name]), 'tensors.safetensors'));
  switch (name) {
    case 'image_encoder':
      return { feeds: { pixel_values: t.get('input.pixel_values') }, output: 'image_embeds', expected: t.get('output.image_embeds') };
    case 'vae_encoder':
      return { feeds: { sample: t.get('enc.input.image') }, output: 'latent', expected: t.get('enc.output.latent_mode') };
    case 'vae_decoder':
      // the decoder's n frames are one temporal window: the reference is decode(z, num_frames = n)
      return { feeds: { latent: t.get('dec.input.z') }, output: 'frames', expected: t.get('dec.output.sample') };
    case 'unet': {
      const step = t.get('input.timestep');
      return {
        feeds: {
          sample: t.get('input.sample'),
          timestep: { data: step.data, shape: [1] },
          encoder_hidden_states: t.get('input.encoder_hidden_states'),
          added_time_ids: t.get('input.added_time_ids'),
        },
        output: 'noise_pred',
        expected: t.get('output.sample'),
      };
    }
  }
}

/**
 * The UNet's reference inputs cut down to batch 1, 2 frames and 8×8 latents (the first video, frames and corner of
 * each): a quarter of the reference's spatial size, for WebGPU checks on SwiftShader where the UNet's time grows with
 * it. The spatial attention still has 64 queries and keys.
 */
export function smallUnetFeeds(): Record<string, RefTensor> {
  const { feeds } = networkReference('unet');
  const s = feeds.sample;
  const [, F, C, H, W] = s.shape;
  const [f, h, w] = [Math.min(2, F), Math.min(8, H), Math.min(8, W)];
  const sample = new Float32Array(f * C * h * w);
  for (let i = 0; i < f; i++) for (let c = 0; c < C; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    sample[((i * C + c) * h + y) * w + x] = s.data[(((0 * F + i) * C + c) * H + y) * W + x];
  }
  const firstRow = (t: RefTensor): RefTensor => ({ data: t.data.slice(0, t.data.length / t.shape[0]), shape: [1, ...t.shape.slice(1)] });
  return { sample: { data: sample, shape: [1, f, C, h, w] }, timestep: feeds.timestep, encoder_hidden_states: firstRow(feeds.encoder_hidden_states), added_time_ids: firstRow(feeds.added_time_ids) };
}
