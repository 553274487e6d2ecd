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
  /** one finished local run: `flops` of denoising took `denoiseMs` on the device `key`, the job without creating sessions `totalMs` */
  recordSpeed(key: string, flops: number | undefined, denoiseMs: number | undefined, totalMs?: number): void;
}

export function createSpeedSlice(set: SetState, storage: KeyValueStorage): SpeedSlice {
  return {
    speeds: loadSpeeds(storage),
    recordSpeed(key, flops, denoiseMs, totalMs) {
      const sample = measuredSecondsPerTflop(flops, denoiseMs);
      if (sample === undefined) return;
      const other = totalMs !== undefined && totalMs >= denoiseMs! ? (totalMs - denoiseMs!) / 1000 : undefined;
      set((s) => ({ speeds: { ...s.speeds, [key]: updateSpeed(s.speeds[key], sample, undefined, other) } }));
    },
  };
}
