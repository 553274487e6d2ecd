/**
 * The engine that runs the pipeline in this thread, over a `ModelHost` that knows the platform: the browser's
 * (WebGPU or wasm, files from OPFS or HTTP; ./web-host.ts, used inside the generation worker) or Node's
 * (onnxruntime-node, files from a folder; ./node-host.ts, used by the CLI). One job at a time.
 */
import { contextForModel, formatRequestErrors, validateRequest } from '../contract/request.ts';
import type { ModelManifest } from '../contract/manifest.ts';
import {
  EngineError, sourceKey,
  type DeviceInfo, type DevicePreference, type EngineErrorCode, type GenerateJob, type LoadedModel, type LoadRequest, type ModelSource, type VideoResult,
} from '../contract/job.ts';
import { CancelledError, generateFrames, isOutOfMemory, PipelineInputError } from '../pipeline/pipeline.ts';
import { FramingError, planFraming } from '../pipeline/image.ts';
import type { ModelRuntime } from '../runtime/types.ts';
import type { GenerateOptions, LoadOptions, LocalEngine } from './engine.ts';
import type { MemoryPlanner } from '../plan/request-plan.ts';
import { checkMemory } from './memory-check.ts';

/** A model opened on a device. */
export interface OpenModel {
  manifest: ModelManifest;
  runtime: ModelRuntime;
  /** the model's memory planner (the browser's host: every request is checked against the device before it runs) */
  planner?: () => Promise<MemoryPlanner>;
  /** resolves, with the browser's reason, when the GPU device is lost (a driver reset, memory pressure) */
  deviceLost?: Promise<string>;
  /** destroys the GPU device, as a driver reset would (GenerateJob.loseDeviceAtDenoiseStep: tests) */
  loseDevice?: () => void;
  /** how fused attention runs on this device (the attention self-test's verdict; absent: no fused attention, or the CPU) */
  attention?: DeviceInfo['attention'];
  dispose(): Promise<void>;
}

/** What the platform provides: finding the device, and opening a model's sessions on it. */
export interface ModelHost {
  probe(preference: DevicePreference): Promise<DeviceInfo>;
  /** throws an EngineError ('model' or 'device') naming what is wrong */
  open(source: ModelSource, device: DeviceInfo): Promise<OpenModel>;
}

export class InProcessEngine implements LocalEngine {
  readonly backend = 'local' as const;
  private model: (OpenModel & { key: string; device: DeviceInfo }) | undefined;
  private running = false;

  constructor(private readonly host: ModelHost) {}

  probe(): Promise<DeviceInfo> {
    return this.host.probe('auto');
  }

  async load(request: LoadRequest | undefined, _options?: LoadOptions): Promise<LoadedModel> {
    if (!request) throw new EngineError('model', 'no model was given: pick one under Models');
    if (this.running) throw new EngineError('busy', 'a generation is running; cancel it before loading another model');
    const key = `${sourceKey(request.source)}|${request.device}`;
    if (this.model?.key !== key) {
      await this.release();
      const device = await guard(() => this.host.probe(request.device));
      const open = await guard(() => this.host.open(request.source, device));
      this.model = { ...open, key, device: open.attention ? { ...device, attention: open.attention } : device };
    }
    return { backend: 'local', manifest: this.model.manifest, device: this.model.device };
  }

  async generate(job: GenerateJob, options: GenerateOptions = {}): Promise<VideoResult> {
    if (!this.model) throw new EngineError('model', 'no model is loaded; load one first');
    if (this.running) throw new EngineError('busy', 'a job is still running; cancel it or wait for it to finish');
    const { manifest, runtime, device } = this.model;
    const checked = validateRequest(job.request, contextForModel(manifest.pipeline, manifest.requestDefaults));
    if (!checked.ok) throw new EngineError('invalid-request', formatRequestErrors(checked.errors));
    this.running = true;
    try {
      // before any session is created: does it fit this device, and must the guidance halves run apart?
      const memory = this.model.planner
        ? await guard(async () => checkMemory(await this.model!.planner!(), planFraming(job.image.pixels, checked.request, manifest), job, checked.request, device))
        : undefined;
      // sessions as the plan says: chunked attention where the fused kernel failed the self-test, the UNet in parts
      runtime.useSessionPlan?.({ attention: memory?.attentionChunking, parts: memory?.sessionParts });
      const started = now();
      const clock = runtime.stats;
      await clock.settled();
      const before = { busy: clock.busyMs, call: clock.callMs, create: clock.createMs };
      const result = await guard(() => this.untilDeviceLost(this.model!, options.signal, (signal) => generateFrames(runtime, manifest, job.image.pixels, checked.request, {
        latents: job.latents,
        keepFloatFrames: job.floatFrames,
        graphCapture: job.graphCapture,
        splitGuidanceBatch: job.splitGuidanceBatch || memory?.splitGuidance,
        expectedStepSeconds: job.expectedStepSeconds,
        forceGuidanceBatch: job.forceGuidanceBatch,
        signal,
        onProgress: (p) => {
          if (p.stage === 'denoise' && p.step === job.loseDeviceAtDenoiseStep) this.model?.loseDevice?.();
          options.onProgress?.(p);
        },
        onFrames: options.onFrames,
      })));
      await clock.settled();
      return {
        backend: 'local',
        seed: result.seed,
        width: result.width,
        height: result.height,
        fps: result.fps,
        frameCount: result.frames.length,
        local: {
          device: device.device,
          timings: {
            ...result.timings,
            ortRun: clock.busyMs - before.busy,
            ortCall: clock.callMs - before.call,
            ortCallLoop: result.ortCall.denoise,
            ortCreate: clock.createMs - before.create,
            total: now() - started,
          },
          readbacks: result.readbacks,
          loop: result.loop,
          graphCapture: result.graphCapture,
          ...(memory?.sessionParts ? { sessionParts: memory.sessionParts } : {}),
          work: result.work,
        },
      };
    } finally {
      this.running = false;
    }
  }

  /**
   * Runs the job, but answers as soon as the GPU device is lost: a lost device may never finish the work queued on
   * it, so the job is stopped (its signal aborted) and fails with a 'device' error, which makes the worker engine
   * start a fresh worker — and so a fresh device — for the next job. The model's files are not touched.
   */
  private async untilDeviceLost<T>(model: OpenModel, outer: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!model.deviceLost) return run(outer ?? new AbortController().signal);
    const stop = new AbortController();
    const onOuter = () => stop.abort();
    outer?.addEventListener('abort', onOuter, { once: true });
    let lostReason: string | undefined;
    const lost = model.deviceLost.then((reason) => {
      lostReason = reason;
      stop.abort();
      return Promise.reject(deviceLostError(reason));
    });
    try {
      return await Promise.race([run(stop.signal), lost]);
    } catch (e) {
      // the runtime's own error may come first; if the device is being lost, say that instead (not for a cancel)
      if (lostReason === undefined && !(e instanceof CancelledError) && !outer?.aborted) await Promise.race([model.deviceLost, new Promise((r) => setTimeout(r, 1000))]);
      if (lostReason !== undefined) throw deviceLostError(lostReason);
      throw e;
    } finally {
      // a loss after the job settled rejects `lost` harmlessly: Promise.race has already subscribed to it
      outer?.removeEventListener('abort', onOuter);
    }
  }

  async release(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    await model?.dispose();
  }
}

function deviceLostError(reason: string): EngineError {
  return new EngineError('device', `The GPU stopped working during this job (${reason}), so the job was stopped. The next job starts on a fresh GPU device; your model and settings are kept.`);
}

/** Runs `fn`, turning what the pipeline and the runtimes throw into an EngineError with its code. */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toEngineError(e);
  }
}

export function toEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof CancelledError) return new EngineError('aborted', e.message);
  const message = (e as Error)?.message ?? String(e);
  const code = (e as { code?: string }).code;
  const known: readonly EngineErrorCode[] = ['device', 'model', 'invalid-request', 'invalid-image'];
  if (known.includes(code as EngineErrorCode)) return new EngineError(code as EngineErrorCode, message);
  if (e instanceof PipelineInputError || e instanceof FramingError) return new EngineError('invalid-request', message);
  if (isOutOfMemory(e)) return new EngineError('out-of-memory', message);
  return new EngineError('internal', message);
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
