/**
 * A model's own recommended settings in the form (issue 18, fast mode): the fast AnimateLCM model's 4 steps without
 * guidance are used when it is picked, said in words, and offered back after the user changed them; an Euler model
 * brings the ordinary defaults back for what the user did not set; everything survives a reload.
 */
import { describe, expect, it } from 'vitest';
import { createAppStore, deriveView } from '../../src/store/app-store.ts';
import { memoryStorage, STORAGE_KEYS, type KeyValueStorage } from '../../src/store/persist.ts';
import { defaultFramingManifest, type ModelChoice } from '../../src/store/models.ts';
import { adoptModelDefaults, inferSetByUser, markSetByUser, modelDefaultsNote, recommendedValues } from '../../src/store/model-defaults.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';
import { FakeWorker } from '../support/fakes.ts';

function manifestOf(over: Partial<ModelManifest>): ModelManifest {
  const m = defaultFramingManifest() as ModelManifest;
  return { ...m, sampler: 'euler', pipeline: { ...m.pipeline, defaultWidth: 64, defaultHeight: 64, defaultFrames: 3, vaeScaleFactor: 2, sizeMultiple: 16 }, ...over };
}
const euler = manifestOf({});
const fast = manifestOf({ sampler: 'animatelcm', requestDefaults: { steps: 4, min_guidance: 1, max_guidance: 1 } });
const eulerModel: ModelChoice = { id: 'svd', label: 'SVD', source: { kind: 'url', baseUrl: 'http://app/svd/' }, manifest: euler };
const fastModel: ModelChoice = { id: 'fast', label: 'SVD fast', source: { kind: 'url', baseUrl: 'http://app/fast/' }, manifest: fast };

function storeWith(storage: KeyValueStorage = memoryStorage(), models = [eulerModel, fastModel]) {
  const gpu = { device: 'webgpu' as const, reason: 'WebGPU adapter', features: [], crossOriginIsolated: true };
  const worker = () => new FakeWorker((m, w) => { if (m.kind === 'probe') w.reply({ kind: 'probed', id: m.id, payload: gpu }); });
  return createAppStore({ storage, createWorker: worker, mux: async () => new Blob([]), discoverModels: async () => models, imageBase64: async () => '' });
}
const modelSettings = (s: { draft: Record<string, unknown> }) => ({ steps: s.draft.steps, min_guidance: s.draft.min_guidance, max_guidance: s.draft.max_guidance });

describe('model defaults (pure)', () => {
  it('recommends the model\'s requestDefaults, else the request defaults', () => {
    expect(recommendedValues(fast)).toEqual({ steps: '4', min_guidance: '1', max_guidance: '1' });
    expect(recommendedValues(euler)).toEqual({ steps: '25', min_guidance: '1', max_guidance: '3' });
    expect(recommendedValues(undefined)).toEqual({ steps: '25', min_guidance: '1', max_guidance: '3' });
    // a value out of the field's range is not a recommendation
    expect(recommendedValues(manifestOf({ requestDefaults: { steps: 0, max_guidance: 2.5 } }))).toEqual({ steps: '25', min_guidance: '1', max_guidance: '2.5' });
  });

  it('adopts the recommendation for what the user did not set, and keeps what they set', () => {
    const draft = { steps: '25', min_guidance: '1', max_guidance: '3', motion: '90' };
    expect(adoptModelDefaults(draft, [], fast)).toEqual({ steps: '4', min_guidance: '1', max_guidance: '1', motion: '90' });
    expect(adoptModelDefaults(draft, ['max_guidance'], fast)).toEqual({ steps: '4', min_guidance: '1', max_guidance: '3', motion: '90' });
    expect(adoptModelDefaults(draft, [], euler)).toBe(draft); // nothing to change: the same object
  });

  it('a field is set by the user when it differs from the recommendation of the model selected then', () => {
    expect(markSetByUser([], 'steps', '8', fast)).toEqual(['steps']);
    expect(markSetByUser(['steps'], 'steps', '4.0', fast)).toEqual([]); // typed the recommended value back
    expect(markSetByUser(['steps'], 'steps', ' ', fast)).toEqual([]); // blank means "the default"
    expect(markSetByUser([], 'max_guidance', '1', euler)).toEqual(['max_guidance']);
    // a draft stored before the list existed: what is off the request defaults was typed
    expect(inferSetByUser({ steps: '30', min_guidance: '1', max_guidance: '3.0' })).toEqual(['steps']);
  });

  it('says what a fast model is made for, and what differs', () => {
    expect(modelDefaultsNote(euler, {})).toBeUndefined();
    expect(modelDefaultsNote(fast, { steps: '4', min_guidance: '1', max_guidance: '1' })).toEqual({
      text: 'This fast model (AnimateLCM) is made for 4 steps without guidance.', differs: undefined, action: 'Use 4 steps without guidance',
    });
    expect(modelDefaultsNote(fast, { steps: '25', min_guidance: '1', max_guidance: '3' })?.differs).toBe('Your settings: 25 steps with guidance 1 to 3.');
    expect(modelDefaultsNote(manifestOf({ requestDefaults: { steps: 30, max_guidance: 2.5 } }), {})?.text).toBe('This model is made for 30 steps with guidance 1 to 2.5.');
  });
});

describe('model defaults in the store', () => {
  it('picking the fast model uses its settings, says so, and validates to 4 steps without guidance', async () => {
    const store = storeWith();
    await store.getState().init();
    expect(modelSettings(store.getState())).toEqual({ steps: '25', min_guidance: '1', max_guidance: '3' });
    expect(deriveView(store.getState()).modelDefaults).toBeUndefined();

    store.getState().setModel('fast');
    expect(modelSettings(store.getState())).toEqual({ steps: '4', min_guidance: '1', max_guidance: '1' });
    const view = deriveView(store.getState());
    expect(view.check.request).toMatchObject({ steps: 4, min_guidance: 1, max_guidance: 1 });
    expect(view.modelDefaults).toMatchObject({ text: 'This fast model (AnimateLCM) is made for 4 steps without guidance.', differs: undefined });

    // blank boxes mean the model's default, not 25
    store.getState().setField('steps', '');
    expect(deriveView(store.getState()).check.request?.steps).toBe(4);
  });

  it('keeps what the user set across a model switch, offers the model\'s values back, and Euler restores the rest', async () => {
    const store = storeWith();
    await store.getState().init();
    store.getState().setModel('fast');
    store.getState().setField('steps', '8');
    expect(store.getState().setByUser).toEqual(['steps']);
    expect(deriveView(store.getState()).modelDefaults?.differs).toBe('Your settings: 8 steps without guidance.');

    store.getState().setModel('svd');
    expect(modelSettings(store.getState())).toEqual({ steps: '8', min_guidance: '1', max_guidance: '3' });
    store.getState().setModel('fast');
    expect(modelSettings(store.getState())).toEqual({ steps: '8', min_guidance: '1', max_guidance: '1' });

    store.getState().useModelSettings();
    expect(modelSettings(store.getState())).toEqual({ steps: '4', min_guidance: '1', max_guidance: '1' });
    expect(store.getState().setByUser).toEqual([]);
    expect(deriveView(store.getState()).modelDefaults?.differs).toBeUndefined();
    store.getState().setModel('svd');
    expect(modelSettings(store.getState())).toEqual({ steps: '25', min_guidance: '1', max_guidance: '3' });

    // Reset to defaults on the fast model: its settings, nothing set by hand
    store.getState().setModel('fast');
    store.getState().setField('max_guidance', '2');
    store.getState().setField('motion', '40');
    store.getState().resetSettings();
    expect(store.getState().draft).toMatchObject({ steps: '4', min_guidance: '1', max_guidance: '1', motion: '127' });
    expect(store.getState().setByUser).toEqual([]);
  });

  it('persists the settings and what was set by hand: a reload on the fast model keeps both', async () => {
    const storage = memoryStorage();
    const first = storeWith(storage);
    await first.getState().init();
    first.getState().setModel('fast');
    first.getState().setField('max_guidance', '1.5');
    expect(JSON.parse(storage.getItem(STORAGE_KEYS.params)!)).toMatchObject({ steps: '4', min_guidance: '1', max_guidance: '1.5' });
    expect(JSON.parse(storage.getItem(STORAGE_KEYS.setByUser)!)).toEqual(['max_guidance']);

    // the stored model arrives after the bundled one: the form ends on its settings, the hand-set value intact
    const second = storeWith(storage, [eulerModel]);
    await second.getState().init();
    expect(modelSettings(second.getState())).toEqual({ steps: '25', min_guidance: '1', max_guidance: '1.5' });
    second.getState().setLibraryModels([fastModel]);
    expect(second.getState().modelId).toBe('fast');
    expect(modelSettings(second.getState())).toEqual({ steps: '4', min_guidance: '1', max_guidance: '1.5' });
    expect(deriveView(second.getState()).check.request).toMatchObject({ steps: 4, max_guidance: 1.5 });
  });

  it('a draft stored before this rule keeps its hand-set steps on the fast model', async () => {
    const storage = memoryStorage();
    storage.setItem(STORAGE_KEYS.params, JSON.stringify({ steps: '30', min_guidance: '1', max_guidance: '3' }));
    storage.setItem(STORAGE_KEYS.model, 'fast');
    const store = storeWith(storage);
    await store.getState().init();
    expect(store.getState().setByUser).toEqual(['steps']);
    expect(modelSettings(store.getState())).toEqual({ steps: '30', min_guidance: '1', max_guidance: '1' });
  });
});
