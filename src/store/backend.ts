/**
 * Which backend runs a generation, and why — in words the UI shows as they are.
 *
 * auto: local WebGPU when a hardware adapter and a usable model are present; the local CPU (wasm) when the adapter is
 * a software fallback (SwiftShader-like emulation, slower than the CPU: measured 223–404 s per step against 0.9 s at
 * 64×64) or when there is no WebGPU at all; Segmind when there is no local model or the model needs a GPU feature this
 * GPU lacks; and the CPU when runs of this model on this device measured it faster than the GPU (a slow hardware
 * adapter). Every choice says why, and every other backend stays one pick away. Segmind needs an API key.
 */
import type { DeviceInfo } from '../contract/job.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'segmind';

export const BACKEND_CHOICES: readonly { value: BackendChoice; label: string }[] = [
  { value: 'auto', label: 'Automatic' },
  { value: 'webgpu', label: 'This device: GPU (WebGPU)' },
  { value: 'wasm', label: 'This device: CPU (slow)' },
  { value: 'segmind', label: 'Segmind API (cloud)' },
];

export interface ProbeState {
  status: 'pending' | 'done' | 'failed';
  info?: DeviceInfo;
  /** why probing failed */
  error?: string;
}

/**
 * The probe once a model is loaded: the loaded device when nothing was probed yet; otherwise the probe, with what
 * the load found out about the GPU (which attention is right on it).
 */
export function probeAfterLoad(probe: ProbeState, loaded: DeviceInfo): ProbeState {
  if (!probe.info) return { status: 'done', info: loaded };
  if (loaded.attention && probe.info.device === loaded.device) return { ...probe, info: { ...probe.info, attention: loaded.attention } };
  return probe;
}

export interface BackendFacts {
  choice: BackendChoice;
  probe: ProbeState;
  /** the selected local model, if any */
  model?: { label: string; requiredFeatures: readonly string[] };
  hasApiKey: boolean;
  /** seconds per TFLOP this device measured for the selected model on its GPU and on its CPU (finished runs) */
  measured?: { gpu?: number; cpu?: number };
}

export interface BackendDecision {
  backend: 'local' | 'segmind';
  /** the local device */
  device?: 'webgpu' | 'wasm';
  /** true when a generation can start (apart from the image and settings) */
  ready: boolean;
  /** short name of what will run, e.g. "This device's GPU (WebGPU)" */
  label: string;
  /** one or two sentences: why this backend, and what is missing when not ready */
  reason: string;
  slow?: boolean;
}

function hasAdapter(probe: ProbeState): boolean {
  return probe.status === 'done' && probe.info?.device === 'webgpu';
}

function missingFeatures(facts: BackendFacts): string[] {
  const have = facts.probe.info?.features ?? [];
  return (facts.model?.requiredFeatures ?? []).filter((f) => !have.includes(f));
}

function noGpuReason(probe: ProbeState): string {
  if (probe.status === 'pending') return 'This device is still being checked for WebGPU.';
  if (probe.status === 'failed') return `WebGPU could not be checked (${probe.error ?? 'unknown error'}).`;
  const why = probe.info?.reason?.replace(/; running on the CPU \(wasm\), which is slow$/, '') ?? 'no WebGPU adapter';
  return `No usable GPU: ${why}.`;
}

const SEGMIND_LABEL = 'Segmind API (cloud)';
const KEY_NEEDED = 'Enter your Segmind API key below to use it.';

export function decideBackend(facts: BackendFacts): BackendDecision {
  const { choice, probe, model } = facts;
  const segmind = (reason: string): BackendDecision => ({
    backend: 'segmind',
    ready: facts.hasApiKey,
    label: SEGMIND_LABEL,
    reason: facts.hasApiKey ? `${reason} Your picture and settings are sent to Segmind with your API key (billed per video).` : `${reason} ${KEY_NEEDED}`,
  });

  switch (choice) {
    case 'segmind':
      return segmind('You picked the Segmind API.');
    case 'wasm':
      return {
        backend: 'local', device: 'wasm', slow: true, ready: model !== undefined,
        label: "This device's CPU (slow)",
        reason: model
          ? `You picked the CPU: ${model.label} runs in WebAssembly, which can be 10–100× slower than a GPU.`
          : 'You picked the CPU, but no model is available yet: add one under Models.',
      };
    case 'webgpu': {
      const label = "This device's GPU (WebGPU)";
      if (probe.status === 'pending') return { backend: 'local', device: 'webgpu', ready: false, label, reason: 'Checking this device for WebGPU…' };
      if (!hasAdapter(probe)) return { backend: 'local', device: 'webgpu', ready: false, label, reason: `${noGpuReason(probe)} Pick the CPU (slow) or Segmind instead.` };
      if (!model) return { backend: 'local', device: 'webgpu', ready: false, label, reason: 'No model is available yet: add one under Models.' };
      const missing = missingFeatures(facts);
      if (missing.length) {
        return { backend: 'local', device: 'webgpu', ready: false, label,
          reason: `${model.label} needs the GPU feature ${missing.join(', ')}, which this GPU lacks. Pick an fp32 or q4f32 model.` };
      }
      return { backend: 'local', device: 'webgpu', ready: true, label, reason: `You picked the GPU: ${model.label} on ${adapterName(probe)}.` };
    }
    case 'auto':
    default: {
      if (probe.status === 'pending') {
        return { backend: 'local', device: 'webgpu', ready: false, label: 'Checking this device…', reason: 'Looking for a WebGPU adapter; this takes a moment.' };
      }
      if (!model) return segmind('No local model is available yet (add one under Models), so Segmind is used.');
      const cpu = (reason: string): BackendDecision => ({ backend: 'local', device: 'wasm', ready: true, label: "This device's CPU", reason });
      const elsewhere = 'Pick Segmind (cloud) to have it made there with your key.';
      if (!hasAdapter(probe)) return cpu(`${noGpuReason(probe)} ${model.label} runs on this device's CPU instead (nothing is uploaded). ${elsewhere}`);
      if (probe.info?.adapter?.isFallbackAdapter) {
        return cpu(
          `This browser's WebGPU is a software emulation (${plainAdapterName(probe)}), slower than the CPU here, so ${model.label} runs on the CPU ` +
            `(nothing is uploaded). Pick the GPU (WebGPU) to use it anyway, or Segmind.`,
        );
      }
      const missing = missingFeatures(facts);
      if (missing.length) {
        return segmind(`${model.label} needs the GPU feature ${missing.join(', ')}, which this GPU lacks, so Segmind is used.`);
      }
      const { gpu, cpu: cpuSpeed } = facts.measured ?? {};
      if (gpu !== undefined && cpuSpeed !== undefined && cpuSpeed < gpu) {
        return cpu(
          `Measured on this device: the CPU ran ${model.label} faster than the GPU (${plainAdapterName(probe)}): ${formatSpeed(cpuSpeed)} against ` +
            `${formatSpeed(gpu)} per TFLOP, so it runs on the CPU (nothing is uploaded). Pick the GPU (WebGPU) to use it anyway, or Segmind.`,
        );
      }
      return {
        backend: 'local', device: 'webgpu', ready: true, label: "This device's GPU (WebGPU)",
        reason: `WebGPU is available (${adapterName(probe)}) and ${model.label} is ready, so the video is made on this device; nothing is uploaded.`,
      };
    }
  }
}

function plainAdapterName(probe: ProbeState): string {
  const a = probe.info?.adapter;
  return (a && ([a.vendor, a.architecture].filter(Boolean).join(' ') || a.description)) || 'the GPU';
}

function adapterName(probe: ProbeState): string {
  const name = plainAdapterName(probe);
  return probe.info?.adapter?.isFallbackAdapter ? `${name}, a software fallback adapter (slow)` : name;
}

function formatSpeed(secondsPerTflop: number): string {
  return secondsPerTflop >= 10 ? `${Math.round(secondsPerTflop)} s` : `${secondsPerTflop.toPrecision(2)} s`;
}
