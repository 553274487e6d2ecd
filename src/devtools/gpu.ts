/**
 * Minimal WebGPU typing + adapter report (TypeScript 5.9's DOM/WebWorker libs have no WebGPU types and
 * @webgpu/types is not a dependency). Lib-neutral: used by the page and the module worker.
 */
import type { AdapterReport } from './api.ts';

export interface MiniGpuDevice {
  destroy(): void;
  readonly lost: Promise<{ reason: string; message: string }>;
}

export interface MiniGpuAdapter {
  readonly info?: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  readonly features: { has(name: string): boolean; forEach(cb: (v: string) => void): void };
  readonly limits: { readonly maxBufferSize: number; readonly maxStorageBufferBindingSize: number };
  requestDevice(desc?: { requiredFeatures?: string[]; requiredLimits?: Record<string, number> }): Promise<MiniGpuDevice>;
}

export interface MiniGpu {
  requestAdapter(opts?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<MiniGpuAdapter | null>;
}

export function getGpu(): MiniGpu | undefined {
  return (globalThis as unknown as { navigator?: { gpu?: MiniGpu } }).navigator?.gpu;
}

export async function requestAdapter(): Promise<MiniGpuAdapter | null> {
  const gpu = getGpu();
  if (!gpu) return null;
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

export function describeAdapter(adapter: MiniGpuAdapter): AdapterReport {
  const features: string[] = [];
  adapter.features.forEach((f) => features.push(f));
  return {
    ok: true,
    vendor: adapter.info?.vendor,
    architecture: adapter.info?.architecture,
    device: adapter.info?.device,
    description: adapter.info?.description,
    isFallbackAdapter: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter,
    features: features.sort(),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

export async function adapterReport(): Promise<AdapterReport> {
  try {
    if (!getGpu()) return { ok: false, error: 'navigator.gpu is undefined' };
    const adapter = await requestAdapter();
    if (!adapter) return { ok: false, error: 'requestAdapter() returned null' };
    return describeAdapter(adapter);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Device as the app will request it: shader-f16 when present, the adapter's max buffer limits. */
export async function requestAppDevice(adapter: MiniGpuAdapter): Promise<MiniGpuDevice> {
  return adapter.requestDevice({
    requiredFeatures: adapter.features.has('shader-f16') ? ['shader-f16'] : [],
    requiredLimits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
  });
}
