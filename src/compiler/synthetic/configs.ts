/**
 * Synthetic SVD checkpoints (see write.ts): the presets and their configs, as the real checkpoints'
 * config.json files hold them (or tiny versions of them).
 */
export type SynthPreset = 'svd-xt' | 'svd' | 'tiny';
export const SYNTH_PRESETS: readonly SynthPreset[] = ['svd-xt', 'svd', 'tiny'];
export type SynthDType = 'f16' | 'f32';

type Json = Record<string, unknown>;

export interface SynthConfigs {
  unet: Json;
  vae: Json;
  imageEncoder: Json;
  scheduler: Json;
  featureExtractor: Json;
  modelIndex: Json;
}

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** The configs of stabilityai/stable-video-diffusion-img2vid(-xt), as their config.json files hold them. */
export function presetConfigs(preset: SynthPreset): SynthConfigs {
  if (!SYNTH_PRESETS.includes(preset)) throw new Error(`unknown preset "${preset}" (choose ${SYNTH_PRESETS.join(', ')})`);
  const tiny = preset === 'tiny';
  const unet: Json = {
    _class_name: 'UNetSpatioTemporalConditionModel',
    _diffusers_version: '0.24.0.dev0',
    addition_time_embed_dim: tiny ? 8 : 256,
    block_out_channels: tiny ? [32, 32, 64, 64] : [320, 640, 1280, 1280],
    cross_attention_dim: tiny ? 32 : 1024,
    down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
    in_channels: 8,
    layers_per_block: 2,
    num_attention_heads: tiny ? [2, 2, 4, 4] : [5, 10, 20, 20],
    num_frames: preset === 'svd' ? 14 : tiny ? 3 : 25,
    out_channels: 4,
    projection_class_embeddings_input_dim: tiny ? 24 : 768,
    sample_size: tiny ? 8 : 96,
    transformer_layers_per_block: 1,
    up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
  };
  const vae: Json = {
    _class_name: 'AutoencoderKLTemporalDecoder',
    _diffusers_version: '0.24.0.dev0',
    block_out_channels: tiny ? [32, 64] : [128, 256, 512, 512],
    down_block_types: new Array(tiny ? 2 : 4).fill('DownEncoderBlock2D'),
    force_upcast: true,
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: 2,
    out_channels: 3,
    sample_size: tiny ? 64 : 768,
    scaling_factor: 0.18215,
  };
  const imageEncoder: Json = {
    architectures: ['CLIPVisionModelWithProjection'],
    attention_dropout: 0.0,
    dropout: 0.0,
    hidden_act: 'gelu',
    hidden_size: tiny ? 32 : 1280,
    image_size: 224,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: tiny ? 64 : 5120,
    layer_norm_eps: 1e-5,
    model_type: 'clip_vision_model',
    num_attention_heads: tiny ? 4 : 16,
    num_channels: 3,
    num_hidden_layers: tiny ? 2 : 32,
    patch_size: tiny ? 32 : 14,
    projection_dim: tiny ? 32 : 1024,
    torch_dtype: 'float16',
    transformers_version: '4.34.0.dev0',
  };
  const scheduler: Json = {
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: '0.24.0.dev0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    interpolation_type: 'linear',
    num_train_timesteps: 1000,
    prediction_type: 'v_prediction',
    set_alpha_to_one: false,
    sigma_max: 700.0,
    sigma_min: 0.002,
    skip_prk_steps: true,
    steps_offset: 1,
    timestep_spacing: 'leading',
    timestep_type: 'continuous',
    trained_betas: null,
    use_karras_sigmas: true,
  };
  const featureExtractor: Json = {
    crop_size: { height: 224, width: 224 },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    feature_extractor_type: 'CLIPFeatureExtractor',
    image_mean: CLIP_MEAN,
    image_processor_type: 'CLIPImageProcessor',
    image_std: CLIP_STD,
    resample: 3,
    rescale_factor: 0.00392156862745098,
    size: { shortest_edge: 224 },
  };
  const modelIndex: Json = {
    _class_name: 'StableVideoDiffusionPipeline',
    _diffusers_version: '0.24.0.dev0',
    feature_extractor: ['transformers', 'CLIPImageProcessor'],
    image_encoder: ['transformers', 'CLIPVisionModelWithProjection'],
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    unet: ['diffusers', 'UNetSpatioTemporalConditionModel'],
    vae: ['diffusers', 'AutoencoderKLTemporalDecoder'],
  };
  return { unet, vae, imageEncoder, scheduler, featureExtractor, modelIndex };
}
