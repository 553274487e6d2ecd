/**
 * The first-run tour: a line on what the demo model is and the way to the real model, shown in the empty state while
 * the demo model is the one in use (./view.ts decides when). Dismissing it is remembered in this browser.
 */
import { loadString, saveString, STORAGE_KEYS, type KeyValueStorage } from '../persist.ts';
import type { SetState } from './types.ts';

export interface TourSlice {
  /** the user closed the first-run tour (kept in localStorage) */
  tourDismissed: boolean;
  dismissTour(): void;
}

export function createTourSlice(set: SetState, storage: KeyValueStorage): TourSlice {
  return {
    tourDismissed: loadString(storage, STORAGE_KEYS.tourDismissed) === '1',
    dismissTour() {
      saveString(storage, STORAGE_KEYS.tourDismissed, '1');
      set({ tourDismissed: true });
    },
  };
}
