/**
 * The ONE request type of svd-web: the Segmind SVD API body plus the options only the local backend has.
 *
 * Pure TypeScript (no DOM, no Node): the UI, the store, the worker and the CLI all import it.
 *
 * The picture is NOT part of the request. The request holds the parameters; the image travels beside it:
 *   - to the local backend as decoded pixels, an `ImageInput` {width, height, rgba};
 *   - to the Segmind backend as a base64 string or an http(s) URL (`segmindBody(request, image)`).
 * So one request can be sent to either backend unchanged, and re-validated at any time.
 *
 * `REQUEST_FIELDS` is the single source of truth for every field: type, default, range, help text and
 * CLI flag. `validateRequest` checks untrusted input (form state, CLI flags, a JSON file) against it and
 * fills defaults; every error is one sentence naming the field, the value and the allowed range.
 */

import { SEED_MAX } from './seed.ts';

export type Backend = 'local' | 'segmind';
export type ResizeMethod = 'maintain_aspect_ratio' | 'crop_to_16_9';

/** Named sizes, written WIDTHxHEIGHT. 'model-default' lets the local backend use the model's own size (1024x576 for SVD). */
export const RESOLUTION_PRESETS = ['1024x576', '576x1024', '768x768', '512x512', '576x320', '320x576'] as const;
export type ResolutionPreset = (typeof RESOLUTION_PRESETS)[number];
/** 'custom' = an explicit width/height that is not a preset. */
export type Resolution = ResolutionPreset | 'model-default' | 'custom';

/** Decoded pixels for the local backend (row-major RGBA, 4 bytes a pixel, like ImageData). */
export interface ImageInput {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/** A validated request with every default filled. Produce it with `validateRequest`. */
export interface SvdRequest {
  // ---- Segmind API fields (sent in the API body, used by the local backend too) ----
  /** frames per second of the video, and the fps conditioning of the model */
  fps: number;
  /** motion bucket id: 1 (still) … 180 (lots of motion) */
  motion: number;
  /** −1 = random (the backend picks one and reports it) */
  seed: number;
  /** noise added to the conditioning image (noise_aug_strength) */
  cond_aug: number;
  /** number of frames: 14 or 25 on Segmind; locally 1 … the model's limit */
  frames: number;
  resize_method: ResizeMethod;
  /** Segmind only: ask the API for a base64 JSON answer instead of raw bytes (the result is the same bytes) */
  base64: boolean;
  // ---- local options (ignored by the Segmind API) ----
  steps: number;
  min_guidance: number;
  max_guidance: number;
  /** a preset name, 'custom' (width/height given) or 'model-default' (width/height absent) */
  resolution: Resolution;
  /** output width in pixels; present exactly when resolution is not 'model-default' */
  width?: number;
  /** output height in pixels; present exactly when resolution is not 'model-default' */
  height?: number;
  /** frames decoded per VAE call (also the decoder's temporal window); at most `frames` */
  decode_chunk: number;
}

export type FieldName = keyof SvdRequest;

/** Fields that go into the Segmind API body (besides `image`). */
export const SEGMIND_FIELDS = ['fps', 'motion', 'seed', 'cond_aug', 'frames', 'resize_method', 'base64'] as const;
export type SegmindField = (typeof SEGMIND_FIELDS)[number];

/** The exact JSON body of POST https://api.segmind.com/v1/svd: the image and the Segmind fields of a request. */
export type SegmindBody = { image: string } & Pick<SvdRequest, SegmindField>;

export interface FieldSpec {
  name: FieldName;
  /** short label for a form control */
  label: string;
  /** how the value is checked: 'integer' and 'number' accept numeric strings too */
  type: 'integer' | 'number' | 'boolean' | 'enum' | 'resolution';
  /** null = no fixed default (see `help`) */
  default: number | boolean | string | null;
  min?: number;
  max?: number;
  /** UI step for sliders / number inputs; for width/height the required multiple */
  step?: number;
  /** allowed values of an enum (for 'resolution': the presets offered, besides WIDTHxHEIGHT) */
  options?: readonly string[];
  /** the allowed range in words, as used in error messages ("an integer from 1 to 60") */
  range: string;
  /** one-line explanation for help text */
  help: string;
  /** which backends use the field; the other backend ignores it */
  backends: readonly Backend[];
  /** the CLI flag */
  cli: string;
}

/** Largest local frame count accepted when the caller does not say what the model allows. */
export const DEFAULT_MAX_LOCAL_FRAMES = 25;
export const SEGMIND_FRAMES = [14, 25] as const;
export const SIZE_MULTIPLE = 8;
export const SIZE_MIN = 16;
export const SIZE_MAX = 2048;
export const STEPS_MAX = 200;
export const GUIDANCE_MAX = 20;
export const DEFAULT_DECODE_CHUNK = 8;

const BOTH: readonly Backend[] = ['local', 'segmind'];
const LOCAL: readonly Backend[] = ['local'];
const SEGMIND: readonly Backend[] = ['segmind'];

/** Every field of the request, in the order a form or `--help` shows them. */
export const REQUEST_FIELDS: Readonly<Record<FieldName, FieldSpec>> = {
  fps: {
    name: 'fps', label: 'Frames per second', type: 'integer', default: 7, min: 1, max: 60, step: 1,
    range: 'an integer from 1 to 60',
    help: 'Playback speed of the video; the model is also told this rate, so it changes how far things move between frames.',
    backends: BOTH, cli: '--fps',
  },
  motion: {
    name: 'motion', label: 'Motion', type: 'integer', default: 127, min: 1, max: 180, step: 1,
    range: 'an integer from 1 to 180',
    help: 'How much the picture moves (motion_bucket_id): low values stay almost still, high values move a lot.',
    backends: BOTH, cli: '--motion',
  },
  seed: {
    name: 'seed', label: 'Seed', type: 'integer', default: -1, min: -1, max: SEED_MAX, step: 1,
    range: `an integer from -1 to ${SEED_MAX}`,
    help: 'Starting noise; the same seed and settings give the same video. -1 picks a random seed, which is reported back.',
    backends: BOTH, cli: '--seed',
  },
  cond_aug: {
    name: 'cond_aug', label: 'Conditioning noise', type: 'number', default: 0.02, min: 0, max: 1, step: 0.01,
    range: 'a number from 0 to 1',
    help: 'Noise added to the input picture (noise_aug_strength): more noise lets the video drift further from it.',
    backends: BOTH, cli: '--cond-aug',
  },
  frames: {
    name: 'frames', label: 'Frames', type: 'integer', default: 14, min: 1, max: DEFAULT_MAX_LOCAL_FRAMES, step: 1,
    range: `14 or 25 on Segmind; locally an integer from 1 to the model's limit (${DEFAULT_MAX_LOCAL_FRAMES} unless the model says otherwise)`,
    help: 'Number of video frames to generate; the video lasts frames / fps seconds.',
    backends: BOTH, cli: '--frames',
  },
  resize_method: {
    name: 'resize_method', label: 'Resize method', type: 'enum', default: 'maintain_aspect_ratio',
    options: ['maintain_aspect_ratio', 'crop_to_16_9'],
    range: 'one of "maintain_aspect_ratio", "crop_to_16_9"',
    help: 'How the input picture is fitted to the video size: keep its proportions, or crop it to 16:9.',
    backends: BOTH, cli: '--resize-method',
  },
  base64: {
    name: 'base64', label: 'Base64 answer', type: 'boolean', default: false,
    range: 'true or false',
    help: 'Segmind only: ask the API to answer with base64 text instead of raw video bytes (the video is the same).',
    backends: SEGMIND, cli: '--base64',
  },
  steps: {
    name: 'steps', label: 'Steps', type: 'integer', default: 25, min: 1, max: STEPS_MAX, step: 1,
    range: `an integer from 1 to ${STEPS_MAX}`,
    help: 'Local only: denoising steps; more steps are slower and usually a little cleaner.',
    backends: LOCAL, cli: '--steps',
  },
  min_guidance: {
    name: 'min_guidance', label: 'Min guidance', type: 'number', default: 1.0, min: 0, max: GUIDANCE_MAX, step: 0.1,
    range: `a number from 0 to ${GUIDANCE_MAX}`,
    help: 'Local only: guidance scale for the first frame; it rises linearly to max guidance at the last frame.',
    backends: LOCAL, cli: '--min-guidance',
  },
  max_guidance: {
    name: 'max_guidance', label: 'Max guidance', type: 'number', default: 3.0, min: 0, max: GUIDANCE_MAX, step: 0.1,
    range: `a number from 0 to ${GUIDANCE_MAX}, not below min_guidance`,
    help: 'Local only: guidance scale for the last frame; 1 or less turns guidance off (twice as fast).',
    backends: LOCAL, cli: '--max-guidance',
  },
  resolution: {
    name: 'resolution', label: 'Resolution', type: 'resolution', default: 'model-default',
    options: ['model-default', ...RESOLUTION_PRESETS],
    range: `"model-default", one of ${RESOLUTION_PRESETS.map((p) => `"${p}"`).join(', ')}, "custom" (with width and height) or WIDTHxHEIGHT`,
    help: 'Local only: video size as WIDTHxHEIGHT; smaller sizes are much faster and need far less GPU memory.',
    backends: LOCAL, cli: '--resolution',
  },
  width: {
    name: 'width', label: 'Width', type: 'integer', default: null, min: SIZE_MIN, max: SIZE_MAX, step: SIZE_MULTIPLE,
    range: `a multiple of ${SIZE_MULTIPLE} from ${SIZE_MIN} to ${SIZE_MAX}`,
    help: 'Local only: video width in pixels (give it with height); overrides the resolution preset.',
    backends: LOCAL, cli: '--width',
  },
  height: {
    name: 'height', label: 'Height', type: 'integer', default: null, min: SIZE_MIN, max: SIZE_MAX, step: SIZE_MULTIPLE,
    range: `a multiple of ${SIZE_MULTIPLE} from ${SIZE_MIN} to ${SIZE_MAX}`,
    help: 'Local only: video height in pixels (give it with width); overrides the resolution preset.',
    backends: LOCAL, cli: '--height',
  },
  decode_chunk: {
    name: 'decode_chunk', label: 'Decode chunk', type: 'integer', default: DEFAULT_DECODE_CHUNK, min: 1, step: 1,
    range: 'an integer of at least 1',
    help: `Local only: frames decoded together (default ${DEFAULT_DECODE_CHUNK}, or all frames if fewer); larger is smoother but needs more memory, 1 flickers.`,
    backends: LOCAL, cli: '--decode-chunk',
  },
};

export const FIELD_NAMES: readonly FieldName[] = Object.freeze(Object.keys(REQUEST_FIELDS) as FieldName[]);

/** The defaults of every field (width/height absent = model default size). */
export const DEFAULT_REQUEST: Readonly<SvdRequest> = Object.freeze({
  fps: 7,
  motion: 127,
  seed: -1,
  cond_aug: 0.02,
  frames: 14,
  resize_method: 'maintain_aspect_ratio',
  base64: false,
  steps: 25,
  min_guidance: 1.0,
  max_guidance: 3.0,
  resolution: 'model-default',
  decode_chunk: DEFAULT_DECODE_CHUNK,
} satisfies SvdRequest);
