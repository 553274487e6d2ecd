/**
 * What the app keeps in this origin's localStorage: the request settings (restored on load, so the user's
 * settings are never lost), the backend choice, the chosen model and the Segmind API key (only here, never
 * anywhere else; "forget key" removes it). Storage failures (private mode, quota) are survived silently.
 */
import { FIELD_NAMES, type FieldName } from '../contract/request.ts';

/** The subset of the Web Storage API used here (a Map-backed fake works in Node tests). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const STORAGE_KEYS = {
  params: 'svd-web:params:v1',
  /** which model settings (steps, guidance) the user set by hand: these stay when another model is picked */
  setByUser: 'svd-web:params-set-by-user:v1',
  backend: 'svd-web:backend:v1',
  model: 'svd-web:model:v1',
  apiKey: 'svd-web:segmind-api-key',
  /** '1' once the first-run tour (what the demo model is, how to get the real one) was dismissed */
  tourDismissed: 'svd-web:tour-dismissed:v1',
} as const;

/** Form values as typed: numbers stay strings until validated (so "-", "0." can be typed), booleans as booleans. */
export type Draft = Partial<Record<FieldName, string | boolean>>;

export function memoryStorage(): KeyValueStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

/** localStorage when usable, else an in-memory stand-in (the settings then last for this tab only). */
export function browserStorage(): KeyValueStorage {
  try {
    const s = (globalThis as { localStorage?: KeyValueStorage }).localStorage;
    if (!s) throw new Error('no localStorage');
    const probe = 'svd-web:probe';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return memoryStorage();
  }
}

export function readJson(storage: KeyValueStorage, key: string): unknown {
  try {
    const raw = storage.getItem(key);
    return raw === null ? undefined : JSON.parse(raw);
  } catch {
    return undefined;
  }
}

export function writeJson(storage: KeyValueStorage, key: string, value: unknown): void {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    // quota or private mode: keep working with the in-memory state
  }
}

/** A stored draft, keeping only known fields with string/boolean values (numbers from older versions become strings). */
export function loadDraft(storage: KeyValueStorage): Draft {
  const raw = readJson(storage, STORAGE_KEYS.params);
  const draft: Draft = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return draft;
  for (const name of FIELD_NAMES) {
    const v = (raw as Record<string, unknown>)[name];
    if (typeof v === 'string' || typeof v === 'boolean') draft[name] = v;
    else if (typeof v === 'number' && Number.isFinite(v)) draft[name] = String(v);
  }
  return draft;
}

export function saveDraft(storage: KeyValueStorage, draft: Draft): void {
  writeJson(storage, STORAGE_KEYS.params, draft);
}

export function loadString(storage: KeyValueStorage, key: string): string | undefined {
  try {
    return storage.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveString(storage: KeyValueStorage, key: string, value: string | undefined): void {
  try {
    if (value === undefined || value === '') storage.removeItem(key);
    else storage.setItem(key, value);
  } catch {
    // ignore: see writeJson
  }
}
