/**
 * The local models the app can run (the bundled demo plus the models stored in this browser; a stored copy wins
 * over the bundled one with the same id), the chosen one, and what this device can run them on.
 */
import type { ModelChoice } from '../models.ts';
import type { ProbeState } from '../backend.ts';
import { loadString, STORAGE_KEYS, type KeyValueStorage } from '../persist.ts';
import type { SetState } from './types.ts';

export interface ModelsSlice {
  models: ModelChoice[];
  modelsStatus: 'pending' | 'done';
  modelId?: string;
  probe: ProbeState;
  setModel(id: string): void;
  /** the bundled models, found once at start */
  setBundledModels(models: ModelChoice[]): void;
  /** the models stored in this browser, whenever that list changes */
  setLibraryModels(models: ModelChoice[]): void;
}

export function createModelsSlice(set: SetState, storage: KeyValueStorage): ModelsSlice {
  let bundled: ModelChoice[] = [];
  let library: ModelChoice[] = [];
  return {
    models: [],
    modelsStatus: 'pending',
    modelId: loadString(storage, STORAGE_KEYS.model),
    probe: { status: 'pending' },
    setModel(modelId) {
      set({ modelId });
    },
    setBundledModels(models) {
      bundled = models;
      set({ models: mergeModels(bundled, library), modelsStatus: 'done' });
    },
    setLibraryModels(models) {
      library = models;
      set({ models: mergeModels(bundled, library) });
    },
  };
}

function mergeModels(a: ModelChoice[], b: ModelChoice[]): ModelChoice[] {
  const byId = new Map<string, ModelChoice>();
  for (const m of [...a, ...b]) byId.set(m.id, m);
  return [...byId.values()];
}
