/** Words and numbers for the progress bar and the result (pure; unit-tested in Node). */
import type { Stage } from '../contract/job.ts';

export type JobPhase =
  | 'idle'
  | 'loading-model'
  | 'encoding'
  | 'denoising'
  | 'decoding'
  | 'muxing'
  | 'remote'
  | 'done'
  | 'error'
  | 'cancelled';

export const RUNNING_PHASES: readonly JobPhase[] = ['loading-model', 'encoding', 'denoising', 'decoding', 'muxing', 'remote'];

export function isRunning(phase: JobPhase): boolean {
  return RUNNING_PHASES.includes(phase);
}

export function phaseOfStage(stage: Stage): JobPhase {
  switch (stage) {
    case 'load':
      return 'loading-model';
    case 'encode':
      return 'encoding';
    case 'denoise':
      return 'denoising';
    case 'decode':
      return 'decoding';
  }
}

/** Share of the whole local job before each phase, and its width (sums to 1). */
const SPANS: Partial<Record<JobPhase, [number, number]>> = {
  'loading-model': [0, 0.1],
  encoding: [0.1, 0.05],
  denoising: [0.15, 0.7],
  decoding: [0.85, 0.1],
  muxing: [0.95, 0.05],
};

/** Overall fraction 0..1 for a local job in `phase` with `step` of `total` done there. */
export function overallFraction(phase: JobPhase, step: number, total: number): number {
  if (phase === 'done') return 1;
  const span = SPANS[phase];
  if (!span) return 0;
  const inner = total > 0 ? Math.min(1, Math.max(0, step / total)) : 0;
  return Math.min(1, span[0] + span[1] * inner);
}

export function phaseLabel(phase: JobPhase, step = 0, total = 0): string {
  switch (phase) {
    case 'idle':
      return 'Ready';
    case 'loading-model':
      return 'Loading the model';
    case 'encoding':
      return 'Encoding the image';
    case 'denoising':
      return total > 0 ? `Denoising step ${Math.min(step + (step < total ? 1 : 0), total)}/${total}` : 'Denoising';
    case 'decoding':
      return total > 0 ? `Decoding frames (batch ${Math.min(step + (step < total ? 1 : 0), total)}/${total})` : 'Decoding frames';
    case 'muxing':
      return 'Encoding the video';
    case 'remote':
      return 'Waiting for Segmind';
    case 'done':
      return 'Done';
    case 'error':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
  }
}



/** FLOPs in words, three significant digits: "12.3 TFLOP", "840 GFLOP", "1.05 PFLOP". */
export function formatFlops(flops: number): string {
  const units: [number, string][] = [[1e15, 'PFLOP'], [1e12, 'TFLOP'], [1e9, 'GFLOP'], [1e6, 'MFLOP'], [1e3, 'kFLOP']];
  const [scale, unit] = units.find(([s]) => flops >= s * 0.9995) ?? [1, 'FLOP'];
  const v = flops / scale;
  return `${v >= 99.95 ? Math.round(v) : v >= 9.995 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
}

/** An expected duration in seconds: "under a second", "about 12 s", "about 2 min", "about 1.5 h". */
export function formatAbout(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'an unknown time';
  if (seconds < 1) return 'under a second';
  if (seconds < 90) return `about ${Math.round(seconds)} s`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}
