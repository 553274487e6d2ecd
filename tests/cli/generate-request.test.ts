/**
 * `svd-web generate`'s request: flags checked against the model, and a fast model's recommended settings
 * (manifest.requestDefaults) for the flags not given — a fast AnimateLCM model without --steps runs 4 steps without
 * guidance, and the terminal says so.
 */
import { describe, expect, it } from 'vitest';
import { requestFromFlags } from '../../src/cli/generate.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { defaultFramingManifest } from '../../src/store/models.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';

const base = defaultFramingManifest() as ModelManifest;
const euler: ModelManifest = { ...base, sampler: 'euler', pipeline: { ...base.pipeline, defaultFrames: 25 } };
const fast: ModelManifest = { ...euler, sampler: 'animatelcm', requestDefaults: { steps: 4, min_guidance: 1, max_guidance: 1 } };

describe('svd-web generate: the request of the flags', () => {
  it('a fast model without --steps: 4 steps without guidance, said in a note', () => {
    const { request, notes } = requestFromFlags({}, fast);
    expect(request).toMatchObject({ steps: 4, min_guidance: 1, max_guidance: 1, frames: 25 });
    expect(notes).toEqual([
      'using the settings this fast model (AnimateLCM) is made for: steps 4, min_guidance 1, max_guidance 1 (--steps, --min-guidance, --max-guidance to change)',
    ]);
  });

  it('flags win over the model\'s settings; the note names only the ones used', () => {
    const { request, notes } = requestFromFlags({ steps: '8', 'max-guidance': '2' }, fast);
    expect(request).toMatchObject({ steps: 8, min_guidance: 1, max_guidance: 2 });
    expect(notes).toEqual(['using the settings this fast model (AnimateLCM) is made for: min_guidance 1 (--min-guidance to change)']);
  });

  it('an Euler model: the request defaults, no note', () => {
    expect(requestFromFlags({}, euler)).toEqual({ request: expect.objectContaining({ steps: 25, min_guidance: 1, max_guidance: 3 }), notes: [] });
  });

  it('bad values are usage errors naming the flag\'s field, as before', () => {
    expect(() => requestFromFlags({ steps: '0' }, fast)).toThrow(UsageError);
    expect(() => requestFromFlags({ steps: '0' }, fast)).toThrow('steps must be an integer from 1 to 200 (got 0)');
    expect(() => requestFromFlags({ 'min-guidance': '2' }, fast)).toThrow('min_guidance must not be above max_guidance (got min_guidance 2 and max_guidance 1)');
  });
});
