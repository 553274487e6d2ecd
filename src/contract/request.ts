/**
 * Checks untrusted request input (form state, CLI flags, a JSON file, a worker message) against REQUEST_FIELDS
 * (./fields.ts), fills defaults, and builds the Segmind body. Every error is one sentence naming the field, the
 * value and the allowed range. Pure TypeScript: the store, the engines and the CLI call it once per entry point.
 */
import {
  DEFAULT_DECODE_CHUNK, DEFAULT_MAX_LOCAL_FRAMES, DEFAULT_REQUEST, FIELD_NAMES, REQUEST_FIELDS, RESOLUTION_PRESETS, SEGMIND_FRAMES, SIZE_MAX, SIZE_MIN, SIZE_MULTIPLE,
  type Backend, type FieldName, type ResizeMethod, type Resolution, type ResolutionPreset, type SegmindBody, type SvdRequest,
} from './fields.ts';

import { stripDataUrl } from '../common/base64.ts';
import type { RequestDefaults } from './manifest.ts';

export * from './fields.ts';
export { SEED_MAX } from './seed.ts';

export interface ValidationContext {
  backend: Backend;
  /** the local model's frame limit (local backend); defaults to DEFAULT_MAX_LOCAL_FRAMES */
  maxFrames?: number;
  /** the frame count used when the request has none (e.g. the model's native 14 or 25); default 14 */
  defaultFrames?: number;
  /**
   * the values a model recommends for fields the request does not give (manifest.requestDefaults: the fast model's
   * 4 steps without guidance), used instead of REQUEST_FIELDS' defaults; a value out of the field's range is ignored
   */
  requestDefaults?: RequestDefaults;
}

/**
 * The limits and defaults a local model sets: its frame limit (at least DEFAULT_MAX_LOCAL_FRAMES), its native frame
 * count, and the settings it recommends (manifest.requestDefaults) for fields a request leaves out.
 */
export function contextForModel(facts: { defaultFrames: number } | undefined, requestDefaults?: RequestDefaults): ValidationContext {
  const ctx: ValidationContext = { backend: 'local', maxFrames: localMaxFrames(facts?.defaultFrames), defaultFrames: facts?.defaultFrames };
  if (requestDefaults) ctx.requestDefaults = requestDefaults;
  return ctx;
}

/** The default of a numeric field under `ctx`: the model's recommendation when it is in range, else REQUEST_FIELDS'. */
export function fieldDefault(name: FieldName, ctx: Pick<ValidationContext, 'requestDefaults'> = {}): number | undefined {
  const spec = REQUEST_FIELDS[name];
  const own = (ctx.requestDefaults as Partial<Record<FieldName, unknown>> | undefined)?.[name];
  if (typeof own === 'number' && Number.isFinite(own) && own >= (spec.min ?? -Infinity) && own <= (spec.max ?? Infinity)
    && (spec.type !== 'integer' || Number.isInteger(own))) return own;
  return typeof spec.default === 'number' ? spec.default : undefined;
}

/** The local frame limit for a model whose native count is `defaultFrames`. */
export function localMaxFrames(defaultFrames: number | undefined): number {
  return Math.max(DEFAULT_MAX_LOCAL_FRAMES, defaultFrames ?? 0);
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
    if (!given(name)) return fieldDefault(name, ctx);
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


