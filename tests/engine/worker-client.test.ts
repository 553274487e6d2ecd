import { describe, expect, it } from 'vitest';
import { WorkerClient } from '../../src/engine/worker-client.ts';
import { EngineError } from '../../src/contract/job.ts';
import { FakeWorker, tick } from '../support/fakes.ts';

const device = { device: 'webgpu' as const, reason: 'test', features: [], crossOriginIsolated: true };

describe('WorkerClient', () => {
  it('routes answers by id and streams progress/frames to the right call', async () => {
    const w = new FakeWorker((m, fw) => {
      if (m.kind === 'probe') fw.reply({ kind: 'probed', id: m.id, payload: device });
      if (m.kind === 'generate') {
        fw.reply({ kind: 'progress', id: m.id, payload: { stage: 'denoise', step: 1, total: 2 } });
        fw.reply({ kind: 'frames', id: m.id, payload: { start: 0, width: 1, height: 1, frames: [new Uint8ClampedArray(4)] } });
        fw.reply({ kind: 'progress', id: 999, payload: { stage: 'denoise', step: 9, total: 9 } }); // someone else's id: ignored
        fw.reply({ kind: 'result', id: m.id, payload: { backend: 'local', seed: 7, width: 1, height: 1, fps: 7, frameCount: 1, local: { device: 'webgpu', timings: { load: 0, encode: 0, denoise: 0, decode: 0, ortRun: 0, ortCall: 0, ortCallLoop: 0, ortCreate: 0, total: 0 }, readbacks: { denoise: 1 }, loop: 'device', graphCapture: { on: true }, work: { sampler: 'euler', steps: 2, unetCalls: 2, batch: 2 } } } });
      }
    });
    const client = new WorkerClient(() => w);
    const probed = await client.call('probe', {}).done;
    expect(probed.payload.device).toBe('webgpu');
    const progress: number[] = [];
    let frames = 0;
    const g = client.call('generate', { image: { width: 1, height: 1, rgba: new Uint8ClampedArray(4) }, request: {} as never }, {
      onProgress: (p) => progress.push(p.step), onFrames: (f) => (frames += f.frames.length),
    });
    const result = await g.done;
    expect(result.kind).toBe('result');
    expect(progress).toEqual([1]);
    expect(frames).toBe(1);
    expect(client.pendingCount).toBe(0);
  });

  it('rejects with the worker error code and message', async () => {
    const w = new FakeWorker((m, fw) => fw.reply({ kind: 'error', id: m.id, payload: { code: 'model', message: 'no manifest' } }));
    const client = new WorkerClient(() => w);
    await expect(client.call('load', { source: { kind: 'url', baseUrl: 'http://x/' }, device: 'auto' }).done).rejects.toMatchObject({ code: 'model', message: 'no manifest' });
  });

  it('times out a silent worker and stops it; the next call gets a fresh worker', async () => {
    const workers: FakeWorker[] = [];
    const client = new WorkerClient(() => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    });
    await expect(client.call('probe', {}, { timeoutMs: 20 }).done).rejects.toMatchObject({ code: 'timeout' });
    expect(workers[0].terminated).toBe(true);
    expect(client.alive).toBe(false);
    void client.call('probe', {}, { timeoutMs: 10 }).done.catch(() => undefined);
    expect(workers.length).toBe(2);
  });

  it('idle timeout resets on every message', async () => {
    const w = new FakeWorker((m, fw) => {
      if (m.kind !== 'generate') return;
      let n = 0;
      const t = setInterval(() => {
        n++;
        if (n < 5) fw.reply({ kind: 'progress', id: m.id, payload: { stage: 'denoise', step: n, total: 5 } });
        else {
          clearInterval(t);
          fw.reply({ kind: 'cancelled', id: m.id, payload: {} });
        }
      }, 15);
    });
    const client = new WorkerClient(() => w);
    const answer = await client.call('generate', { image: { width: 1, height: 1, rgba: new Uint8ClampedArray(4) }, request: {} as never }, { idleTimeoutMs: 40 }).done;
    expect(answer.kind).toBe('cancelled');
  });

  it('cancelling a generate posts cancel {jobId} and resolves with cancelled', async () => {
    const w = new FakeWorker((m, fw) => {
      if (m.kind === 'cancel') fw.reply({ kind: 'cancelled', id: m.payload.callId, payload: {} });
    });
    const client = new WorkerClient(() => w);
    const ac = new AbortController();
    const g = client.call('generate', { image: { width: 1, height: 1, rgba: new Uint8ClampedArray(4) }, request: {} as never }, { signal: ac.signal });
    ac.abort();
    expect((await g.done).kind).toBe('cancelled');
    expect(w.sent.map((m) => m.kind)).toEqual(['generate', 'cancel']);
    expect(w.sent[1]).toMatchObject({ payload: { callId: g.id } });
    expect(w.terminated).toBe(false);
  });

  it('a generate that ignores cancel is stopped after the grace period', async () => {
    const w = new FakeWorker();
    const client = new WorkerClient(() => w);
    const ac = new AbortController();
    const g = client.call('generate', { image: { width: 1, height: 1, rgba: new Uint8ClampedArray(4) }, request: {} as never }, { signal: ac.signal, cancelGraceMs: 20 });
    ac.abort();
    await expect(g.done).rejects.toBeInstanceOf(EngineError);
    expect(w.terminated).toBe(true);
  });

  it('cancelling a load terminates the worker (it cannot stop inside)', async () => {
    const w = new FakeWorker();
    const client = new WorkerClient(() => w);
    const ac = new AbortController();
    const l = client.call('load', { source: { kind: 'url', baseUrl: 'http://x/' }, device: 'webgpu' }, { signal: ac.signal });
    ac.abort();
    await expect(l.done).rejects.toMatchObject({ code: 'aborted' });
    expect(w.terminated).toBe(true);
  });

  it('a crash rejects every pending call in plain words', async () => {
    const w = new FakeWorker();
    const client = new WorkerClient(() => w);
    const a = client.call('probe', {});
    const b = client.call('load', { source: { kind: 'opfs', modelId: 'm' }, device: 'auto' });
    await tick();
    w.crash('out of memory');
    await expect(a.done).rejects.toMatchObject({ code: 'crashed' });
    await expect(b.done).rejects.toThrow(/crashed: out of memory/);
  });
});
