/** The Segmind API key (kept only in this browser's storage), a test-only endpoint override, and the credits left. */
import { localTestUrl } from '../../common/local-url.ts';
import { loadString, STORAGE_KEYS, type KeyValueStorage } from '../persist.ts';
import type { SetState } from './types.ts';

export interface RemoteKeySlice {
  apiKey: string;
  /** a test/dev override of Segmind's endpoint (only http://127.0.0.1 / localhost are honoured) */
  segmindEndpoint?: string;
  remainingCredits?: number;
  setApiKey(key: string): void;
  forgetApiKey(): void;
}

export function createRemoteKeySlice(set: SetState, storage: KeyValueStorage, endpoint: string | undefined): RemoteKeySlice {
  return {
    apiKey: loadString(storage, STORAGE_KEYS.apiKey) ?? '',
    segmindEndpoint: endpoint,
    remainingCredits: undefined,
    setApiKey(apiKey) {
      set({ apiKey });
    },
    forgetApiKey() {
      set({ apiKey: '', notice: 'The Segmind API key was removed from this browser.' });
    },
  };
}

/** Only a local test server may replace Segmind's endpoint (so a crafted link cannot redirect the key). */
export function endpointOverride(search: string): string | undefined {
  return localTestUrl(search, 'segmindEndpoint')?.href;
}
