/**
 * The settings form (a draft of raw values, restored from storage), which model settings the user set by hand, and
 * the backend the user picked. The selected model's recommended steps and guidance (./model-defaults.ts) fill the
 * model settings the user has not set; app-store.ts applies them whenever the selected model changes.
 */
import type { FieldName } from '../../contract/request.ts';
import { drawSeed } from '../../contract/seed.ts';
import type { BackendChoice } from '../backend.ts';
import { completeDraft, defaultDraft } from '../draft.ts';
import { adoptModelDefaults, inferSetByUser, isModelField, markSetByUser, MODEL_FIELDS, type ModelField } from '../model-defaults.ts';
import { selectedModel } from '../models.ts';
import { loadDraft, loadString, readJson, STORAGE_KEYS, type Draft, type KeyValueStorage } from '../persist.ts';
import type { GetState, SetState } from './types.ts';

export interface SettingsSlice {
  draft: Draft;
  /** the model settings (steps, guidance) the user set by hand: kept when another model is picked */
  setByUser: ModelField[];
  backendChoice: BackendChoice;
  setField(name: FieldName, value: string | boolean): void;
  /** every setting back to its default, the model settings to the selected model's recommendation */
  resetSettings(): void;
  /** steps and guidance back to what the selected model recommends (its requestDefaults, else the defaults) */
  useModelSettings(): void;
  rollSeed(): void;
  /** the seed of the last video, back into the form */
  reuseSeed(): void;
  setBackendChoice(choice: BackendChoice): void;
}

/** The stored list of hand-set model fields; a draft stored before the list existed: the fields off their default. */
export function loadSetByUser(storage: KeyValueStorage, stored: Draft): ModelField[] {
  const raw = readJson(storage, STORAGE_KEYS.setByUser);
  if (Array.isArray(raw)) return MODEL_FIELDS.filter((f) => raw.includes(f));
  return inferSetByUser(stored);
}

export function createSettingsSlice(set: SetState, get: GetState, storage: KeyValueStorage): SettingsSlice {
  const stored = loadString(storage, STORAGE_KEYS.backend);
  const backendChoice: BackendChoice = stored === 'webgpu' || stored === 'wasm' || stored === 'segmind' ? stored : 'auto';
  const storedDraft = loadDraft(storage);
  const manifest = () => selectedModel(get())?.manifest;
  return {
    draft: completeDraft(storedDraft),
    setByUser: loadSetByUser(storage, storedDraft),
    backendChoice,
    setField(name, value) {
      set((s) => ({
        draft: { ...s.draft, [name]: value },
        ...(isModelField(name) ? { setByUser: markSetByUser(s.setByUser, name, value, manifest()) } : {}),
      }));
    },
    resetSettings() {
      set({ draft: adoptModelDefaults(defaultDraft(), [], manifest()), setByUser: [] });
    },
    useModelSettings() {
      set((s) => ({ draft: adoptModelDefaults(s.draft, [], manifest()), setByUser: [] }));
    },
    rollSeed() {
      set((s) => ({ draft: { ...s.draft, seed: String(drawSeed()) } }));
    },
    reuseSeed() {
      const seed = get().result?.seed;
      if (seed !== undefined) set((s) => ({ draft: { ...s.draft, seed: String(seed) }, notice: `Seed set to ${seed}.` }));
    },
    setBackendChoice(choice) {
      set({ backendChoice: choice });
    },
  };
}
