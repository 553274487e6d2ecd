/**
 * One video at a time: the job's phase and progress, the frames as they arrive, the finished video and its other
 * formats, and the actions that start, cancel, export and copy it. The job runs on an SvdEngine — the worker for
 * this device, or Segmind — and this slice never asks which, except to word the progress.
 */
import type { Backend } from '../../contract/request.ts';
import type { FrameBatch, LocalDevice, LocalRunInfo, Progress, VideoResult } from '../../contract/job.ts';
import { EngineError } from '../../contract/job.ts';
import type { LocalEngine, SvdEngine } from '../../engine/engine.ts';
import type { MuxFormat, MuxOptions, RgbaFrames } from '../../video/mux.ts';
import { describeError, isAbort, type AppError } from '../errors.ts';
import { overallFraction, phaseLabel, phaseOfStage, type JobPhase } from '../format.ts';
import type { LoadedImage } from '../image-check.ts';
import { deriveView } from '../view.ts';
import { probeAfterLoad } from '../backend.ts';
import { plannedDenoiseWork } from '../../contract/work.ts';
import { speedKey } from '../estimate.ts';
import { firstFieldToFix } from '../form.ts';
import type { FieldName } from '../../contract/request.ts';
import type { GetState, SetState } from './types.ts';
import type { SvdRequest } from '../../contract/request.ts';
import type { ClipPart, KeptResult } from '../../gallery/types.ts';
import { joinAt, loopFrames, sizeMismatch } from '../../video/clips.ts';
import type { Extension } from './clip.ts';

export interface JobState {
  phase: JobPhase;
  backend?: Backend;
  device?: LocalDevice;
  step: number;
  total: number;
  /** 0..1 over the whole job; -1 = indeterminate (Segmind gives no progress) */
  fraction: number;
  etaSeconds?: number;
  label: string;
  startedAt?: number;
  finishedAt?: number;
}

export interface FrameSlot {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface ResultState {
  blob: Blob;
  url: string;
  mimeType: string;
  backend: Backend;
  device?: LocalDevice;
  /** the seed actually used */
  seed?: number;
  fps: number;
  frameCount: number;
  width?: number;
  height?: number;
  elapsedMs: number;
  /** Segmind: what the call cost and its request id */
  cost?: number;
  requestId?: string;
  timings?: LocalRunInfo['timings'];
  /** local runs: where the denoising loop ran, and whether its UNet commands were replayed (graph capture) */
  loop?: LocalRunInfo['loop'];
  graphCapture?: LocalRunInfo['graphCapture'];
  /** the request of the last generation (its seed as asked; `seed` is the one used) */
  request: SvdRequest;
  /** the local model that made it */
  model?: { id: string; label: string };
  /** the generations joined in this video, first to last (one for a plain result) */
  clips: ClipPart[];
  /** the gallery's id of this result, once kept (or when opened from the gallery) */
  galleryId?: string;
  /** the picture the first clip started from (kept with continuations, for "Re-run") */
  picture?: Blob;
}



export type ExportFormat = Exclude<MuxFormat, 'mp4'>;

export interface ExportState {
  status: 'busy' | 'done' | 'error';
  fraction: number;
  blob?: Blob;
  url?: string;
  error?: string;
}

export interface JobSlice {
  job: JobState;
  frames: (FrameSlot | undefined)[];
  result?: ResultState;
  exports: Partial<Record<ExportFormat, ExportState>>;
  error?: AppError;
  /** a short status line for the last small action ("Copied …"); shown politely */
  notice?: string;
  /** when copying to the clipboard is refused: the text, shown for manual copy */
  base64Fallback?: string;
  /** Generate was pressed with a setting at fault: the first one, for the form to focus (`seq` counts the presses) */
  fieldToFix?: { field: FieldName; seq: number };
  /** the generation under way continues the video on screen (what the result panel says while it runs) */
  extending?: { fromFrame: number; videoFrames: number };
  generate(): Promise<void>;
  /** one job from a picture; with `extension`, its clip continues the video on screen (generate and extendFrom use it) */
  startJob(image: LoadedImage, extension?: Extension): Promise<void>;
  /** revokes the object URLs of the video on screen, its exports and its loop (before it is replaced) */
  releaseResult(): void;
  cancel(): void;
  exportAs(format: ExportFormat): Promise<void>;
  copyBase64(): Promise<void>;
  dismissError(): void;
  setNotice(notice: string | undefined): void;
}

export interface JobDeps {
  engines: { local: LocalEngine; remote: SvdEngine };
  /** a frame as a picture for the next generation (pixels, and a PNG file for Segmind) */
  frameImage: (frame: FrameSlot, name: string) => Promise<LoadedImage>;
  /** the frames of a video file (a Segmind result, which comes without frames) */
  decodeVideo: (blob: Blob, signal: AbortSignal) => Promise<RgbaFrames>;
  mux: (frames: RgbaFrames, options: MuxOptions) => Promise<Blob>;
  /** makes the base64 picture for an HTTP API */
  imageBase64: (image: LoadedImage) => Promise<string>;
  copyText?: (text: string) => Promise<void>;
  blobToBase64?: (blob: Blob) => Promise<string>;
  createUrl: (blob: Blob) => string;
  revokeUrl: (url: string) => void;
  now: () => number;
}

/** Decoded frames as the store keeps them. */
export const slotsOf = (video: RgbaFrames): FrameSlot[] => video.rgba.map((b) => ({ width: video.width, height: video.height, rgba: new Uint8ClampedArray(b.buffer, b.byteOffset, b.byteLength) }));

export const IDLE_JOB: JobState = { phase: 'idle', step: 0, total: 0, fraction: 0, label: phaseLabel('idle') };

export function createJobSlice(set: SetState, get: GetState, deps: JobDeps): JobSlice {
  let controller: AbortController | undefined;
  const patchJob = (patch: Partial<JobState>) => set((s) => ({ job: { ...s.job, ...patch } }));
  const releaseResult = () => {
    const s = get();
    if (s.result) deps.revokeUrl(s.result.url);
    for (const e of Object.values(s.exports)) if (e?.url) deps.revokeUrl(e.url);
    if (s.loopPreview?.url) deps.revokeUrl(s.loopPreview.url);
  };

  /** The engine reports a step when it is done; when a stage is complete, say what runs next. */
  const progressOf = (steps: number, chunks: number) => (p: Progress) => {
    let phase = phaseOfStage(p.stage);
    let { step, total } = p;
    if (total > 0 && step >= total && p.stage === 'encode') {
      phase = 'denoising';
      step = 0;
      total = steps;
    } else if (total > 0 && step >= total && p.stage === 'denoise') {
      phase = 'decoding';
      step = 0;
      total = chunks;
    }
    patchJob({ phase, step, total, etaSeconds: p.etaSeconds, fraction: overallFraction(phase, step, total), label: phaseLabel(phase, step, total) });
  };

  const collectFrames = (b: FrameBatch) => set((s) => {
    const frames = s.frames.slice();
    b.frames.forEach((rgba, i) => {
      frames[b.start + i] = { width: b.width, height: b.height, rgba };
    });
    return { frames };
  });

  const asBytes = (f: FrameSlot) => new Uint8Array(f.rgba.buffer, f.rgba.byteOffset, f.rgba.byteLength);
  const muxPhase = () => patchJob({ phase: 'muxing', label: phaseLabel('muxing'), fraction: overallFraction('muxing', 0, 1), etaSeconds: undefined, step: 0, total: 0 });
  const muxMp4 = (frames: FrameSlot[], fps: number, signal: AbortSignal) => deps.mux({ width: frames[0].width, height: frames[0].height, rgba: frames.map(asBytes) }, {
    fps, format: 'mp4', signal,
    onProgress: (f) => patchJob({ fraction: overallFraction('muxing', f, 1) }),
  });

  /** The new clip's frames: those the worker sent, or the engine's video decoded (Segmind). */
  async function framesOf(result: VideoResult, signal: AbortSignal): Promise<FrameSlot[]> {
    if (result.video) {
      const blob = new Blob([result.video.bytes as Uint8Array<ArrayBuffer>], { type: result.video.mimeType });
      return slotsOf(await deps.decodeVideo(blob, signal));
    }
    const frames = get().frames;
    const out: FrameSlot[] = [];
    for (let i = 0; i < result.frameCount; i++) {
      const f = frames[i];
      if (!f) throw new EngineError('internal', `frame ${i + 1} of ${result.frameCount} never arrived from the worker`);
      out.push(f);
    }
    return out;
  }

  /** A whole job: load, generate, join (when continuing a video), mux, show, keep. */
  async function run(image: LoadedImage, extension?: Extension): Promise<void> {
    const s = get();
    const view = deriveView({ ...s, image });
    if (!view.canGenerate || !view.check.request) {
      const field = view.running ? undefined : firstFieldToFix(view.check.fieldErrors);
      set({ notice: view.blocker, ...(field ? { fieldToFix: { field, seq: (s.fieldToFix?.seq ?? 0) + 1 } } : {}) });
      return;
    }
    const request = view.check.request;
    const { decision, estimate } = view;
    const manifest = view.model?.manifest;
    const local = decision.backend === 'local';
    if (extension && local && view.framing && (view.framing.width !== extension.width || view.framing.height !== extension.height)) {
      set({ notice: undefined, error: describeError(new EngineError('cannot-join', sizeMismatch(extension, view.framing))) });
      return;
    }
    const engine = local ? deps.engines.local : deps.engines.remote;
    // the video being continued stays on screen (its frames are the start of the next one) until the join is made
    if (!extension) releaseResult();
    controller = new AbortController();
    const signal = controller.signal;
    const started = deps.now();
    set({
      ...(extension ? {} : { result: undefined, exports: {} }),
      error: undefined, notice: undefined, base64Fallback: undefined,
      loopMode: extension ? get().loopMode : 'none',
      extending: extension ? { fromFrame: extension.fromFrame, videoFrames: extension.frames.length } : undefined,
      frames: local ? new Array<FrameSlot | undefined>(request.frames).fill(undefined) : [],
      job: { ...IDLE_JOB, phase: local ? 'loading-model' : 'remote', backend: decision.backend, device: decision.device, startedAt: started, label: 'Starting', fraction: local ? 0 : -1 },
    });
    try {
      if (local) {
        patchJob({ phase: 'loading-model', label: phaseLabel('loading-model'), fraction: 0.02 });
        const loaded = await engine.load({ source: view.model!.source, device: decision.device ?? 'webgpu' }, { signal });
        if (loaded.backend === 'local') set((st) => ({ probe: probeAfterLoad(st.probe, loaded.device) }));
      } else {
        patchJob({ label: 'Preparing the picture' });
        await engine.load(undefined, { signal });
      }
      const result = await engine.generate({
        image: {
          pixels: image.input,
          base64: async () => {
            const text = await deps.imageBase64(image);
            patchJob({ label: phaseLabel('remote') });
            return text;
          },
        },
        request,
        // this device's measured speed × the step's work: the time left shows from the first step
        ...(local && estimate?.stepSeconds !== undefined ? { expectedStepSeconds: estimate.stepSeconds } : {}),
      }, {
        signal,
        onProgress: progressOf(request.steps, Math.ceil(request.frames / Math.max(1, request.decode_chunk))),
        onFrames: collectFrames,
      });
      if (result.local && estimate && manifest) {
        // What the loop ran (result.local.work); from an engine that does not report it yet, the planned work at
        // the size it made.
        const size = result.width !== undefined && result.height !== undefined ? { width: result.width, height: result.height } : estimate;
        const flops = result.local.work?.flops ?? plannedDenoiseWork(manifest, request, size).flops;
        get().recordSpeed(speedKey(result.local.device, get().probe.info?.adapter, view.model?.id ?? manifest.precision), flops, result.local.timings?.denoise,
          // the rest of the job without creating sessions (kept between jobs of one model): encoding and decoding
          result.local.timings ? result.local.timings.total - result.local.timings.load : undefined);
      }
      const clip: ClipPart = { seed: result.seed, backend: result.backend, frames: result.frameCount, ...(extension ? { continuedFrom: extension.fromFrame } : {}) };
      let blob: Blob;
      let frames: FrameSlot[] | undefined;
      if (extension) {
        const made = await framesOf(result, signal);
        if (made[0].width !== extension.width || made[0].height !== extension.height) {
          throw new EngineError('cannot-join', `The new clip is ${made[0].width}×${made[0].height} but the video it continues is ${extension.width}×${extension.height}; clips of different sizes cannot be joined. The video on screen is unchanged.`);
        }
        frames = joinAt(extension.frames, extension.fromFrame, made);
        muxPhase();
        blob = await muxMp4(frames, result.fps, signal);
      } else if (result.video) {
        blob = new Blob([result.video.bytes as Uint8Array<ArrayBuffer>], { type: result.video.mimeType });
      } else {
        frames = await framesOf(result, signal);
        muxPhase();
        blob = await muxMp4(frames, result.fps, signal);
      }
      if (extension) releaseResult();
      const width = frames?.[0].width ?? result.width;
      const height = frames?.[0].height ?? result.height;
      const shown: ResultState = {
        blob, url: deps.createUrl(blob), mimeType: blob.type || 'video/mp4', backend: result.backend, device: result.local?.device,
        seed: result.seed, fps: result.fps, frameCount: frames?.length ?? result.frameCount, width, height,
        elapsedMs: deps.now() - started, cost: result.remote?.cost, requestId: result.remote?.requestId,
        timings: result.local?.timings, loop: result.local?.loop, graphCapture: result.local?.graphCapture,
        request, model: local && view.model ? { id: view.model.id, label: view.model.label } : undefined,
        clips: [...(extension?.clips ?? []), clip],
        picture: extension ? extension.picture : image.file,
      };
      set((st) => ({
        remainingCredits: result.remote?.remainingCredits ?? st.remainingCredits,
        result: shown, extending: undefined, exports: {}, loopPreview: undefined, loopMode: 'none',
        ...(frames ? { frames } : {}),
      }));
      patchJob({ phase: 'done', label: phaseLabel('done'), fraction: 1, etaSeconds: undefined, finishedAt: deps.now() });
      void keep(shown, frames);
    } catch (e) {
      // a continuation that fails leaves the video it continued on screen, with its frames
      if (extension) set({ frames: extension.frames, extending: undefined });
      if (isAbort(e) || signal.aborted) {
        patchJob({ phase: 'cancelled', label: phaseLabel('cancelled'), finishedAt: deps.now(), etaSeconds: undefined });
      } else {
        set({ error: describeError(e) });
        patchJob({ phase: 'error', label: phaseLabel('error'), finishedAt: deps.now(), etaSeconds: undefined });
      }
    } finally {
      controller = undefined;
    }
  }

  /** Hands a finished result to the gallery; the result on screen learns its gallery id. */
  async function keep(shown: ResultState, frames: FrameSlot[] | undefined): Promise<void> {
    const kept: KeptResult = {
      createdAt: deps.now(), backend: shown.backend, device: shown.device, model: shown.model, request: shown.request, seed: shown.seed,
      fps: shown.fps, frameCount: shown.frameCount, width: shown.width ?? 0, height: shown.height ?? 0, elapsedMs: shown.elapsedMs,
      timings: shown.timings, cost: shown.cost, clips: shown.clips, video: shown.blob,
      frames: frames?.map((f) => f.rgba), picture: shown.picture,
    };
    const id = await get().keepResult(kept);
    if (id && get().result === shown) set({ result: { ...shown, galleryId: id } });
  }

  return {
    job: IDLE_JOB,
    frames: [],
    result: undefined,
    exports: {},
    error: undefined,
    notice: undefined,
    extending: undefined,

    async generate() {
      const s = get();
      if (!s.image) {
        set({ notice: deriveView(s).blocker });
        return;
      }
      await run(s.image);
    },

    startJob: run,
    releaseResult,

    cancel() {
      if (!controller) return;
      patchJob({ label: 'Cancelling…' });
      controller.abort();
    },

    async exportAs(format) {
      const s = get();
      const result = s.result;
      if (!result || s.frames.length === 0 || s.frames.some((f) => !f)) {
        set({ notice: 'GIF and WebM are made from the frames, which are only available for videos made on this device.' });
        return;
      }
      if (s.exports[format]?.status === 'busy') return;
      set((st) => ({ exports: { ...st.exports, [format]: { status: 'busy', fraction: 0 } } }));
      const frames = s.frames as FrameSlot[];
      // the loop on screen is the one exported
      const looped = loopFrames(frames.map((f) => f.rgba), s.loopMode);
      try {
        const blob = await deps.mux(
          { width: frames[0].width, height: frames[0].height, rgba: looped.map((f) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength)) },
          { fps: result.fps, format, onProgress: (fraction) => set((st) => ({ exports: { ...st.exports, [format]: { status: 'busy', fraction } } })) },
        );
        if (get().result !== result || get().loopMode !== s.loopMode) return; // a newer video or loop replaced this one
        set((st) => ({ exports: { ...st.exports, [format]: { status: 'done', fraction: 1, blob, url: deps.createUrl(blob) } }, notice: `${format.toUpperCase()} is ready to download.` }));
      } catch (e) {
        set((st) => ({ exports: { ...st.exports, [format]: { status: 'error', fraction: 0, error: describeError(e).message } } }));
      }
    },

    async copyBase64() {
      const result = get().result;
      if (!result || !deps.blobToBase64) return;
      const text = await deps.blobToBase64(result.blob);
      try {
        if (!deps.copyText) throw new Error('no clipboard');
        await deps.copyText(text);
        set({ notice: `Copied the video as base64 (${text.length.toLocaleString('en-US')} characters), like the API's base64 answer.`, base64Fallback: undefined });
      } catch {
        set({ notice: 'The clipboard is not available here; the base64 text is shown below to copy by hand.', base64Fallback: text });
      }
    },

    dismissError() {
      set({ error: undefined });
    },
    setNotice(notice) {
      set({ notice });
    },
  };
}
