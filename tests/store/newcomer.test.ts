/**
 * The newcomer's UI (issue 17), the store's side: settings messages in people's words (labels, not field names; the
 * CLI's words unchanged), a decimal comma, defaults in words, the first bad field focused on Generate, a refused
 * picture that keeps the previous one, the first-run tour, and the model manager's rows and progress in words.
 */
import { describe, expect, it } from 'vitest';
import { createAppStore, deriveView } from '../../src/store/app-store.ts';
import { memoryStorage, STORAGE_KEYS, type KeyValueStorage } from '../../src/store/persist.ts';
import { defaultFramingManifest, type ModelChoice } from '../../src/store/models.ts';
import { checkDraft, defaultDraft } from '../../src/store/draft.ts';
import { defaultWords, draftNumber, firstFieldToFix, FORM_ORDER, plainText, rangeWords } from '../../src/store/form.ts';
import { describeModelRow, progressWords, type AppModelFacts } from '../../src/store/model-rows.ts';
import { keptPictureWords } from '../../src/store/slices/image.ts';
import { FIELD_NAMES, REQUEST_FIELDS, validateRequest } from '../../src/contract/request.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';
import type { ModelRecord } from '../../src/models/registry.ts';
import type { CachedModel } from '../../src/models/cached-models.ts';
import type { DownloadProgress } from '../../src/models/progress.ts';
import { FakeWorker, tinyImage } from '../support/fakes.ts';

const manifest = (() => {
  const m = defaultFramingManifest() as ModelManifest;
  m.pipeline = { ...m.pipeline, defaultWidth: 64, defaultHeight: 64, defaultFrames: 3, vaeScaleFactor: 2, sizeMultiple: 16 };
  return m;
})();
const demo: ModelChoice = { id: 'tiny-random', label: 'Tiny demo model (64×64, random weights)', source: { kind: 'url', baseUrl: 'http://app/models/tiny-random/' }, manifest, demo: true };
const real: ModelChoice = { id: 'svd-xt-q4f16', label: 'Stable Video Diffusion XT — q4f16', source: { kind: 'opfs', modelId: 'svd-xt-q4f16' }, manifest };

function storeWith(storage: KeyValueStorage = memoryStorage(), models: ModelChoice[] = [demo]) {
  const gpu = { device: 'webgpu' as const, reason: 'WebGPU adapter', features: [], crossOriginIsolated: true };
  const worker = () => new FakeWorker((m, w) => { if (m.kind === 'probe') w.reply({ kind: 'probed', id: m.id, payload: gpu }); });
  return createAppStore({ storage, createWorker: worker, mux: async () => new Blob([]), discoverModels: async () => models, imageBase64: async () => '', createObjectURL: () => 'blob:x', revokeObjectURL: () => undefined });
}

describe('settings messages in people\'s words', () => {
  const local = { backend: 'local' as const };
  it('names the field by its label, not the request\'s field name; the CLI keeps its words', () => {
    const check = checkDraft({ ...defaultDraft(), cond_aug: 'abc', motion: '500' }, local);
    expect(check.fieldErrors.cond_aug).toBe('Conditioning noise must be a number from 0 to 1.');
    expect(check.fieldErrors.motion).toBe('Motion must be an integer from 1 to 180.');
    // the command line's sentence is the request's own, unchanged
    const cli = validateRequest({ cond_aug: 'abc' }, local);
    expect(cli.ok).toBe(false);
    if (!cli.ok) expect(cli.errors[0].message).toBe('cond_aug must be a number from 0 to 1 (got "abc")');
  });

  it('words the special cases: Segmind frames, guidance the wrong way round, a custom size missing a side', () => {
    expect(checkDraft({ ...defaultDraft(), frames: '3' }, { backend: 'segmind' }).fieldErrors.frames).toBe('Frames must be 14 or 25 for the Segmind API.');
    const guidance = checkDraft({ ...defaultDraft(), min_guidance: '5', max_guidance: '3' }, local).fieldErrors;
    expect(guidance.min_guidance).toBe('Min guidance must not be above max guidance (3).');
    const side = checkDraft({ ...defaultDraft(), resolution: 'custom', width: '64' }, local).fieldErrors;
    expect(side.height).toMatch(/^Give a height too: a custom resolution needs both width and height/);
    const neither = checkDraft({ ...defaultDraft(), resolution: 'custom' }, local).fieldErrors;
    expect(neither.resolution).toMatch(/^Give a width and a height for a custom resolution/);
    expect(checkDraft({ ...defaultDraft(), resize_method: 'stretch' }, local).fieldErrors.resize_method).toBe('Resize method must be Keep proportions or Crop to 16:9.');
  });

  it('no message or warning of the form shows a field name written as code', () => {
    const bad = { ...defaultDraft(), fps: '0', motion: 'x', seed: '-2', cond_aug: '2', frames: '99', steps: '0', min_guidance: '9', max_guidance: '-1', decode_chunk: '0', resize_method: 'x' };
    const errors = Object.values(checkDraft(bad, local).fieldErrors);
    expect(errors.length).toBeGreaterThan(5);
    const warnings = checkDraft({ ...defaultDraft(), frames: '3', decode_chunk: '8', steps: '30' }, { backend: 'segmind', defaultFrames: 14 }).warnings;
    const more = checkDraft({ ...defaultDraft(), frames: '3', decode_chunk: '8' }, local).warnings;
    expect(more).toEqual(['Decode chunk 8 is more than the 3 frames; using 3.']);
    for (const text of [...errors, ...warnings, ...more]) expect(text, text).not.toMatch(/\b(cond_aug|min_guidance|max_guidance|decode_chunk|resize_method)\b/);
    expect(checkDraft({ ...defaultDraft(), steps: '30' }, { backend: 'segmind' }).warnings).toEqual(['Steps is not used by Segmind.']);
  });

  it('accepts a decimal comma in the fields that take decimals, not in whole numbers', () => {
    expect(checkDraft({ ...defaultDraft(), cond_aug: '0,05' }, local).request?.cond_aug).toBe(0.05);
    expect(checkDraft({ ...defaultDraft(), max_guidance: ' 2,5 ' }, local).request?.max_guidance).toBe(2.5);
    expect(checkDraft({ ...defaultDraft(), cond_aug: ',5' }, local).request?.cond_aug).toBe(0.5);
    // "1,000" is not read as 1
    expect(checkDraft({ ...defaultDraft(), seed: '1,000' }, local).fieldErrors.seed).toMatch(/^Seed must be an integer/);
    expect(checkDraft({ ...defaultDraft(), cond_aug: '0,0,5' }, local).fieldErrors.cond_aug).toBe('Conditioning noise must be a number from 0 to 1.');
    // the slider follows what was typed
    expect(draftNumber({ cond_aug: '0,05' }, 'cond_aug')).toBe(0.05);
    expect(draftNumber({ cond_aug: 'abc' }, 'cond_aug')).toBeUndefined();
  });

  it('says every default in words: no empty "Default ;", width and height take the model\'s size', () => {
    expect(defaultWords('width')).toBe("Default: the model's size");
    expect(defaultWords('height')).toBe("Default: the model's size");
    expect(defaultWords('fps')).toBe('Default 7');
    expect(defaultWords('steps', 4)).toBe('Default 4 for this model');
    expect(defaultWords('steps', 25)).toBe('Default 25');
    for (const name of FIELD_NAMES) {
      const spec = REQUEST_FIELDS[name];
      if (spec.type !== 'integer' && spec.type !== 'number') continue;
      const help = `${plainText(spec.help)} ${defaultWords(name)}; ${rangeWords(name, spec.range)}.`;
      expect(help, name).not.toMatch(/Default\s*;/);
      expect(help, name).not.toMatch(/\b(cond_aug|min_guidance|max_guidance|decode_chunk)\b/);
    }
  });

  it('finds the first field to fix in the form\'s order', () => {
    expect(FORM_ORDER).toHaveLength(FIELD_NAMES.length);
    expect(firstFieldToFix({ decode_chunk: 'x', motion: 'y' })).toBe('motion');
    expect(firstFieldToFix({ height: 'x', steps: 'y' })).toBe('steps');
    expect(firstFieldToFix({ '': 'x' })).toBeUndefined();
  });
});

describe('Generate with a setting at fault', () => {
  it('asks the form to focus the first bad field, once per press', async () => {
    const store = storeWith();
    await store.getState().init();
    store.getState().setImage(tinyImage());
    store.getState().setField('decode_chunk', '0');
    store.getState().setField('fps', 'fast');
    await store.getState().generate();
    expect(store.getState().fieldToFix).toEqual({ field: 'fps', seq: 1 });
    expect(store.getState().job.phase).toBe('idle');
    await store.getState().generate();
    expect(store.getState().fieldToFix).toEqual({ field: 'fps', seq: 2 });
    store.getState().setField('fps', '7');
    await store.getState().generate();
    expect(store.getState().fieldToFix).toEqual({ field: 'decode_chunk', seq: 3 });
  });

  it('asks nothing when the settings are fine (only a picture is missing)', async () => {
    const store = storeWith();
    await store.getState().init();
    await store.getState().generate();
    expect(store.getState().fieldToFix).toBeUndefined();
    expect(store.getState().notice).toBe('Add a picture first.');
  });
});

describe('a refused picture', () => {
  it('says the previous picture is still the one in use, when there was one', () => {
    const store = storeWith();
    store.getState().setImageError('"notes.txt" is a text file, not a picture.');
    expect(store.getState().imageError).toBe('"notes.txt" is a text file, not a picture.');
    store.getState().setImage({ ...tinyImage(), name: 'sunset.png' });
    store.getState().setImageError('"notes.txt" is a text file, not a picture.');
    expect(store.getState().imageError).toBe(`"notes.txt" is a text file, not a picture. ${keptPictureWords('sunset.png')}`);
    expect(store.getState().imageError).toContain('The previous picture, "sunset.png", is still the one in use.');
    expect(store.getState().image?.name).toBe('sunset.png');
    store.getState().setImageError(undefined);
    expect(store.getState().imageError).toBeUndefined();
  });
});

describe('the first-run tour', () => {
  it('shows in the empty state with the demo model, and goes with a picture', async () => {
    const store = storeWith();
    expect(deriveView(store.getState()).tour).toBe(false); // no model found yet
    await store.getState().init();
    expect(deriveView(store.getState()).tour).toBe(true);
    store.getState().setImage(tinyImage());
    expect(deriveView(store.getState()).tour).toBe(false);
  });

  it('once dismissed, stays dismissed (localStorage)', async () => {
    const storage = memoryStorage();
    const store = storeWith(storage);
    await store.getState().init();
    store.getState().dismissTour();
    expect(deriveView(store.getState()).tour).toBe(false);
    expect(storage.getItem(STORAGE_KEYS.tourDismissed)).toBe('1');
    const again = storeWith(storage);
    await again.getState().init();
    expect(again.getState().tourDismissed).toBe(true);
    expect(deriveView(again.getState()).tour).toBe(false);
  });

  it('is not shown once a real model is here or in use, nor when Segmind makes the video', async () => {
    const withReal = storeWith(memoryStorage(), [demo, real]);
    await withReal.getState().init();
    expect(deriveView(withReal.getState()).tour).toBe(false);
    withReal.getState().setModel('svd-xt-q4f16');
    expect(deriveView(withReal.getState()).tour).toBe(false);
    const segmind = storeWith();
    await segmind.getState().init();
    segmind.getState().setBackendChoice('segmind');
    expect(deriveView(segmind.getState()).tour).toBe(false);
  });
});

describe('model manager rows in words', () => {
  const demoRecord: ModelRecord = {
    id: 'tiny-random', label: 'Tiny demo model (random weights — output is noise; for testing)', baseUrl: '/models/tiny-random/', precision: 'fp32',
    frames: 3, resolution: { width: 64, height: 64 }, bytes: 22_318_379, approximate: true, requiredFeatures: [], demo: true,
  };
  const appModels: AppModelFacts[] = [{ id: 'tiny-random', label: demo.label, demo: true, bundled: true }];
  const cached = (over: Partial<CachedModel>): CachedModel => ({ id: 'm', bytes: 0, totalBytes: 0, complete: false, partialBytes: 0, ...over });

  it('the bundled demo: the header\'s name, in use, nothing to download, where it comes from', () => {
    const w = describeModelRow({ id: 'tiny-random', record: demoRecord }, undefined, { selectedId: 'tiny-random', appModels });
    expect(w).toMatchObject({ label: demo.label, demo: true, inUse: true, use: false, download: undefined, remove: false });
    expect(w.status).toBe('In use · Ready: comes with the app, nothing to download');
    expect(w.origin).toMatch(/^Bundled with the app\. Random weights: its video is noise/);
    expect(w.readme.anchor).toBe('quick-start');
    // not the one in use: offered with "Use"
    expect(describeModelRow({ id: 'tiny-random', record: demoRecord }, undefined, { selectedId: 'other', appModels })).toMatchObject({ use: true, status: 'Ready: comes with the app, nothing to download' });
    // a copy of the app without the demo: nothing to download it from either
    const missing = describeModelRow({ id: 'tiny-random', record: demoRecord }, undefined, { appModels: [] });
    expect(missing).toMatchObject({ download: undefined, use: false });
    expect(missing.status).toMatch(/^Not available/);
  });

  it('a hosted record downloads; a model converted from Hugging Face links its pages; an import says so', () => {
    const hosted: ModelRecord = { ...demoRecord, id: 'tiny', label: 'Tiny', baseUrl: 'http://127.0.0.1:9/tiny/', demo: undefined };
    expect(describeModelRow({ id: 'tiny', record: hosted }, undefined, {})).toMatchObject({ download: 'Download', origin: 'Hosted at 127.0.0.1:9', status: 'Not downloaded' });
    expect(describeModelRow({ id: 'tiny', record: hosted, cached: cached({ id: 'tiny', source: { id: 'tiny', label: 'Tiny', kind: 'url', baseUrl: 'http://127.0.0.1:9/tiny/' }, bytes: 10, totalBytes: 100 }) }, undefined, {}))
      .toMatchObject({ download: 'Resume', remove: true, status: 'Paused at 10 B of 100 B — resume to continue' });

    const hub = cached({
      id: 'svd-xt-fast-q4f32', complete: true,
      source: { id: 'svd-xt-fast-q4f32', label: 'SVD-XT fast (AnimateLCM, 4 steps) — q4f32', kind: 'hub', hub: { repo: 'stabilityai/stable-video-diffusion-img2vid-xt', revision: 'main', precision: 'q4f32', unet: { repo: 'wangfuyun/AnimateLCM-SVD-xt', revision: 'main', path: 'AnimateLCM-SVD-xt.safetensors', sampler: 'animatelcm' } } },
    });
    const h = describeModelRow({ id: hub.id, cached: hub }, undefined, { selectedId: 'tiny-random', appModels });
    expect(h).toMatchObject({ label: 'SVD-XT fast (AnimateLCM, 4 steps) — q4f32', use: true, download: undefined, remove: true, status: 'Ready (verified, stored in this browser)' });
    expect(h.origin).toMatch(/^Converted in this tab from Hugging Face \(stabilityai\/stable-video-diffusion-img2vid-xt, its UNet from wangfuyun\/AnimateLCM-SVD-xt\), as q4f32$/);
    expect(h.links.map((l) => l.href)).toEqual(['https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt', 'https://huggingface.co/wangfuyun/AnimateLCM-SVD-xt']);
    expect(h.readme.anchor).toBe('getting-a-real-model');

    const imported = cached({ id: 'my-svd', complete: true, source: { id: 'my-svd', label: 'my-svd-folder', kind: 'import' } });
    expect(describeModelRow({ id: 'my-svd', cached: imported }, undefined, { selectedId: 'my-svd' })).toMatchObject({
      label: 'my-svd-folder', origin: 'Imported from a folder on this device (made by svd-web convert)', inUse: true, use: false, download: undefined,
      status: 'In use · Ready (verified, stored in this browser)',
    });
    // an unfinished import has nothing to download from
    expect(describeModelRow({ id: 'my-svd', cached: { ...imported, complete: false } }, undefined, {}).download).toBeUndefined();
  });

  it('says "Connecting…" until the sizes are known, never "0 B of 0 B"', () => {
    const p = (over: Partial<DownloadProgress>): DownloadProgress => ({ phase: 'manifest', doneBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null, networkBytes: 0, ...over });
    expect(progressWords({ kind: 'download' })).toEqual({ known: false, text: 'Connecting…' });
    expect(progressWords({ kind: 'hub', progress: p({}) })).toEqual({ known: false, text: 'Connecting…' });
    expect(progressWords({ kind: 'download', progress: p({ phase: 'retrying' }) }).text).toBe('Reconnecting…');
    expect(progressWords({ kind: 'import' }).text).toBe('Reading the folder…');
    const going = progressWords({ kind: 'download', progress: p({ phase: 'downloading', doneBytes: 5e6, totalBytes: 2e7, bytesPerSecond: 1e6, etaSeconds: 15, file: { path: 'unet.onnx', doneBytes: 1, bytes: 2, index: 1, count: 10 } }) });
    expect(going).toEqual({ known: true, text: '5.0 MB of 20.0 MB (25%) · 1.0 MB/s · 15 s left · unet.onnx (2/10)' });
    expect(going.text).not.toMatch(/0 B of 0 B/);
  });
});
