/**
 * This device's measured denoising speed (seconds per TFLOP, per device description and model precision), restored
 * from localStorage and updated after every finished local run (../estimate.ts). It turns the work of a request into
 * "about 2 min on this GPU" next to Generate, and into the job's expectedStepSeconds (the ETA from the first step).
 */
import { loadSpeeds, measuredSecondsPerTflop, updateSpeed, type SpeedTable } from '../estimate.ts';
import type { KeyValueStorage } from '../persist.ts';
import type { SetState } from './types.ts';

export interface SpeedSlice {
  speeds: SpeedTable;
  /** one finished local run: `flops` of denoising took `denoiseMs` on the device `key` */
  recordSpeed(key: string, flops: number | undefined, denoiseMs: number | undefined): void;
}

export function createSpeedSlice(set: SetState, storage: KeyValueStorage): SpeedSlice {
  return {
    speeds: loadSpeeds(storage),
    recordSpeed(key, flops, denoiseMs) {
      const sample = measuredSecondsPerTflop(flops, denoiseMs);
      if (sample === undefined) return;
      set((s) => ({ speeds: { ...s.speeds, [key]: updateSpeed(s.speeds[key], sample) } }));
    },
  };
}
