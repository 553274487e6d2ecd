/** Time left from measured step times: denoise steps dominate; decode chunks are estimated once one is seen. */
import type { Progress } from '../contract/job.ts';
import { now } from './stage-timer.ts';

export class EtaEstimator {
  private readonly start = now();
  private stepStart = 0;
  private stepMs = 0;
  private chunkMs = 0;
  private chunkStart = 0;

  /** `expectedStepSeconds`: this device's measured speed × the step's work, used until a step has been timed */
  constructor(private readonly steps: number, private readonly chunks: number, private readonly expectedStepSeconds?: number) {}

  secondsLeft(p: Progress): number | undefined {
    const t = now();
    if (p.stage === 'denoise' && p.step === 0) {
      // nothing measured yet: the expectation, with decode as about one step per chunk
      return this.expectedStepSeconds !== undefined ? (this.steps + this.chunks) * this.expectedStepSeconds : undefined;
    }
    if (p.stage === 'encode' && this.expectedStepSeconds !== undefined) return (this.steps + this.chunks) * this.expectedStepSeconds;
    if (p.stage === 'denoise') {
      if (p.step === 1) this.stepStart = t - (t - this.start) / 2; // first step includes warm-up; don't trust it fully
      this.stepMs = p.step > 1 ? (t - this.stepStart) / (p.step - 1) : t - this.start;
      this.chunkStart = t;
      // decode is about one UNet step per chunk until measured
      return ((this.steps - p.step) * this.stepMs + this.chunks * this.stepMs) / 1000;
    }
    if (p.stage === 'decode') {
      this.chunkMs = (t - this.chunkStart) / Math.max(1, p.step);
      return ((this.chunks - p.step) * this.chunkMs) / 1000;
    }
    return undefined;
  }
}
