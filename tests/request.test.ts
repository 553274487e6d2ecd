import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REQUEST,
  FIELD_NAMES,
  REQUEST_FIELDS,
  SEED_MAX,
  contextForModel,
  formatRequestErrors,
  segmindBody,
  validateRequest,
  type RequestError,
  type SvdRequest,
  type ValidationContext,
} from '../src/contract/request.ts';
import { drawSeed } from '../src/contract/seed.ts';

const LOCAL: ValidationContext = { backend: 'local' };
const SEGMIND: ValidationContext = { backend: 'segmind' };

function ok(input: unknown, ctx: ValidationContext = LOCAL): SvdRequest {
  const r = validateRequest(input, ctx);
  if (!r.ok) throw new Error(`expected ok, got: ${formatRequestErrors(r.errors)}`);
  return r.request;
}

function errs(input: unknown, ctx: ValidationContext = LOCAL): RequestError[] {
  const r = validateRequest(input, ctx);
  if (r.ok) throw new Error(`expected errors, got ${JSON.stringify(r.request)}`);
  return r.errors;
}

function one(input: unknown, ctx: ValidationContext = LOCAL): RequestError {
  const e = errs(input, ctx);
  expect(e, formatRequestErrors(e)).toHaveLength(1);
  return e[0];
}

describe('defaults', () => {
  it('fills every default from an empty request', () => {
    expect(ok({})).toEqual({
      fps: 7, motion: 127, seed: -1, cond_aug: 0.02, frames: 14, resize_method: 'maintain_aspect_ratio', base64: false,
      steps: 25, min_guidance: 1, max_guidance: 3, resolution: 'model-default', decode_chunk: 8,
    });
    expect(ok({}, SEGMIND)).toEqual(ok({}));
  });

  it('agrees with the field table', () => {
    expect([...FIELD_NAMES].sort()).toEqual(Object.keys(REQUEST_FIELDS).sort());
    for (const name of FIELD_NAMES) {
      const spec = REQUEST_FIELDS[name];
      expect(spec.name).toBe(name);
      expect(spec.help.length).toBeGreaterThan(10);
      expect(spec.range.length).toBeGreaterThan(3);
      expect(spec.cli).toMatch(/^--[a-z0-9-]+$/);
      if (spec.default !== null && name !== 'decode_chunk') {
        expect(DEFAULT_REQUEST[name], name).toEqual(spec.default);
      }
    }
  });

  it('treats null and undefined as missing', () => {
    expect(ok({ fps: null, seed: undefined })).toEqual(ok({}));
  });

  it('lowers the default decode chunk to the frame count', () => {
    expect(ok({ frames: 4 }).decode_chunk).toBe(4);
    expect(ok({ frames: 25 }, { backend: 'local', maxFrames: 25 }).decode_chunk).toBe(8);
  });

  it('uses the model default frame count when given', () => {
    expect(ok({}, { backend: 'local', maxFrames: 25, defaultFrames: 25 }).frames).toBe(25);
    expect(ok({}, { backend: 'segmind', defaultFrames: 25 }).frames).toBe(25);
  });

  it('is idempotent: a validated request validates to itself', () => {
    const inputs = [{}, { resolution: '512x512' }, { width: 640, height: 384, frames: 25 }, { seed: '12345', base64: 'true' }];
    for (const input of inputs) {
      const first = ok(input, { backend: 'local', maxFrames: 25 });
      expect(ok(first, { backend: 'local', maxFrames: 25 })).toEqual(first);
    }
  });
});

describe('range errors name the field, the value and the range', () => {
  const cases: [string, unknown, string][] = [
    ['fps', 0, 'fps must be an integer from 1 to 60 (got 0)'],
    ['fps', 61, 'fps must be an integer from 1 to 60 (got 61)'],
    ['fps', 7.5, 'fps must be an integer from 1 to 60 (got 7.5)'],
    ['fps', 'fast', 'fps must be an integer from 1 to 60 (got "fast")'],
    ['fps', NaN, 'fps must be an integer from 1 to 60 (got NaN)'],
    ['motion', 0, 'motion must be an integer from 1 to 180 (got 0)'],
    ['motion', 181, 'motion must be an integer from 1 to 180 (got 181)'],
    ['seed', -2, 'seed must be an integer from -1 to 999999999999999 (got -2)'],
    ['seed', 1e15, 'seed must be an integer from -1 to 999999999999999 (got 1000000000000000)'],
    ['seed', '1000000000000000', 'seed must be an integer from -1 to 999999999999999 (got "1000000000000000")'],
    ['seed', 1.5, 'seed must be an integer from -1 to 999999999999999 (got 1.5)'],
    ['cond_aug', -0.1, 'cond_aug must be a number from 0 to 1 (got -0.1)'],
    ['cond_aug', 1.01, 'cond_aug must be a number from 0 to 1 (got 1.01)'],
    ['cond_aug', Infinity, 'cond_aug must be a number from 0 to 1 (got Infinity)'],
    ['resize_method', 'stretch', 'resize_method must be one of "maintain_aspect_ratio", "crop_to_16_9" (got "stretch")'],
    ['base64', 'yes', 'base64 must be true or false (got "yes")'],
    ['steps', 0, 'steps must be an integer from 1 to 200 (got 0)'],
    ['steps', 201, 'steps must be an integer from 1 to 200 (got 201)'],
    ['min_guidance', -1, 'min_guidance must be a number from 0 to 20 (got -1)'],
    ['max_guidance', 21, 'max_guidance must be a number from 0 to 20, not below min_guidance (got 21)'],
    ['decode_chunk', 0, 'decode_chunk must be an integer of at least 1 (got 0)'],
    ['frames', 0, 'frames must be an integer from 1 to 25 (got 0)'],
    ['frames', 26, 'frames must be an integer from 1 to 25 (got 26)'],
  ];
  for (const [field, value, message] of cases) {
    it(`${field} = ${String(value)}`, () => {
      const e = one({ [field]: value });
      expect(e.field).toBe(field);
      expect(e.value).toBe(value);
      expect(e.message).toBe(message);
      expect(e.range.length).toBeGreaterThan(0);
    });
  }

  it('width and height must be multiples of 8 in range', () => {
    expect(one({ width: 500, height: 512 }).message).toBe('width must be a multiple of 8 from 16 to 2048 (got 500)');
    expect(one({ width: 512, height: 4096 }).message).toBe('height must be a multiple of 8 from 16 to 2048 (got 4096)');
    expect(one({ width: 512, height: 8 }).field).toBe('height');
  });

  it('reports every bad field at once', () => {
    const e = errs({ fps: 0, motion: 999, cond_aug: 2 });
    expect(e.map((x) => x.field)).toEqual(['fps', 'motion', 'cond_aug']);
    expect(formatRequestErrors(e)).toBe([
      '- fps must be an integer from 1 to 60 (got 0)',
      '- motion must be an integer from 1 to 180 (got 999)',
      '- cond_aug must be a number from 0 to 1 (got 2)',
    ].join('\n'));
  });

  it('min_guidance may not exceed max_guidance', () => {
    const e = one({ min_guidance: 4, max_guidance: 3 });
    expect(e.field).toBe('min_guidance');
    expect(e.message).toBe('min_guidance must not be above max_guidance (got min_guidance 4 and max_guidance 3)');
    const e2 = one({ max_guidance: 0.5 });
    expect(e2.field).toBe('max_guidance');
    expect(e2.message).toContain('max_guidance 0.5');
    expect(ok({ min_guidance: 2, max_guidance: 2 }).max_guidance).toBe(2);
  });

  it('rejects a non-object request', () => {
    for (const bad of [null, 'fps=7', [1, 2], 42]) {
      expect(one(bad).message).toMatch(/^the request must be an object of fields \(got /);
    }
  });
});

describe('numeric strings and seed', () => {
  it('accepts numeric strings (CLI flags, form inputs)', () => {
    const r = ok({ fps: '12', motion: ' 40 ', cond_aug: '0.1', steps: '30', base64: 'false' });
    expect(r).toMatchObject({ fps: 12, motion: 40, cond_aug: 0.1, steps: 30, base64: false });
  });

  it('accepts the whole seed range as numbers and strings', () => {
    expect(ok({ seed: -1 }).seed).toBe(-1);
    expect(ok({ seed: 0 }).seed).toBe(0);
    expect(ok({ seed: SEED_MAX }).seed).toBe(999999999999999);
    expect(ok({ seed: '999999999999999' }).seed).toBe(999999999999999);
    expect(ok({ seed: '-1' }).seed).toBe(-1);
    expect(ok({ seed: 123456789012345n }).seed).toBe(123456789012345);
    expect(Number.isSafeInteger(SEED_MAX)).toBe(true);
  });

  it('randomSeed stays in range', () => {
    expect(drawSeed(() => 0)).toBe(0);
    expect(drawSeed(() => 0.9999999999999999)).toBeLessThanOrEqual(SEED_MAX);
    const s = drawSeed();
    expect(Number.isInteger(s) && s >= 0 && s <= SEED_MAX).toBe(true);
  });
});

describe('unknown fields', () => {
  it('names the unknown field and lists the known ones', () => {
    const e = one({ fps: 7, colour: 'red' });
    expect(e.field).toBe('colour');
    expect(e.message).toContain('unknown field "colour"');
    expect(e.message).toContain('fps, motion, seed');
  });

  it('suggests our name for a diffusers name', () => {
    expect(one({ motion_bucket_id: 100 }).message).toContain('did you mean "motion"?');
    expect(one({ noise_aug_strength: 0.1 }).message).toContain('did you mean "cond_aug"?');
    expect(one({ 'decode-chunk': 2 }).message).toContain('did you mean "decode_chunk"?');
  });

  it('explains that the image travels separately', () => {
    const e = one({ image: 'AAAA' });
    expect(e.field).toBe('image');
    expect(e.message).toMatch(/pass the picture separately/);
  });
});

describe('frames per backend', () => {
  it('Segmind accepts only 14 or 25', () => {
    expect(ok({ frames: 14 }, SEGMIND).frames).toBe(14);
    expect(ok({ frames: 25 }, SEGMIND).frames).toBe(25);
    expect(ok({ frames: '25' }, SEGMIND).frames).toBe(25);
    for (const frames of [1, 13, 20, 26, 14.5]) {
      const e = one({ frames }, SEGMIND);
      expect(e.field).toBe('frames');
      expect(e.message).toBe(`frames must be 14 or 25 for the Segmind API (got ${frames})`);
    }
  });

  it('local accepts 1 … maxFrames', () => {
    const ctx: ValidationContext = { backend: 'local', maxFrames: 30 };
    expect(ok({ frames: 1 }, ctx).frames).toBe(1);
    expect(ok({ frames: 20 }, ctx).frames).toBe(20);
    expect(ok({ frames: 30 }, ctx).frames).toBe(30);
    expect(one({ frames: 31 }, ctx).message).toBe('frames must be an integer from 1 to 30 for this model (got 31)');
    expect(one({ frames: 0 }, ctx).message).toBe('frames must be an integer from 1 to 30 for this model (got 0)');
    expect(one({ frames: 3 }, { backend: 'local', maxFrames: 2 }).message)
      .toBe('frames must be an integer from 1 to 2 for this model (got 3)');
  });

  it('lowers decode_chunk to frames with a warning', () => {
    const r = validateRequest({ frames: 6, decode_chunk: 10 }, LOCAL);
    expect(r.ok && r.request.decode_chunk).toBe(6);
    expect(r.ok && r.warnings.join()).toContain('decode_chunk 10');
  });

  it('warns when a field is ignored by the chosen backend', () => {
    const r = validateRequest({ steps: 50, width: 512, height: 512 }, SEGMIND);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.warnings).toEqual(expect.arrayContaining(['steps is ignored by the Segmind API', 'width is ignored by the Segmind API']));
    const l = validateRequest({ base64: true }, LOCAL);
    expect(l.ok && l.warnings).toEqual(['base64 is ignored by the local backend']);
    const quiet = validateRequest({ steps: 25 }, SEGMIND);
    expect(quiet.ok && quiet.warnings).toEqual([]);
  });
});

describe('resolution', () => {
  it('presets set width and height (WIDTHxHEIGHT)', () => {
    expect(ok({ resolution: '1024x576' })).toMatchObject({ resolution: '1024x576', width: 1024, height: 576 });
    expect(ok({ resolution: '576x1024' })).toMatchObject({ width: 576, height: 1024 });
    expect(ok({ resolution: '320x576' })).toMatchObject({ width: 320, height: 576 });
  });

  it('model-default leaves the size to the model', () => {
    const r = ok({ resolution: 'model-default' });
    expect(r.resolution).toBe('model-default');
    expect('width' in r).toBe(false);
  });

  it('width/height alone give a custom size, or the matching preset', () => {
    expect(ok({ width: 640, height: 384 })).toMatchObject({ resolution: 'custom', width: 640, height: 384 });
    expect(ok({ width: '512', height: '512' })).toMatchObject({ resolution: '512x512', width: 512, height: 512 });
    expect(ok({ resolution: 'custom', width: 640, height: 384 })).toMatchObject({ resolution: 'custom' });
    expect(ok({ resolution: '640x384' })).toMatchObject({ resolution: 'custom', width: 640, height: 384 });
  });

  it('explains bad combinations', () => {
    expect(one({ width: 512 }).message).toBe('width and height must be given together (got width 512 but no height)');
    expect(one({ resolution: 'custom' }).message).toBe('resolution "custom" needs width and height (got neither)');
    expect(one({ resolution: '512x512', width: 1024, height: 576 }).message)
      .toBe('resolution "512x512" disagrees with width 1024 and height 576: give one or the other');
    expect(one({ resolution: 'model-default', width: 512, height: 512 }).field).toBe('resolution');
    expect(one({ resolution: 'huge' }).message).toMatch(/^resolution must be "model-default", one of "1024x576", .* \(got "huge"\)$/);
    expect(one({ resolution: '500x500' }).message)
      .toBe('resolution must have a width and height that are multiples of 8 from 16 to 2048 (got "500x500")');
  });
});

describe("a model's recommended settings (manifest.requestDefaults)", () => {
  const FAST = { steps: 4, min_guidance: 1, max_guidance: 1 };
  const facts = { defaultFrames: 25 };

  it('fill the fields a request leaves out; given fields win', () => {
    expect(ok({}, contextForModel(facts, FAST))).toMatchObject({ steps: 4, min_guidance: 1, max_guidance: 1, frames: 25 });
    expect(ok({ steps: '8' }, contextForModel(facts, FAST))).toMatchObject({ steps: 8, min_guidance: 1, max_guidance: 1 });
    expect(ok({ max_guidance: 2.5 }, contextForModel(facts, FAST))).toMatchObject({ steps: 4, max_guidance: 2.5 });
    expect(ok({ steps: null }, contextForModel(facts, FAST)).steps).toBe(4);
  });

  it('without them (or with the one-argument call) the request defaults', () => {
    expect(contextForModel(facts)).toEqual({ backend: 'local', maxFrames: 25, defaultFrames: 25 });
    expect(ok({}, contextForModel(facts))).toMatchObject({ steps: 25, min_guidance: 1, max_guidance: 3 });
    expect(ok({}, contextForModel(undefined, undefined))).toMatchObject({ steps: 25, frames: 14 });
  });

  it('a recommendation out of range is not used; a clash with a given value is the given field\'s error', () => {
    expect(ok({}, contextForModel(facts, { steps: 0, min_guidance: 1.5, max_guidance: 99 }))).toMatchObject({ steps: 25, min_guidance: 1.5, max_guidance: 3 });
    expect(ok({}, contextForModel(facts, { steps: 2.5 })).steps).toBe(25);
    const e = one({ min_guidance: 2 }, contextForModel(facts, FAST));
    expect(e.message).toBe('min_guidance must not be above max_guidance (got min_guidance 2 and max_guidance 1)');
  });
});

describe('segmindBody', () => {
  it('holds exactly the API fields', () => {
    const request = ok({ fps: 10, motion: 60, seed: 42, cond_aug: 0.1, frames: 25, steps: 40, width: 512, height: 512 });
    const body = segmindBody(request, 'iVBORw0KGgo=');
    expect(body).toEqual({
      image: 'iVBORw0KGgo=', fps: 10, motion: 60, seed: 42, cond_aug: 0.1, frames: 25,
      resize_method: 'maintain_aspect_ratio', base64: false,
    });
    expect(Object.keys(body)).toEqual(['image', 'fps', 'motion', 'seed', 'cond_aug', 'frames', 'resize_method', 'base64']);
  });

  it('strips a data: URL prefix and keeps URLs', () => {
    const r = ok({});
    expect(segmindBody(r, 'data:image/png;base64,AAAA').image).toBe('AAAA');
    expect(segmindBody(r, 'https://example.com/cat.png').image).toBe('https://example.com/cat.png');
  });

  it('refuses frames the API does not take, and an empty image', () => {
    expect(() => segmindBody(ok({ frames: 20 }), 'AAAA')).toThrow('frames must be 14 or 25 for the Segmind API (got 20)');
    expect(() => segmindBody(ok({}), '  ')).toThrow(RangeError);
  });
});
