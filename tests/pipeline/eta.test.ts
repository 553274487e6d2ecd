/**
 * The time left shown during a job (src/pipeline/eta.ts) on a fake clock: honest from the first step (the UNet
 * session's creation in the first step does not inflate the rest), from the start when this device's speed is known.
 */
import { describe, expect, it } from 'vitest';
import { EtaEstimator } from '../../src/pipeline/eta.ts';
import type { Progress } from '../../src/contract/job.ts';

/** A job: load+encode 30 s, UNet session creation 40 s, then 10 s a step, decode 2 s a chunk. */
function run(eta: EtaEstimator, clock: { t: number }, steps: number, chunks: number): { at: string; left: number | undefined; truth: number }[] {
  const out: { at: string; left: number | undefined; truth: number }[] = [];
  const end = 30 + 40 + 10 * steps + 2 * chunks;
  const at = (seconds: number, p: Progress) => {
    clock.t = seconds * 1000;
    out.push({ at: `${p.stage} ${p.step}`, left: eta.secondsLeft(p), truth: end - seconds });
  };
  at(0, { stage: 'encode', step: 0, total: 2 });
  at(30, { stage: 'encode', step: 2, total: 2 });
  for (let s = 1; s <= steps; s++) at(30 + 40 + 10 * s, { stage: 'denoise', step: s, total: steps });
  for (let c = 1; c <= chunks; c++) at(30 + 40 + 10 * steps + 2 * c, { stage: 'decode', step: c, total: chunks });
  return out;
}

describe('time left', () => {
  it('from the second step on, the steps left at the measured rate (the first step\'s session creation is not counted again)', () => {
    const clock = { t: 0 };
    const rows = run(new EtaEstimator(25, 2, undefined, () => clock.t), clock, 25, 2);
    // nothing measured and no expectation: no estimate rather than a wrong one
    expect(rows[0].left).toBeUndefined();
    for (const r of rows.filter((x) => x.at.startsWith('denoise') && Number(x.at.split(' ')[1]) >= 2)) {
      // exact but for decoding, guessed at one step per chunk until a chunk is timed: 2 × (10 − 2) s over
      expect(r.left!, r.at).toBeCloseTo(r.truth + 16, 9);
    }
    // at step 2 of 25: 23 steps × 10 s + 2 chunks × 10 s = 250 s (truth 234 s); the old estimate counted the load and
    // the session in every step
    expect(rows.find((r) => r.at === 'denoise 2')!.left).toBeCloseTo(250, 9);
    // the first step alone (50 s with its session) is all there is at step 1: an overestimate, never missing
    expect(rows.find((r) => r.at === 'denoise 1')!.left).toBeCloseTo(24 * 50 + 2 * 50, 9);
    // decoding, once a chunk is timed, is exact
    expect(rows.find((r) => r.at === 'decode 1')!.left).toBeCloseTo(2, 9);
  });

  it('with this device\'s measured speed, from the first moment', () => {
    const clock = { t: 0 };
    const rows = run(new EtaEstimator(4, 1, 10, () => clock.t), clock, 4, 1);
    // before anything ran: 4 steps + 1 chunk at 10 s
    expect(rows[0].left).toBeCloseTo(50, 9);
    // after the first step the expectation is kept (the measured first step includes the session's creation)
    expect(rows.find((r) => r.at === 'denoise 1')!.left).toBeCloseTo(40, 9);
    expect(rows.find((r) => r.at === 'denoise 3')!.left).toBeCloseTo(20, 9);
  });
});
