/**
 * Time left in a job, from what has been measured in it (and, until then, from this device's measured speed).
 *
 * Denoising steps dominate. The first step also creates the UNet session (and records the graph on WebGPU), so it is
 * timed on its own and only used until a second step has finished; from then on the time per step is that of the
 * steps after the first. Before any step has finished, the expectation (`expectedStepSeconds`: this device's
 * seconds per TFLOP × the step's work, measured in earlier runs) is the estimate, so it is shown from the start.
 * Decoding costs about one step per chunk until a chunk has been timed.
 */
import type { Progress } from '../contract/job.ts';
import { now } from './stage-timer.ts';

export class EtaEstimator {
  /** when the image was encoded: denoising starts (UNet session creation included) */
  private denoiseStart?: number;
  /** when the first step finished */
  private firstStepEnd?: number;
  private stepSeconds?: number;
  private decodeStart?: number;
  private chunkSeconds?: number;

  /** `expectedStepSeconds`: this device's measured speed × the step's work, used until a step has been timed */
  constructor(
    private readonly steps: number,
    private readonly chunks: number,
    private readonly expectedStepSeconds?: number,
    private readonly clock: () => number = now,
  ) {}

  secondsLeft(p: Progress): number | undefined {
    const t = this.clock();
    if (p.stage === 'load' || p.stage === 'encode') {
      if (p.stage === 'encode' && p.step === p.total) this.denoiseStart = t;
      return this.remaining(0, this.expectedStepSeconds);
    }
    if (p.stage === 'denoise') {
      this.denoiseStart ??= t;
      if (p.step === 1) this.firstStepEnd = t;
      if (p.step >= 2 && this.firstStepEnd !== undefined) this.stepSeconds = (t - this.firstStepEnd) / 1000 / (p.step - 1);
      else if (p.step === 1) this.stepSeconds = this.expectedStepSeconds ?? (t - this.denoiseStart) / 1000;
      if (p.step === this.steps) this.decodeStart = t;
      return this.remaining(p.step, this.stepSeconds ?? this.expectedStepSeconds);
    }
    if (p.stage === 'decode') {
      this.decodeStart ??= t;
      if (p.step > 0) this.chunkSeconds = (t - this.decodeStart) / 1000 / p.step;
      const perChunk = this.chunkSeconds ?? this.stepSeconds ?? this.expectedStepSeconds;
      return perChunk === undefined ? undefined : (this.chunks - p.step) * perChunk;
    }
    return undefined;
  }

  /** steps left × seconds per step, plus decoding at about one step per chunk */
  private remaining(stepsDone: number, perStep: number | undefined): number | undefined {
    if (perStep === undefined) return undefined;
    return (this.steps - stepsDone) * perStep + this.chunks * (this.chunkSeconds ?? perStep);
  }
}
