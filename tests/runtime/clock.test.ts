/** RunClock: ORT busy time as the union of [run called, device finished] spans; the call time apart. */
import { describe, expect, it } from 'vitest';
import { RunClock } from '../../src/runtime/clock.ts';

function manualClock() {
  let t = 0;
  return { clock: new RunClock(() => t), at: (v: number) => (t = v) };
}

describe('RunClock', () => {
  it('counts overlapping device spans once and the call time separately', async () => {
    const { clock, at } = manualClock();
    at(0);
    const a = clock.begin();
    at(2);
    clock.returned(a); // run() returned after 2 ms; the device works until 10
    const b = clock.begin();
    at(3);
    clock.returned(b);
    at(10);
    clock.finish(a);
    at(15);
    clock.finish(b);
    await clock.settled();
    expect(clock.busyMs).toBe(15); // [0,10] ∪ [2,15]
    expect(clock.callMs).toBe(3);
    expect(clock.runs).toBe(2);
  });

  it('leaves gaps between spans out, and folds settled spans', () => {
    const { clock, at } = manualClock();
    at(100);
    const a = clock.begin();
    at(104);
    clock.returned(a);
    clock.finish(a);
    at(200);
    const b = clock.begin();
    at(201);
    clock.returned(b);
    clock.finish(b);
    expect(clock.busyMs).toBe(5);
  });

  it('does not count a span before it finishes, and settled() waits for every open span', async () => {
    const { clock, at } = manualClock();
    at(0);
    const a = clock.begin();
    clock.returned(a);
    let settled = false;
    const waiting = clock.settled().then(() => (settled = true));
    at(7);
    expect(clock.busyMs).toBe(0);
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.finish(a);
    await waiting;
    expect(settled).toBe(true);
    expect(clock.busyMs).toBe(7);
    clock.finish(a); // a second finish changes nothing
    expect(clock.busyMs).toBe(7);
  });

  it('handles spans finishing out of order', () => {
    const { clock, at } = manualClock();
    at(0);
    const a = clock.begin();
    at(1);
    const b = clock.begin();
    at(3);
    clock.finish(b);
    expect(clock.busyMs).toBe(2);
    at(4);
    clock.finish(a);
    expect(clock.busyMs).toBe(4);
  });
});
