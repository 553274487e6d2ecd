/**
 * What every slice of the app store sees: zustand's set/get over the whole store, and the injected
 * dependencies (storage, engines, muxer, clipboard) so the logic runs in Node tests with fakes.
 */
import type { StoreApi } from 'zustand/vanilla';
import type { AppStore } from '../app-store.ts';

export type SetState = StoreApi<AppStore>['setState'];
export type GetState = StoreApi<AppStore>['getState'];
