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

export const SEED_MAX = 999_999_999_999_999;
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

export interface ValidationContext {
  backend: Backend;
  /** the local model's frame limit (local backend); defaults to DEFAULT_MAX_LOCAL_FRAMES */
  maxFrames?: number;
  /** the frame count used when the request has none (e.g. the model's native 14 or 25); default 14 */
  defaultFrames?: number;
}

export interface RequestError {
  /** the field at fault ('' when the whole input is wrong) */
  field: string;
  /** the value received (undefined when missing) */
  value: unknown;
  /** the allowed range in words */
  range: string;
  /** one sentence naming field, value and range */
  message: string;
}

export type ValidationResult =
  | { ok: true; request: SvdRequest; warnings: string[] }
  | { ok: false; errors: RequestError[] };

/** Field names people bring from diffusers / other UIs, mapped to ours, for "did you mean" hints. */
const ALIASES: Record<string, FieldName> = {
  motion_bucket_id: 'motion',
  noise_aug_strength: 'cond_aug',
  num_frames: 'frames',
  num_inference_steps: 'steps',
  decode_chunk_size: 'decode_chunk',
  guidance_scale: 'max_guidance',
  min_guidance_scale: 'min_guidance',
  max_guidance_scale: 'max_guidance',
  size: 'resolution',
};

/** Shows a received value inside a message: strings quoted, numbers as written, objects as JSON (shortened). */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** number → itself; numeric string → its number; bigint → number; anything else → undefined. */
function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const text = value.trim();
    return NUMERIC.test(text) ? Number(text) : undefined;
  }
  return undefined;
}

function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
  }
  return undefined;
}

function error(field: string, value: unknown, range: string, message?: string): RequestError {
  return { field, value, range, message: message ?? `${field} must be ${range} (got ${formatValue(value)})` };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function suggestion(key: string): string {
  const lower = key.toLowerCase().replace(/-/g, '_');
  const hit = ALIASES[lower] ?? FIELD_NAMES.find((n) => n === lower);
  return hit ? ` (did you mean "${hit}"?)` : '';
}

const RESOLUTION_TEXT = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/;

/**
 * Checks untrusted input and fills defaults. Numeric fields accept numbers or numeric strings (CLI flags,
 * form inputs); `base64` accepts true/false or "true"/"false". null and undefined mean "use the default".
 * Fields the chosen backend ignores are still range-checked (the same request may go to the other backend),
 * and a warning says when a non-default value will be ignored.
 */
export function validateRequest(input: unknown, ctx: ValidationContext): ValidationResult {
  const errors: RequestError[] = [];
  const warnings: string[] = [];
  if (!isPlainObject(input)) {
    return {
      ok: false,
      errors: [error('', input, 'an object of fields', `the request must be an object of fields (got ${formatValue(input)})`)],
    };
  }

  // Unknown fields.
  for (const key of Object.keys(input)) {
    if (key in REQUEST_FIELDS) continue;
    if (key === 'image') {
      errors.push(error('image', input[key], 'not part of the request',
        'image is not a request field: pass the picture separately (pixels to the local backend, base64 or a URL to the Segmind backend)'));
      continue;
    }
    errors.push(error(key, input[key], 'a known field',
      `unknown field "${key}"${suggestion(key)}; known fields are ${FIELD_NAMES.join(', ')}`));
  }

  const given = (name: FieldName): boolean => input[name] !== undefined && input[name] !== null;

  const numberField = (name: FieldName, integer: boolean, min: number, max: number, range: string): number | undefined => {
    const raw = input[name];
    const spec = REQUEST_FIELDS[name];
    if (!given(name)) return typeof spec.default === 'number' ? spec.default : undefined;
    const n = toNumber(raw);
    if (n === undefined || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      errors.push(error(name, raw, range));
      return undefined;
    }
    return n;
  };
  const rangeField = (name: FieldName) => {
    const s = REQUEST_FIELDS[name];
    return numberField(name, s.type === 'integer', s.min ?? -Infinity, s.max ?? Infinity, s.range);
  };

  const fps = rangeField('fps');
  const motion = rangeField('motion');
  const seed = rangeField('seed');
  const cond_aug = rangeField('cond_aug');
  const steps = rangeField('steps');
  const min_guidance = rangeField('min_guidance');
  const max_guidance = rangeField('max_guidance');

  // frames: depends on the backend.
  let frames: number | undefined;
  if (ctx.backend === 'segmind') {
    const defaultFrames = ctx.defaultFrames !== undefined && (SEGMIND_FRAMES as readonly number[]).includes(ctx.defaultFrames)
      ? ctx.defaultFrames : DEFAULT_REQUEST.frames;
    if (!given('frames')) frames = defaultFrames;
    else {
      const n = toNumber(input.frames);
      if (n === 14 || n === 25) frames = n;
      else errors.push(error('frames', input.frames, '14 or 25 for the Segmind API'));
    }
  } else {
    const maxFrames = ctx.maxFrames !== undefined && Number.isInteger(ctx.maxFrames) && ctx.maxFrames >= 1
      ? ctx.maxFrames : DEFAULT_MAX_LOCAL_FRAMES;
    const range = `an integer from 1 to ${maxFrames}${ctx.maxFrames !== undefined ? ' for this model' : ''}`;
    if (!given('frames')) frames = Math.min(ctx.defaultFrames ?? DEFAULT_REQUEST.frames, maxFrames);
    else frames = numberField('frames', true, 1, maxFrames, range);
  }

  let resize_method: ResizeMethod | undefined = DEFAULT_REQUEST.resize_method;
  if (given('resize_method')) {
    const raw = input.resize_method;
    const options = REQUEST_FIELDS.resize_method.options!;
    if (typeof raw === 'string' && options.includes(raw)) resize_method = raw as ResizeMethod;
    else {
      resize_method = undefined;
      errors.push(error('resize_method', raw, REQUEST_FIELDS.resize_method.range));
    }
  }

  let base64: boolean | undefined = DEFAULT_REQUEST.base64;
  if (given('base64')) {
    base64 = toBoolean(input.base64);
    if (base64 === undefined) errors.push(error('base64', input.base64, REQUEST_FIELDS.base64.range));
  }

  if (min_guidance !== undefined && max_guidance !== undefined && min_guidance > max_guidance) {
    // Blame the field the user set (min_guidance when both or neither were set).
    const blameMax = given('max_guidance') && !given('min_guidance');
    const minShown = given('min_guidance') ? formatValue(input.min_guidance) : String(min_guidance);
    const maxShown = given('max_guidance') ? formatValue(input.max_guidance) : String(max_guidance);
    const message = `min_guidance must not be above max_guidance (got min_guidance ${minShown} and max_guidance ${maxShown})`;
    if (blameMax) errors.push(error('max_guidance', input.max_guidance, `not below min_guidance (${min_guidance})`, message));
    else errors.push(error('min_guidance', given('min_guidance') ? input.min_guidance : min_guidance, `not above max_guidance (${max_guidance})`, message));
  }

  // Size: resolution and/or width+height.
  const size = resolveSize(input, given, errors);

  // decode_chunk: at least 1; values above frames are lowered to frames.
  let decode_chunk: number | undefined;
  if (!given('decode_chunk')) decode_chunk = frames !== undefined ? Math.min(DEFAULT_DECODE_CHUNK, frames) : DEFAULT_DECODE_CHUNK;
  else {
    decode_chunk = rangeField('decode_chunk');
    if (decode_chunk !== undefined && frames !== undefined && decode_chunk > frames) {
      warnings.push(`decode_chunk ${decode_chunk} is more than the ${frames} frames; using ${frames}`);
      decode_chunk = frames;
    }
  }

  if (errors.length > 0) return { ok: false, errors };

  const request: SvdRequest = {
    fps: fps!, motion: motion!, seed: seed!, cond_aug: cond_aug!, frames: frames!,
    resize_method: resize_method!, base64: base64!,
    steps: steps!, min_guidance: min_guidance!, max_guidance: max_guidance!,
    resolution: size!.resolution, decode_chunk: decode_chunk!,
  };
  if (size!.width !== undefined) {
    request.width = size!.width;
    request.height = size!.height;
  }

  // Say when a value the user chose will not be used by this backend.
  for (const name of FIELD_NAMES) {
    const spec = REQUEST_FIELDS[name];
    if (spec.backends.includes(ctx.backend) || !given(name)) continue;
    const value = request[name];
    const isDefault = name === 'width' || name === 'height' ? false
      : name === 'resolution' ? value === 'model-default' : value === spec.default;
    if (!isDefault) warnings.push(`${name} is ignored by the ${ctx.backend === 'segmind' ? 'Segmind API' : 'local backend'}`);
  }
  return { ok: true, request, warnings: [...new Set(warnings)] };
}

function checkSize(field: 'width' | 'height', raw: unknown, errors: RequestError[]): number | undefined {
  const n = toNumber(raw);
  if (n === undefined || !Number.isInteger(n) || n < SIZE_MIN || n > SIZE_MAX || n % SIZE_MULTIPLE !== 0) {
    errors.push(error(field, raw, REQUEST_FIELDS[field].range));
    return undefined;
  }
  return n;
}

function resolveSize(
  input: Record<string, unknown>,
  given: (name: FieldName) => boolean,
  errors: RequestError[],
): { resolution: Resolution; width?: number; height?: number } | undefined {
  const before = errors.length;
  const hasW = given('width');
  const hasH = given('height');
  let width: number | undefined;
  let height: number | undefined;
  if (hasW) width = checkSize('width', input.width, errors);
  if (hasH) height = checkSize('height', input.height, errors);
  if (hasW !== hasH) {
    const [have, missing] = hasW ? ['width', 'height'] : ['height', 'width'];
    errors.push(error(missing, undefined, 'given together with ' + have,
      `width and height must be given together (got ${have} ${formatValue(input[have])} but no ${missing})`));
  }

  let resolution: Resolution = 'model-default';
  let presetW: number | undefined;
  let presetH: number | undefined;
  if (given('resolution')) {
    const raw = input.resolution;
    const range = REQUEST_FIELDS.resolution.range;
    const match = typeof raw === 'string' ? RESOLUTION_TEXT.exec(raw) : null;
    if (raw === 'model-default' || raw === 'custom') resolution = raw;
    else if (match) {
      presetW = checkSizeFromResolution(Number(match[1]), raw, errors, range);
      presetH = presetW === undefined ? undefined : checkSizeFromResolution(Number(match[2]), raw, errors, range);
      if (presetW === undefined || presetH === undefined) return undefined;
      resolution = 'custom';
    } else {
      errors.push(error('resolution', raw, range));
      return undefined;
    }
    if (resolution === 'custom' && presetW === undefined && !(hasW && hasH)) {
      errors.push(error('resolution', raw, 'given with width and height',
        'resolution "custom" needs width and height (got neither)'));
    }
    if (resolution === 'model-default' && (hasW || hasH)) {
      errors.push(error('resolution', raw, 'not combined with width/height',
        'resolution "model-default" cannot be combined with width and height: drop them, or set resolution to "custom"'));
    }
    if (presetW !== undefined && hasW && hasH && width !== undefined && height !== undefined && (width !== presetW || height !== presetH)) {
      errors.push(error('resolution', raw, `the same size as width ${width} and height ${height}`,
        `resolution ${formatValue(raw)} disagrees with width ${width} and height ${height}: give one or the other`));
    }
  }
  if (errors.length > before) return undefined;

  const w = width ?? presetW;
  const h = height ?? presetH;
  if (w === undefined || h === undefined) return { resolution: 'model-default' };
  const name = `${w}x${h}`;
  resolution = (RESOLUTION_PRESETS as readonly string[]).includes(name) ? (name as ResolutionPreset) : 'custom';
  return { resolution, width: w, height: h };
}

function checkSizeFromResolution(n: number, raw: unknown, errors: RequestError[], range: string): number | undefined {
  if (!Number.isInteger(n) || n < SIZE_MIN || n > SIZE_MAX || n % SIZE_MULTIPLE !== 0) {
    errors.push(error('resolution', raw, range,
      `resolution must have a width and height that are multiples of ${SIZE_MULTIPLE} from ${SIZE_MIN} to ${SIZE_MAX} (got ${formatValue(raw)})`));
    return undefined;
  }
  return n;
}

/** One line per error, ready for a terminal or an alert. */
export function formatRequestErrors(errors: readonly RequestError[]): string {
  if (errors.length === 1) return errors[0].message;
  return errors.map((e) => `- ${e.message}`).join('\n');
}

/**
 * The exact JSON body POST /v1/svd expects: only the API fields, in the documented order.
 * `image` is a base64 string of the picture (a `data:` URL prefix is removed) or an http(s) URL.
 * Throws a RangeError when the request cannot go to Segmind (frames not 14/25, empty image):
 * run `validateRequest(request, {backend: 'segmind'})` first to get friendly messages.
 */
export function segmindBody(request: SvdRequest, image: string): SegmindBody {
  if (typeof image !== 'string' || image.trim() === '') throw new RangeError('image must be a non-empty base64 string or URL');
  if (!(SEGMIND_FRAMES as readonly number[]).includes(request.frames)) {
    throw new RangeError(`frames must be 14 or 25 for the Segmind API (got ${formatValue(request.frames)})`);
  }
  return {
    image: stripDataUrl(image.trim()),
    fps: request.fps,
    motion: request.motion,
    seed: request.seed,
    cond_aug: request.cond_aug,
    frames: request.frames,
    resize_method: request.resize_method,
    base64: request.base64,
  };
}

/** "data:image/png;base64,AAAA" → "AAAA"; anything else unchanged. */
export function stripDataUrl(text: string): string {
  const m = /^data:[^,]*?;base64,/i.exec(text);
  return m ? text.slice(m[0].length) : text;
}

/** A random seed in the API's range, for a request with seed −1. */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (SEED_MAX + 1));
}
