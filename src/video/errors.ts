/**
 * The error and the bounded wait every encoder/decoder of src/video shares (mux.ts re-exports MuxError, the name the
 * store's errors.ts recognises).
 */

export type MuxErrorCode = 'load-timeout' | 'load-failed' | 'exec-timeout' | 'exec-failed' | 'aborted' | 'bad-input' | 'unsupported';

export class MuxError extends Error {
  constructor(
    message: string,
    readonly code: MuxErrorCode,
    readonly log: string[] = [],
  ) {
    super(message);
    this.name = 'MuxError';
  }
}

/** Awaits `p` for at most `ms`; rejects with `onTimeout()` then, or with an 'aborted' MuxError on `signal`. */
export function withBound<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined, onTimeout: () => Error, abortMessage = 'muxing aborted'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(onTimeout())), ms);
    const onAbort = (): void => finish(() => reject(new MuxError(abortMessage, 'aborted')));
    let done = false;
    function finish(action: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      action();
    }
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}

export function throwIfAborted(signal?: AbortSignal, message = 'muxing aborted'): void {
  if (signal?.aborted) throw new MuxError(message, 'aborted');
}

export function isAbortError(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'AbortError' || (e instanceof MuxError && e.code === 'aborted');
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
