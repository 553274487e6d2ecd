/**
 * Where a job's time goes, per stage: wall time, and time inside ORT run() calls (the runtime's clock). A timed
 * section inside another (a session opened during the loop) counts only for its own stage, so stages add up.
 */
import type { Stage } from '../contract/job.ts';
import type { RunClock } from '../runtime/clock.ts';

export type StageTimes = Record<Stage, number>;

export class StageTimer {
  readonly wall: StageTimes = { load: 0, encode: 0, denoise: 0, decode: 0 };
  readonly ortCall: StageTimes = { load: 0, encode: 0, denoise: 0, decode: 0 };
  private nested = { wall: 0, call: 0 };

  constructor(private readonly clock: Pick<RunClock, 'callMs'>) {}

  async time<T>(stage: Stage, fn: () => Promise<T>): Promise<T> {
    const start = { wall: now(), call: this.clock.callMs };
    const outer = this.nested;
    this.nested = { wall: 0, call: 0 };
    try {
      return await fn();
    } finally {
      const total = { wall: now() - start.wall, call: this.clock.callMs - start.call };
      this.wall[stage] += total.wall - this.nested.wall;
      this.ortCall[stage] += total.call - this.nested.call;
      this.nested = { wall: outer.wall + total.wall, call: outer.call + total.call };
    }
  }
}

export function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
