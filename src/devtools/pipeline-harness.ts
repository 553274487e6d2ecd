/**
 * Drives the real generation worker (workers/generate.worker.ts) through the typed protocol client, for the
 * e2e parity, seed, cancel and validation tests. Jobs run in order on one worker, as the app runs them.
 */
import { WorkerClient, WorkerCallError } from '../protocol/client.ts';
import type { Progress } from '../pipeline/pipeline.ts';
import type { PipelineJob, PipelineJobReport, PipelineRunRequest, PipelineRunReport } from './api.ts';

function startWorker(): WorkerClient {
  return new WorkerClient(() => new Worker(new URL('../../workers/generate.worker.ts', import.meta.url), { type: 'module', name: 'svd-generate' }));
}

async function runJob(client: WorkerClient, job: PipelineJob): Promise<PipelineJobReport> {
  const progress: Progress[] = [];
  const floatFrames: number[] = [];
  let frameBatches = 0;
  let frameCount = 0;
  let rgbaChecksum = 0;
  const t0 = performance.now();
  const cancel = new AbortController();
  const sent = client.call(
    'generate',
    {
      image: { width: job.image.width, height: job.image.height, rgba: Uint8ClampedArray.from(job.image.rgba) },
      request: job.request as never,
      latents: job.latents ? Float32Array.from(job.latents) : undefined,
      floatFrames: job.floatFrames,
      graphCapture: job.graphCapture,
    },
    {
      onProgress: (p) => {
        progress.push(p);
        if (job.cancelAtDenoiseStep !== undefined && p.stage === 'denoise' && p.step === job.cancelAtDenoiseStep) cancel.abort();
      },
      onFrames: (batch) => {
        frameBatches++;
        frameCount += batch.frames.length;
        for (const f of batch.frames) for (let i = 0; i < f.length; i += 97) rgbaChecksum = (rgbaChecksum * 31 + f[i]) % 1_000_000_007;
        if (batch.float) floatFrames.push(...batch.float);
      },
      signal: cancel.signal,
      // SwiftShader WebGPU is slow: bound the whole job, and the silence between two messages
      timeoutMs: 45 * 60_000,
      idleTimeoutMs: 15 * 60_000,
    },
  );
  try {
    const final = await sent.done;
    const ms = performance.now() - t0;
    if (final.kind === 'cancelled') return { outcome: 'cancelled', progress, frameBatches, frameCount, ms };
    return { outcome: 'result', result: final.payload, progress, frameBatches, frameCount, rgbaChecksum, floatFrames: job.floatFrames ? floatFrames : undefined, ms };
  } catch (e) {
    const err = e as WorkerCallError;
    return { outcome: 'error', error: { code: err.code, message: err.message }, progress, frameBatches, frameCount, ms: performance.now() - t0 };
  }
}

export async function runPipeline(req: PipelineRunRequest): Promise<PipelineRunReport> {
  const client = startWorker();
  try {
    const loaded = await client.call('load', { source: { kind: 'url', baseUrl: new URL(req.modelBaseUrl, location.href).href }, device: req.device }, { timeoutMs: 300_000 }).done;
    const jobs: PipelineJobReport[] = [];
    for (const job of req.jobs) jobs.push(await runJob(client, job));
    return { device: loaded.payload.device.device, reason: loaded.payload.device.reason, jobs };
  } finally {
    client.terminate();
  }
}
