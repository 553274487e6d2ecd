/** Failures in plain words for the error banner: what happened and what to do (pure; unit-tested in Node). */
import { EngineError } from '../contract/job.ts';
import { SegmindError } from '../engine/segmind/errors.ts';

export interface AppError {
  /** a short headline */
  title: string;
  /** plain words: what happened and what to do */
  message: string;
  source: 'segmind' | 'local' | 'video' | 'app';
  /** SegmindError.kind / engine error code / MuxError code */
  kind?: string;
  status?: number;
}

const SEGMIND_TITLES: Record<string, string> = {
  unauthorized: 'Segmind did not accept the API key',
  payment: 'Your Segmind account cannot pay for this video',
  content_type: 'Segmind refused the request format',
  rate_limited: 'Too many requests to Segmind',
  server: 'Segmind had a server error',
  bad_request: 'Segmind refused the request',
  network: 'Could not reach Segmind',
  timeout: 'Segmind took too long',
  unexpected: 'Segmind sent an unexpected answer',
};

const LOCAL_HINTS: Record<string, [title: string, hint: string]> = {
  'out-of-memory': ['Not enough GPU memory', ' Try a smaller resolution, fewer frames or a smaller decode chunk, or close other GPU-heavy tabs.'],
  device: ['The GPU could not be used', ' Pick the CPU (slow) or Segmind, or try another browser.'],
  model: ['The model could not be loaded', ' Check it under Models (download or import it again).'],
  'invalid-request': ['These settings cannot be used', ''],
  'invalid-image': ['The picture cannot be used', ''],
  timeout: ['The generation stopped responding', ' The worker was restarted; try again, perhaps with smaller settings.'],
  crashed: ['The generation stopped unexpectedly', ' This can happen when the GPU runs out of memory or the GPU driver resets. Try again with smaller settings.'],
  busy: ['A generation is already running', ''],
  'cannot-join': ['This video cannot be continued', ''],
  'too-large': ['This request does not fit this device', ''],
  internal: ['Something went wrong while generating', ''],
};

export function describeError(e: unknown): AppError {
  if (e instanceof SegmindError) {
    return { title: SEGMIND_TITLES[e.kind] ?? 'Segmind failed', message: e.message, source: 'segmind', kind: e.kind, status: e.status };
  }
  if (e instanceof EngineError) {
    const [title, hint] = LOCAL_HINTS[e.code] ?? ['Something went wrong while generating', ''];
    return { title, message: `${capital(e.message)}.${hint}`.replace(/\.\./g, '.'), source: 'local', kind: e.code };
  }
  const err = e as Error;
  if (err?.name === 'MuxError') {
    return { title: 'Could not encode the video', message: `${err.message.split('\n')[0]}. The frames are still shown above; try the download again.`, source: 'video', kind: (err as { code?: string }).code };
  }
  return { title: 'Something went wrong', message: String(err?.message ?? e), source: 'app' };
}

/** A cancel, whichever engine or step reports it. */
export function isAbort(e: unknown): boolean {
  if (e instanceof SegmindError) return e.kind === 'aborted';
  if (e instanceof EngineError) return e.code === 'aborted';
  const err = e as { name?: string; code?: string };
  return err?.name === 'AbortError' || (err?.name === 'MuxError' && err.code === 'aborted');
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/\.$/, '');
}
