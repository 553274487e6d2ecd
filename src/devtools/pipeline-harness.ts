/**
 * Drives the real generation worker (workers/generate.worker.ts) through the app's WorkerEngine, for the e2e
 * parity, seed, cancel and validation tests. Jobs run in order on one worker, as the app runs them.
 */
import { EngineError, type Progress } from '../contract/job.ts';
import { WorkerEngine } from '../engine/worker-engine.ts';
import type { PipelineJob, PipelineJobReport, PipelineRunRequest, PipelineRunReport } from './api.ts';

function startEngine(): WorkerEngine {
  // SwiftShader WebGPU is slow: bound the silence between two messages generously
  return new WorkerEngine(() => new Worker(new URL('../../workers/generate.worker.ts', import.meta.url), { type: 'module', name: 'svd-generate' }), {
    loadTimeoutMs: 300_000, generateIdleTimeoutMs: 15 * 60_000,
  });
}

async function runJob(engine: WorkerEngine, job: PipelineJob): Promise<PipelineJobReport> {
  const progress: Progress[] = [];
  const floatFrames: number[] = [];
  let frameBatches = 0;
  let frameCount = 0;
  let rgbaChecksum = 0;
  const t0 = performance.now();
  const cancel = new AbortController();
  try {
    const result = await engine.generate(
      {
        image: { pixels: { width: job.image.width, height: job.image.height, rgba: Uint8ClampedArray.from(job.image.rgba) } },
        request: job.request as never,
        latents: job.latents ? Float32Array.from(job.latents) : undefined,
        floatFrames: job.floatFrames,
        graphCapture: job.graphCapture,
        forceGuidanceBatch: job.forceGuidanceBatch,
        memoryBudget: job.memoryBudget,
        loseDeviceAtDenoiseStep: job.loseDeviceAtDenoiseStep,
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
        timeoutMs: 45 * 60_000,
      },
    );
    const ms = performance.now() - t0;
    const { seed, width, height, fps, frameCount: frames } = result;
    return {
      outcome: 'result',
      result: { seed: seed!, width: width!, height: height!, fps, frameCount: frames, ...result.local! },
      progress, frameBatches, frameCount, rgbaChecksum, floatFrames: job.floatFrames ? floatFrames : undefined, ms,
    };
  } catch (e) {
    const ms = performance.now() - t0;
    if (e instanceof EngineError && e.code === 'aborted') return { outcome: 'cancelled', progress, frameBatches, frameCount, ms };
    const err = e as EngineError;
    return { outcome: 'error', error: { code: err.code, message: err.message }, progress, frameBatches, frameCount, ms };
  }
}

export async function runPipeline(req: PipelineRunRequest): Promise<PipelineRunReport> {
  const engine = startEngine();
  try {
    const request = { source: req.modelId ? { kind: 'opfs' as const, modelId: req.modelId } : { kind: 'url' as const, baseUrl: new URL(req.modelBaseUrl, location.href).href }, device: req.device };
    const loaded = await engine.load(request);
    if (loaded.backend !== 'local') throw new Error('the worker engine loaded a remote model');
    const jobs: PipelineJobReport[] = [];
    for (const job of req.jobs) {
      // as the app does before every job: after a failure that stopped the worker, this opens the model again
      await engine.load(request);
      jobs.push(await runJob(engine, job));
    }
    return { device: loaded.device.device, reason: loaded.device.reason, ...(loaded.device.attention ? { attention: loaded.device.attention } : {}), jobs };
  } finally {
    await engine.release();
  }
}
