/**
 * Where ORT's time goes. On the WebGPU EP `session.run()` resolves once ORT has queued its kernels, so the time
 * inside run() is only the CPU's share; the GPU's share ends when the device has finished that work. The clock
 * keeps both: `callMs` (inside run() calls) and `busyMs`, the wall time during which ORT had work outstanding —
 * the union of the spans [run() called, device finished it], so runs that overlap on the device count once.
 * `pipeline wall time / busyMs` is the pipeline's overhead: the share of a generation not spent in ORT.
 */

export interface RunSpan {
  readonly start: number;
  end?: number;
}

export class RunClock {
  /** milliseconds spent creating sessions */
  createMs = 0;
  /** milliseconds spent inside run() calls */
  callMs = 0;
  runs = 0;
  /** busy time of spans already folded into one number (all of them had ended) */
  private foldedMs = 0;
  private spans: RunSpan[] = [];
  private waiters: (() => void)[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Starts the span of one run. */
  begin(): RunSpan {
    const span: RunSpan = { start: this.now() };
    this.spans.push(span);
    this.runs++;
    return span;
  }

  /** The run's call returned (its CPU share ends here). */
  returned(span: RunSpan): void {
    this.callMs += this.now() - span.start;
  }

  /** The device has finished the run's work (for CPU-side runs: the call returned). */
  finish(span: RunSpan): void {
    if (span.end !== undefined) return;
    span.end = Math.max(this.now(), span.start);
    if (this.spans.every((s) => s.end !== undefined)) {
      this.foldedMs += unionMs(this.spans);
      this.spans = [];
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  /** Wall time with ORT work outstanding, over every finished span (open spans are not counted yet). */
  get busyMs(): number {
    return this.foldedMs + unionMs(this.spans.filter((s) => s.end !== undefined));
  }

  /** Resolves once every span begun so far has finished (read `busyMs` after it). */
  settled(): Promise<void> {
    if (this.spans.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Length of the union of finished spans. */
function unionMs(spans: readonly RunSpan[]): number {
  const sorted = spans.filter((s) => s.end !== undefined).map((s) => [s.start, s.end!] as const).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let from = -Infinity;
  let to = -Infinity;
  for (const [s, e] of sorted) {
    if (s > to) {
      if (to > from) total += to - from;
      from = s;
      to = e;
    } else if (e > to) {
      to = e;
    }
  }
  if (to > from) total += to - from;
  return total;
}
