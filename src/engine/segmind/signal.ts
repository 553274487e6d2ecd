/** One AbortSignal for a Segmind call that fires on the caller's cancel or on the call's time limit, remembering which. */

export interface LinkedSignal {
  signal: AbortSignal;
  timedOut: () => boolean;
  userAborted: () => boolean;
  timeoutMs: number;
  dispose: () => void;
}

export function linkSignals(user: AbortSignal | undefined, timeoutMs: number): LinkedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(user?.reason);
  if (user) {
    if (user.aborted) controller.abort(user.reason);
    else user.addEventListener('abort', onAbort, { once: true });
  }
  const timer = Number.isFinite(timeoutMs) && timeoutMs > 0
    ? setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    }, timeoutMs)
    : undefined;
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    userAborted: () => !timedOut && user?.aborted === true,
    timeoutMs,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      user?.removeEventListener('abort', onAbort);
    },
  };
}
