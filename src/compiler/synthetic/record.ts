/**
 * Synthetic checkpoints' weight names and shapes are not written down anywhere: they are RECORDED by running the
 * compiler's own architecture builders against a store that notes every `take(name, shape)` (with a graph whose
 * sink discards the bytes). So a synthetic checkpoint has exactly the tensors the compiler consumes, and the
 * fixture parity tests prove those are the reference library's names.
 */
import { Graph, type ExternalLocation, type InitializerSink } from '../onnx/graph.ts';
import { BuildContext, PRECISIONS } from '../onnx/nn.ts';
import { WeightError, WeightStore, type WeightRef, type WeightSource } from '../weights.ts';
import { OPSET } from '../compile.ts';
import { buildImageEncoder, parseClipVisionConfig } from '../architectures/clip.ts';
import { buildUnet, parseUnetConfig } from '../architectures/unet.ts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig } from '../architectures/vae.ts';
import { presetConfigs, type SynthConfigs, type SynthPreset } from './configs.ts';

export interface RecordedWeight {
  name: string;
  shape: number[];
}

const emptySource: WeightSource = {
  label: 'recording',
  names: () => [],
  info: () => undefined,
  readFloat32: () => new Float32Array(0),
};

/**
 * A WeightStore that has every weight: `take(name, shape)` records the pair and hands out zeros of that shape
 * (what the builder reads only has to have the right size). Taking a name twice is still an error.
 */
export class RecordingWeightStore extends WeightStore {
  readonly recorded: RecordedWeight[] = [];
  private readonly seen = new Set<string>();
  private zeros = new Float32Array(0);

  constructor() {
    super(emptySource);
  }

  override has(name: string): boolean {
    return this.seen.has(name);
  }

  override take(name: string, shape: number[]): WeightRef {
    if (this.seen.has(name)) throw new WeightError(`recording: weight "${name}" is used twice`);
    this.seen.add(name);
    this.recorded.push({ name, shape: [...shape] });
    const size = shape.reduce((a, b) => a * b, 1);
    return {
      name,
      shape,
      read: () => {
        // one shared zero buffer, grown on demand: builders copy what they read, never write into it
        if (this.zeros.length < size) this.zeros = new Float32Array(size);
        return this.zeros.subarray(0, size);
      },
    };
  }

  override assertAllTaken(): void {}
}

/** An initializer sink that keeps nothing (recording only needs the takes). */
class DiscardSink implements InitializerSink {
  write(name: string, bytes: Uint8Array): ExternalLocation {
    return { location: 'discarded', offset: 0, length: bytes.byteLength };
  }
}

export type SynthComponent = 'unet' | 'vae_encoder' | 'vae_decoder' | 'image_encoder';

/**
 * Runs one architecture builder against a recording store; returns its weights in take order. The builder still
 * processes the (zero) data it reads: q4f32 is the cheapest precision for that (no transposes, no fp16 rounding).
 */
export function recordWeights(component: SynthComponent, configs: SynthConfigs): RecordedWeight[] {
  const store = new RecordingWeightStore();
  // threshold 0: every initializer goes to the discarding sink, none is kept inline in the graph
  const graph = new Graph({ name: component, opset: OPSET, sink: new DiscardSink(), externalThreshold: 0 });
  const ctx = new BuildContext(graph, store, { precision: PRECISIONS.q4f32, attention: 'plain' });
  switch (component) {
    case 'unet':
      buildUnet(ctx, parseUnetConfig(configs.unet, 'unet/config.json'));
      break;
    case 'vae_encoder':
      buildVaeEncoder(ctx, parseVaeConfig(configs.vae, 'vae/config.json'));
      break;
    case 'vae_decoder':
      buildVaeDecoder(ctx, parseVaeConfig(configs.vae, 'vae/config.json'));
      break;
    case 'image_encoder':
      buildImageEncoder(ctx, parseClipVisionConfig(configs.imageEncoder, 'image_encoder/config.json'));
      break;
  }
  return store.recorded;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function countParams(weights: RecordedWeight[]): number {
  return weights.reduce((a, w) => a + numel(w.shape), 0);
}

export interface ParamBreakdown {
  total: number;
  tensors: number;
  /** 2-D `.weight` tensors (torch Linear) */
  linear: { params: number; tensors: number };
  /** 4-D/5-D `.weight` tensors (Conv2d/Conv3d) */
  conv: { params: number; tensors: number };
}

export function paramBreakdown(weights: RecordedWeight[]): ParamBreakdown {
  const out: ParamBreakdown = { total: 0, tensors: weights.length, linear: { params: 0, tensors: 0 }, conv: { params: 0, tensors: 0 } };
  for (const w of weights) {
    const n = numel(w.shape);
    out.total += n;
    if (!w.name.endsWith('.weight')) continue;
    if (w.shape.length === 2 && !/embedding\.weight$/.test(w.name)) {
      out.linear.params += n;
      out.linear.tensors++;
    } else if (w.shape.length >= 4) {
      out.conv.params += n;
      out.conv.tensors++;
    }
  }
  return out;
}

/** Records every component's weights (names, shapes, parameter counts) without writing anything. */
export function recordPreset(preset: SynthPreset): { configs: SynthConfigs; weights: Record<SynthComponent, RecordedWeight[]> } {
  const configs = presetConfigs(preset);
  return {
    configs,
    weights: {
      image_encoder: recordWeights('image_encoder', configs),
      vae_encoder: recordWeights('vae_encoder', configs),
      unet: recordWeights('unet', configs),
      vae_decoder: recordWeights('vae_decoder', configs),
    },
  };
}
