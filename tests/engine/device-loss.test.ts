/**
 * A lost GPU device mid-job (issue 14): the job fails at once with a 'device' error in words, even when the runtime
 * never answers again (a lost device may leave queued work unfinished); the worker engine then starts a fresh worker
 * for the next job. Fixture A's model on onnxruntime-node (CPU) behind a host whose "device" the test can lose.
 */
import { describe, expect, it } from 'vitest';
import { InProcessEngine, type ModelHost } from '../../src/engine/in-process.ts';
import { readModelManifest } from '../../src/engine/node-host.ts';
import { NodeRuntime } from '../../src/runtime/node.ts';
import { EngineError, type DeviceInfo, type Progress } from '../../src/contract/job.ts';
import type { ModelRuntime } from '../../src/runtime/types.ts';
import { fixtureModel } from '../support/models.ts';
import { FakeWorker } from '../support/fakes.ts';
import { WorkerEngine } from '../../src/engine/worker-engine.ts';

const pixels = { width: 64, height: 64, rgba: new Uint8ClampedArray(64 * 64 * 4).fill(120) };
const request = { frames: 2, steps: 3, width: 64, height: 64, min_guidance: 1, max_guidance: 2.5, decode_chunk: 2, seed: 1 };
const gpu: DeviceInfo = { device: 'webgpu', reason: 'test', features: [], crossOriginIsolated: false };

/** A host whose device is lost by loseDevice(); after that every session run hangs, as on a dead GPU. */
function losableHost(dir: string) {
  const host: ModelHost = {
    probe: async () => gpu,
    open: async () => {
      const manifest = readModelManifest(dir);
      const inner = new NodeRuntime(dir, manifest, { device: 'cpu' });
      let lose!: (reason: string) => void;
      const deviceLost = new Promise<string>((resolve) => (lose = resolve));
      let lost = false;
      const runtime: ModelRuntime = {
        device: inner.device,
        stats: inner.stats,
        open: async (g) => {
          const session = await inner.open(g);
          return { run: (feeds) => (lost ? new Promise(() => undefined) : session.run(feeds)), release: () => session.release() };
        },
      };
      return { manifest, runtime, deviceLost, loseDevice: () => ((lost = true), lose('destroyed: the test destroyed the device')), dispose: async () => {} };
    },
  };
  return { host };
}

describe('a GPU device lost during a job', () => {
  it('fails the job at once with a device error in words, without waiting for the dead device', async () => {
    const { dir } = fixtureModel('fp32');
    const { host } = losableHost(dir);
    const engine = new InProcessEngine(host);
    await engine.load({ source: { kind: 'dir', path: dir }, device: 'webgpu' });
    const progress: Progress[] = [];
    const t0 = performance.now();
    const err = await engine.generate({ image: { pixels }, request: request as never, loseDeviceAtDenoiseStep: 1 }, { onProgress: (p) => progress.push(p) }).catch((e) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('device');
    expect((err as EngineError).message).toBe('The GPU stopped working during this job (destroyed: the test destroyed the device), so the job was stopped. The next job starts on a fresh GPU device; your model and settings are kept.');
    // it stopped at step 1 of 3: the remaining steps never ran (their runs would hang)
    expect(progress.filter((p) => p.stage === 'denoise').map((p) => p.step)).toEqual([1]);
    expect(progress.some((p) => p.stage === 'decode')).toBe(false);
    expect(ms).toBeLessThan(60_000);
  }, 120_000);

  it('a job on a device that is still there is not held up by the loss watch, and a cancel stays a cancel', async () => {
    const { dir } = fixtureModel('fp32');
    const { host } = losableHost(dir);
    const engine = new InProcessEngine(host);
    await engine.load({ source: { kind: 'dir', path: dir }, device: 'webgpu' });
    const ok = await engine.generate({ image: { pixels }, request: request as never });
    expect(ok.frameCount).toBe(2);
    const cancel = new AbortController();
    const cancelled = await engine
      .generate({ image: { pixels }, request: request as never }, { signal: cancel.signal, onProgress: (p) => p.stage === 'denoise' && p.step === 1 && cancel.abort() })
      .catch((e) => e);
    expect((cancelled as EngineError).code).toBe('aborted');
  }, 120_000);
});

describe('the worker engine after a device error', () => {
  it('stops that worker; the next job opens the model again in a fresh one and runs', async () => {
    const workers: FakeWorker[] = [];
    const loads: number[] = [];
    const engine = new WorkerEngine(() => {
      const index = workers.length;
      const w = new FakeWorker((m, fw) => {
        if (m.kind === 'load') {
          loads.push(index);
          fw.reply({ kind: 'loaded', id: m.id, payload: { backend: 'local', manifest: {} as never, device: gpu } });
        }
        if (m.kind === 'generate') {
          if (index === 0) fw.reply({ kind: 'error', id: m.id, payload: { code: 'device', message: 'The GPU stopped working during this job (destroyed)…' } });
          else fw.reply({ kind: 'result', id: m.id, payload: { backend: 'local', seed: 1, width: 1, height: 1, fps: 7, frameCount: 1 } });
        }
      });
      workers.push(w);
      return w;
    });
    const load = { source: { kind: 'url' as const, baseUrl: 'http://x/' }, device: 'webgpu' as const };
    const job = { image: { pixels: { width: 1, height: 1, rgba: new Uint8ClampedArray(4) } }, request: {} as never };
    await engine.load(load);
    await expect(engine.generate(job)).rejects.toMatchObject({ code: 'device' });
    expect(workers[0].terminated).toBe(true);
    // as the app does before every job
    await engine.load(load);
    const result = await engine.generate(job);
    expect(result.frameCount).toBe(1);
    expect(workers.length).toBe(2);
    expect(loads).toEqual([0, 1]);
  });
});
