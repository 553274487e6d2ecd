/**
 * The Segmind API as an SvdEngine: the same request and the same result shape as the local engines. There is
 * nothing to load (the model lives at Segmind); the picture goes as base64, the video comes back encoded.
 */
import type { GenerateJob, LoadedModel, VideoResult } from '../../contract/job.ts';
import type { GenerateOptions, SvdEngine } from '../engine.ts';
import { generateRemote, SEGMIND_ENDPOINT, type SegmindOptions } from './api.ts';
import { SegmindError } from './errors.ts';

export interface SegmindEngineOptions {
  /** read at every call, so a key typed after the engine was made is used */
  apiKey: () => string;
  /** default https://api.segmind.com/v1/svd */
  endpoint?: string;
  /** the call itself (tests replace it) */
  call?: typeof generateRemote;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class SegmindEngine implements SvdEngine {
  readonly backend = 'segmind' as const;

  constructor(private readonly options: SegmindEngineOptions) {}

  async load(): Promise<LoadedModel> {
    return { backend: 'segmind', endpoint: this.options.endpoint ?? SEGMIND_ENDPOINT };
  }

  async generate(job: GenerateJob, options: GenerateOptions = {}): Promise<VideoResult> {
    if (!job.image.base64) throw new SegmindError('bad_request', 'No picture to send to Segmind: the image could not be encoded as base64.');
    const image = await job.image.base64();
    if (options.signal?.aborted) throw new SegmindError('aborted', 'The Segmind request was cancelled.');
    const call = this.options.call ?? generateRemote;
    const settings: SegmindOptions = {
      apiKey: this.options.apiKey().trim(), endpoint: this.options.endpoint, signal: options.signal,
      fetch: this.options.fetch, timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
    };
    const res = await call(job.request, image, settings);
    return {
      backend: 'segmind',
      seed: res.seed,
      fps: job.request.fps,
      frameCount: job.request.frames,
      video: { bytes: res.video, mimeType: res.mimeType },
      remote: { cost: res.cost, remainingCredits: res.remainingCredits, requestId: res.requestId },
    };
  }

  async release(): Promise<void> {}
}
