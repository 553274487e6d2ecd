/**
 * The memory plan in the engine (issue 14): a request the plan says does not fit is refused before any session is
 * created, with the plan's numbers; the next job runs; a guidance batch of 2 over the budget runs its halves apart.
 * Fixture A's converted model on onnxruntime-node (CPU), behind a host that counts session creations.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessEngine, type ModelHost } from '../../src/engine/in-process.ts';
import { readModelManifest } from '../../src/engine/node-host.ts';
import { NodeRuntime } from '../../src/runtime/node.ts';
import { MemoryPlanner } from '../../src/plan/request-plan.ts';
import { planModelFromManifest } from '../../src/plan/model.ts';
import { EngineError, type DeviceInfo } from '../../src/contract/job.ts';
import type { ModelRuntime } from '../../src/runtime/types.ts';
import { fixtureModel } from '../support/models.ts';

const pixels = { width: 64, height: 64, rgba: new Uint8ClampedArray(64 * 64 * 4).fill(120) };
const small = { frames: 2, steps: 1, width: 64, height: 64, min_guidance: 1, max_guidance: 2.5, decode_chunk: 2, seed: 1 };

function countingHost(dir: string, device: DeviceInfo) {
  const opened: string[] = [];
  const host: ModelHost = {
    probe: async () => device,
    open: async () => {
      const manifest = readModelManifest(dir);
      const inner = new NodeRuntime(dir, manifest, { device: 'cpu' });
      const runtime: ModelRuntime = { device: inner.device, stats: inner.stats, open: (g) => (opened.push(g), inner.open(g)) };
      const planner = async () => new MemoryPlanner(planModelFromManifest(manifest, (p) => new Uint8Array(readFileSync(join(dir, p)))));
      return { manifest, runtime, planner, dispose: async () => {} };
    },
  };
  return { host, opened };
}

describe('the memory plan before a job', () => {
  it('refuses a request that does not fit before any session is created, naming the need and the limit; the next job runs', async () => {
    const { dir } = fixtureModel('fp32');
    // the CPU (wasm) path: 4 GB of wasm memory is the limit
    const { host, opened } = countingHost(dir, { device: 'wasm', reason: 'test', features: [], crossOriginIsolated: false });
    const engine = new InProcessEngine(host);
    await engine.load({ source: { kind: 'dir', path: dir }, device: 'wasm' });
    // the demo-size model at 1024×576: its UNet's spatial attention alone is tens of GB
    const err = await engine.generate({ image: { pixels }, request: { ...small, frames: 3, width: 1024, height: 576 } as never }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('too-large');
    expect((err as EngineError).message).toMatch(/^3 frames at 1024×576 need about [\d.]+ [GT]B of memory \(wasm\) and a [\d.]+ [GT]B buffer; the CPU \(wasm\) allows 3\.87 GB of 4\.29 GB \(10% kept free\)\. Neither fewer frames nor a smaller preset size fits the CPU either: try a smaller custom size\.$/);
    expect(opened).toEqual([]);
    const ok = await engine.generate({ image: { pixels }, request: small as never });
    expect(ok.frameCount).toBe(2);
    expect(opened.length).toBeGreaterThan(0);
  }, 120_000);

  it('WebGPU: the adapter\'s buffer limit and a stated GPU memory are what the plan checks', async () => {
    const { dir } = fixtureModel('fp32');
    const gpu: DeviceInfo = { device: 'webgpu', reason: 'test', features: [], crossOriginIsolated: false, maxBufferSize: 1024 ** 3, maxStorageBufferBindingSize: 1024 ** 3 };
    const { host, opened } = countingHost(dir, gpu);
    const engine = new InProcessEngine(host);
    await engine.load({ source: { kind: 'dir', path: dir }, device: 'webgpu' });
    const tight = await engine.generate({ image: { pixels }, request: small as never, memoryBudget: { gpuBytes: 1e6 } }).catch((e) => e);
    expect((tight as EngineError).code).toBe('too-large');
    expect((tight as EngineError).message).toMatch(/^2 frames at 64×64 need about [\d.]+ MB of GPU memory and a [\d.]+ MB buffer; this GPU allows 900\.0 kB of 1\.0 MB \(10% kept free\) and buffers up to 1\.07 GB/);
    const buffer = await engine.generate({ image: { pixels }, request: small as never, memoryBudget: { maxBufferBytes: 1000 } }).catch((e) => e);
    expect((buffer as EngineError).message).toContain('buffers up to 1.0 kB');
    expect(opened).toEqual([]);
  }, 120_000);
});
