/** The settings form (a draft of raw values, restored from storage) and the backend the user picked. */
import type { FieldName } from '../../contract/request.ts';
import { drawSeed } from '../../contract/seed.ts';
import type { BackendChoice } from '../backend.ts';
import { completeDraft, defaultDraft } from '../draft.ts';
import { loadDraft, loadString, STORAGE_KEYS, type Draft, type KeyValueStorage } from '../persist.ts';
import type { GetState, SetState } from './types.ts';

export interface SettingsSlice {
  draft: Draft;
  backendChoice: BackendChoice;
  setField(name: FieldName, value: string | boolean): void;
  resetSettings(): void;
  rollSeed(): void;
  /** the seed of the last video, back into the form */
  reuseSeed(): void;
  setBackendChoice(choice: BackendChoice): void;
}

export function createSettingsSlice(set: SetState, get: GetState, storage: KeyValueStorage): SettingsSlice {
  const stored = loadString(storage, STORAGE_KEYS.backend);
  const backendChoice: BackendChoice = stored === 'webgpu' || stored === 'wasm' || stored === 'segmind' ? stored : 'auto';
  return {
    draft: completeDraft(loadDraft(storage)),
    backendChoice,
    setField(name, value) {
      set((s) => ({ draft: { ...s.draft, [name]: value } }));
    },
    resetSettings() {
      set({ draft: defaultDraft() });
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
