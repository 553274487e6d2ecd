/**
 * One progress total across all files of a model: bytes, speed (a sliding window over the bytes that actually
 * came over the network, so bytes found on disk do not inflate it) and ETA. Pure: unit-tested in Node.
 */

export type DownloadPhase = 'manifest' | 'checking' | 'downloading' | 'verifying' | 'retrying' | 'converting' | 'finishing' | 'done';

export interface DownloadProgress {
  phase: DownloadPhase;
  /** bytes of the model present (verified files + the verified prefix of partial files) */
  doneBytes: number;
  /** bytes of all the model's files */
  totalBytes: number;
  /** network throughput over the last few seconds; 0 when unknown */
  bytesPerSecond: number;
  /** seconds left at that speed; null when unknown */
  etaSeconds: number | null;
  /** the file being fetched or verified */
  file?: { path: string; doneBytes: number; bytes: number; index: number; count: number };
  /** bytes received over the network in this run */
  networkBytes: number;
  /** a line for the user when something is being retried or re-fetched */
  message?: string;
}

/** Throughput over a sliding time window. */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  private sum = 0;

  constructor(private readonly windowMs = 5000) {}

  add(bytes: number, now: number): void {
    this.samples.push({ t: now, bytes });
    this.sum += bytes;
    this.trim(now);
  }

  /** bytes per second over the window (or since the first sample, when younger than the window) */
  rate(now: number): number {
    this.trim(now);
    if (this.samples.length === 0) return 0;
    const span = Math.max(now - this.samples[0].t, Math.min(1000, this.windowMs / 5));
    return (this.sum * 1000) / span;
  }

  reset(): void {
    this.samples = [];
    this.sum = 0;
  }

  private trim(now: number): void {
    while (this.samples.length && now - this.samples[0].t > this.windowMs) this.sum -= this.samples.shift()!.bytes;
  }
}

/** Seconds until `remaining` bytes arrive at `bytesPerSecond`; null when the speed is unknown. */
export function etaSeconds(remaining: number, bytesPerSecond: number): number | null {
  if (remaining <= 0) return 0;
  if (!(bytesPerSecond > 0)) return null;
  return remaining / bytesPerSecond;
}




/** Calls `fn` at most every `ms` (the last call of a burst is kept and delivered by `flush`). */
export function throttle<T>(fn: (v: T) => void, ms: number, now: () => number = () => Date.now()): { push(v: T, force?: boolean): void; flush(): void } {
  let last = -Infinity;
  let pending: { v: T } | null = null;
  return {
    push(v, force = false) {
      const t = now();
      if (force || t - last >= ms) {
        last = t;
        pending = null;
        fn(v);
      } else pending = { v };
    },
    flush() {
      if (pending) {
        last = now();
        const p = pending;
        pending = null;
        fn(p.v);
      }
    },
  };
}
