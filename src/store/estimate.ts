/**
 * How long denoising will take on this device, before a run (pure; the speed table lives in localStorage).
 *
 * The work of a request is the UNet's FLOPs (contract/work.ts plannedDenoiseWork, from the model's fitted
 * manifest.work). This device's speed is measured, not guessed: after each finished local run, seconds of denoising
 * per TFLOP (result.local.timings.denoise / result.local.work.flops), kept per device description and model (a tiny
 * model's speed is dominated by fixed costs and says nothing about a real one's) and smoothed with an exponential
 * average (SPEED_SMOOTHING: the newest run counts half, so one slow or fast run moves the estimate without replacing
 * it). The rest of a job (encoding, decoding; not creating the sessions, which the worker keeps between jobs of one
 * model) is averaged the same way, in seconds, so the time shown is the whole job's. Before the first run on a device there is no time, only the work.
 */
import type { DenoiseWork, DeviceInfo, LocalDevice } from '../contract/job.ts';
import type { ModelManifest } from '../contract/manifest.ts';
import type { SvdRequest } from '../contract/request.ts';
import { plannedDenoiseWork } from '../contract/work.ts';
import { readJson, writeJson, type KeyValueStorage } from './persist.ts';
import { formatAbout, formatFlops } from './format.ts';

export const SPEED_KEY = 'svd-web:speed:v1';
/** weight of the newest run in the average (0..1] */
export const SPEED_SMOOTHING = 0.5;

export interface SpeedEntry {
  /** seconds of denoising per 1e12 FLOPs on this device at this precision */
  secondsPerTflop: number;
  /** finished runs measured */
  runs: number;
  /** seconds of the rest of a job (encoding, decoding; session creation not counted), averaged like the speed */
  otherSeconds?: number;
}

/** device key → speed */
export type SpeedTable = Record<string, SpeedEntry>;

/** "webgpu:nvidia ampere NVIDIA GeForce RTX 3080|svd-xt-fast-q4f16", "cpu|tiny-random": the device as described, and the model. */
export function speedKey(device: LocalDevice, adapter: DeviceInfo['adapter'] | undefined, model: string): string {
  if (device === 'wasm') return `cpu|${model}`;
  const name = [adapter?.vendor, adapter?.architecture, adapter?.description].filter((p) => p && p.trim() !== '').join(' ');
  return `webgpu:${name || 'unknown adapter'}${adapter?.isFallbackAdapter ? ' (software)' : ''}|${model}`;
}

/** Seconds per TFLOP of one run; undefined when the run says nothing (no FLOPs recorded, no time). */
export function measuredSecondsPerTflop(flops: number | undefined, denoiseMs: number | undefined): number | undefined {
  if (flops === undefined || denoiseMs === undefined || !(flops > 0) || !(denoiseMs > 0) || !Number.isFinite(flops) || !Number.isFinite(denoiseMs)) return undefined;
  return denoiseMs / 1000 / (flops / 1e12);
}

/** The average after one more run measured at `sample` seconds per TFLOP (and `otherSeconds` outside the loop). */
export function updateSpeed(prev: SpeedEntry | undefined, sample: number, alpha = SPEED_SMOOTHING, otherSeconds?: number): SpeedEntry {
  const other = otherSeconds !== undefined && Number.isFinite(otherSeconds) && otherSeconds >= 0 ? otherSeconds : undefined;
  if (!prev) return { secondsPerTflop: sample, runs: 1, ...(other !== undefined ? { otherSeconds: other } : {}) };
  const avgOther = other === undefined ? prev.otherSeconds : prev.otherSeconds === undefined ? other : alpha * other + (1 - alpha) * prev.otherSeconds;
  return { secondsPerTflop: alpha * sample + (1 - alpha) * prev.secondsPerTflop, runs: prev.runs + 1, ...(avgOther !== undefined ? { otherSeconds: avgOther } : {}) };
}

function validEntry(v: unknown): v is SpeedEntry {
  const e = v as SpeedEntry | null;
  return !!e && typeof e === 'object' && Number.isFinite(e.secondsPerTflop) && e.secondsPerTflop > 0 && Number.isInteger(e.runs) && e.runs > 0;
}

/** The stored table, keeping only well-formed entries. */
export function loadSpeeds(storage: KeyValueStorage): SpeedTable {
  const raw = readJson(storage, SPEED_KEY);
  const table: SpeedTable = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return table;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!validEntry(v)) continue;
    const other = Number.isFinite(v.otherSeconds) && v.otherSeconds! >= 0 ? { otherSeconds: v.otherSeconds } : {};
    table[k] = { secondsPerTflop: v.secondsPerTflop, runs: v.runs, ...other };
  }
  return table;
}

export function saveSpeeds(storage: KeyValueStorage, table: SpeedTable): void {
  writeJson(storage, SPEED_KEY, table);
}

/** A request's work on a model at a framed size, and the time it will take where this device has been measured. */
export interface WorkEstimate {
  work: DenoiseWork;
  width: number;
  height: number;
  device: LocalDevice;
  /** the speed table's key for this device and model */
  key: string;
  secondsPerTflop?: number;
  /** the denoising loop's expected seconds (with FLOPs and a measured speed) */
  denoiseSeconds?: number;
  /** one step's expected seconds: GenerateJob.expectedStepSeconds */
  stepSeconds?: number;
  /** the whole job's expected seconds: denoising plus the measured rest (loading, encoding, decoding) */
  totalSeconds?: number;
}

export function estimateWork(
  manifest: Pick<ModelManifest, 'sampler' | 'work' | 'pipeline' | 'precision'>,
  request: Pick<SvdRequest, 'steps' | 'frames' | 'max_guidance'>,
  size: { width: number; height: number },
  device: LocalDevice,
  adapter: DeviceInfo['adapter'] | undefined,
  speeds: SpeedTable,
  /** the model's id (its precision when it has none) */
  model: string = manifest.precision,
): WorkEstimate {
  const work = plannedDenoiseWork(manifest, request, size);
  const key = speedKey(device, adapter, model);
  const estimate: WorkEstimate = { work, width: size.width, height: size.height, device, key };
  const speed = speeds[key];
  if (speed) {
    estimate.secondsPerTflop = speed.secondsPerTflop;
    if (work.flops !== undefined && work.steps > 0) {
      estimate.denoiseSeconds = speed.secondsPerTflop * work.flops / 1e12;
      estimate.stepSeconds = estimate.denoiseSeconds / work.steps;
      estimate.totalSeconds = estimate.denoiseSeconds + (speed.otherSeconds ?? 0);
    }
  }
  return estimate;
}

/** The work line next to Generate, and the time line (or why there is none yet). */
export function workWords(e: WorkEstimate): { work: string; time: string } {
  const { steps, unetCalls, batch, flops } = e.work;
  const perStep = steps > 0 ? unetCalls / steps : 0;
  const calls = `${steps} step${steps === 1 ? '' : 's'} × ${perStep} UNet call${perStep === 1 ? '' : 's'}${batch === 2 ? ' (batch of 2: guidance)' : ''}`;
  const work = flops !== undefined ? `${calls} · ${formatFlops(flops)}` : calls;
  const where = e.device === 'webgpu' ? 'this GPU' : 'this CPU';
  let time: string;
  if (flops === undefined) time = 'This model does not record its work (converted by an older svd-web), so no time is estimated.';
  else if (e.denoiseSeconds === undefined) time = `The time is shown after the first run on ${where}.`;
  else if (e.totalSeconds !== undefined && e.totalSeconds > e.denoiseSeconds) {
    time = `${capitalize(formatAbout(e.totalSeconds))} on ${where} (denoising ${formatAbout(e.denoiseSeconds)}).`;
  } else time = `Denoising ${formatAbout(e.denoiseSeconds)} on ${where}.`;
  return { work, time };
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
