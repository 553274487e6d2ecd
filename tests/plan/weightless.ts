/**
 * The real graphs of a preset without weights, for the memory plan's tests: the converter's builders with the real
 * configs against a weight store of zeros and a sink that keeps only the external-data lengths (as bench/flops.ts,
 * but at any precision, and with the VAE encoder's float32 upcast and the step graphs as `svd-web convert` makes them).
 */
import { Graph, type ExternalLocation, type InitializerSink } from '../../src/compiler/onnx/graph.ts';
import { BuildContext, PRECISIONS, type AttentionKind, type PrecisionName } from '../../src/compiler/onnx/nn.ts';
import { OPSET } from '../../src/compiler/compile.ts';
import { presetConfigs, type SynthPreset } from '../../src/compiler/synthetic/configs.ts';
import { RecordingWeightStore } from '../../src/compiler/synthetic/record.ts';
import { buildUnet, parseUnetConfig } from '../../src/compiler/architectures/unet.ts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig } from '../../src/compiler/architectures/vae.ts';
import { buildImageEncoder, parseClipVisionConfig } from '../../src/compiler/architectures/clip.ts';
import { buildDenoiseStep } from '../../src/compiler/architectures/denoise-step.ts';
import type { NetworkName } from '../../src/contract/manifest.ts';
import type { PlanGraph, PlanModel } from '../../src/plan/request-plan.ts';

class LengthSink implements InitializerSink {
  bytes = 0;
  write(_name: string, data: Uint8Array): ExternalLocation {
    this.bytes += data.byteLength;
    return { location: 'discarded', offset: 0, length: data.byteLength };
  }
}

export type Component = NetworkName | 'denoise_step' | 'denoise_step_cfg';

export function buildWeightless(component: Component, preset: SynthPreset, precisionName: PrecisionName, attention: AttentionKind): PlanGraph & { graph: Graph } {
  const configs = presetConfigs(preset);
  const sink = new LengthSink();
  const graph = new Graph({ name: component, opset: OPSET, sink, externalThreshold: 1024 });
  let precision = PRECISIONS[precisionName];
  if (component === 'vae_encoder' && precision.activation === 'float16') precision = { ...precision, activation: 'float32' }; // force_upcast
  if (component.startsWith('denoise_step')) precision = PRECISIONS.fp32;
  const ctx = new BuildContext(graph, new RecordingWeightStore(), { precision, attention });
  if (component === 'unet') buildUnet(ctx, parseUnetConfig(configs.unet, 'unet/config.json'));
  else if (component === 'vae_encoder') buildVaeEncoder(ctx, parseVaeConfig(configs.vae, 'vae/config.json'));
  else if (component === 'vae_decoder') buildVaeDecoder(ctx, parseVaeConfig(configs.vae, 'vae/config.json'));
  else if (component === 'image_encoder') buildImageEncoder(ctx, parseClipVisionConfig(configs.imageEncoder, 'image_encoder/config.json'));
  else buildDenoiseStep(ctx, { latentChannels: 4, batch: component === 'denoise_step_cfg' ? 2 : 1 });
  return { graph, modelBytes: graph.toBytes().byteLength, externalDataBytes: sink.bytes };
}

/** The whole model of a preset (every graph built once; the UNet with the given attention). */
export function weightlessModel(preset: SynthPreset, precision: PrecisionName, attention: AttentionKind, unet?: PlanGraph): PlanModel {
  const configs = presetConfigs(preset);
  const levels = (configs.vae.block_out_channels as number[]).length;
  const vaeScaleFactor = 2 ** (levels - 1);
  const graphs = {
    image_encoder: buildWeightless('image_encoder', preset, precision, attention),
    vae_encoder: buildWeightless('vae_encoder', preset, precision, attention),
    unet: unet ?? buildWeightless('unet', preset, precision, attention),
    vae_decoder: buildWeightless('vae_decoder', preset, precision, attention),
    denoise_step: buildWeightless('denoise_step', preset, precision, attention),
    denoise_step_cfg: buildWeightless('denoise_step_cfg', preset, precision, attention),
  };
  const totalBytes = Object.values(graphs).reduce((a, g) => a + g.modelBytes + g.externalDataBytes, 0);
  return {
    facts: {
      latentChannels: 4,
      unetInChannels: 8,
      vaeScaleFactor,
      sizeMultiple: vaeScaleFactor * 8,
      embeddingDim: configs.unet.cross_attention_dim as number,
      clip: { imageSize: configs.imageEncoder.image_size as number, mean: [0, 0, 0], std: [1, 1, 1] },
    },
    sampler: 'euler',
    totalBytes,
    graphs,
  };
}
