/**
 * Segmind's failures in words a user can act on: one SegmindError per failed call, with the HTTP status, the
 * API's own text and the request id when there is one.
 */
import type { LinkedSignal } from './signal.ts';

export type SegmindErrorKind =
  | 'unauthorized'
  | 'payment'
  | 'content_type'
  | 'rate_limited'
  | 'server'
  | 'bad_request'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'unexpected';

export class SegmindError extends Error {
  /** HTTP status when the server answered */
  readonly status?: number;
  /** the API's own error text ({"error": "..."}), when it sent one */
  readonly apiMessage?: string;
  /** for 'rate_limited': when the limit resets, as the server wrote it */
  readonly resetAt?: string;
  readonly requestId?: string;

  constructor(
    readonly kind: SegmindErrorKind,
    message: string,
    details: { status?: number; apiMessage?: string; resetAt?: string; requestId?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'SegmindError';
    this.status = details.status;
    this.apiMessage = details.apiMessage;
    this.resetAt = details.resetAt;
    this.requestId = details.requestId;
  }
}

export function networkError(cause: unknown, call: LinkedSignal, endpoint: string): SegmindError {
  if (call.timedOut()) {
    return new SegmindError('timeout',
      `Segmind did not finish within ${formatSeconds(call.timeoutMs)}, so the request was abandoned. ` +
      'It was not retried; if it finished on Segmind\'s side it may still have been charged.', { cause });
  }
  if (call.userAborted() || (cause instanceof Error && cause.name === 'AbortError')) {
    return new SegmindError('aborted', 'The Segmind request was cancelled.', { cause });
  }
  const detail = describeCause(cause);
  return new SegmindError('network',
    `Could not reach Segmind at ${endpoint}${detail ? ` (${detail})` : ''}. Check the internet connection and try again.`,
    { cause });
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${s < 10 ? Number(s.toFixed(1)) : Math.round(s)} s`;
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return cause === undefined ? '' : String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  if (inner instanceof Error) {
    const code = (inner as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${inner.message}` : inner.message;
  }
  return cause.message;
}

/** The API's error text from a JSON {"error": "..."} (or message/detail) body; HTML is reduced to its title. */
function apiErrorText(text: string, contentType: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (contentType.includes('json') || trimmed.startsWith('{') || trimmed.startsWith('"')) {
    try {
      const data: unknown = JSON.parse(trimmed);
      if (typeof data === 'string') return data;
      if (data && typeof data === 'object') {
        for (const key of ['error', 'message', 'detail', 'msg']) {
          const v = (data as Record<string, unknown>)[key];
          if (typeof v === 'string' && v.trim() !== '') return v.trim();
          if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
            return (v as { message: string }).message;
          }
        }
      }
    } catch {
      // not JSON after all
    }
  }
  if (contentType.includes('html') || trimmed.startsWith('<')) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(trimmed)?.[1]?.trim();
    return title || undefined;
  }
  return trimmed.length > 300 ? `${trimmed.slice(0, 297)}...` : trimmed;
}

export async function httpError(response: Response, endpoint: string, requestId: string | undefined): Promise<SegmindError> {
  const status = response.status;
  const contentType = (response.headers.get('content-type') ?? '').toLowerCase();
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body is only used for the message
  }
  const apiMessage = apiErrorText(text, contentType);
  const said = apiMessage ? ` Segmind said: "${apiMessage}".` : '';
  const details = { status, apiMessage, requestId };
  const lower = (apiMessage ?? '').toLowerCase();

  switch (true) {
    case status === 401 || status === 403:
      return new SegmindError('unauthorized',
        `Segmind rejected the API key (${status}).${said} Check that the key is copied correctly and still active.`, details);
    case status === 402:
      return new SegmindError('payment', `Segmind needs payment (402).${said} Add credits to your Segmind account.`, details);
    case status === 406: {
      if (/content[\s_-]?type|media type|application\/json|unsupported/.test(lower) && !/credit/.test(lower)) {
        return new SegmindError('content_type',
          `Segmind refused the request's content type (406).${said} This is a bug in svd-web, not in your settings.`, details);
      }
      if (/spend|limit/.test(lower) && !/credit/.test(lower)) {
        return new SegmindError('payment',
          `Your Segmind account has reached its spend limit (406).${said} Raise the limit in your Segmind account or wait for it to reset.`, details);
      }
      if (/credit|balance|insufficient|fund/.test(lower)) {
        return new SegmindError('payment',
          `Your Segmind account does not have enough credits (406).${said} Add credits in your Segmind account and try again.`, details);
      }
      return new SegmindError('payment',
        `Segmind refused the request (406).${said} This usually means the account is out of credits or over its spend limit.`, details);
    }
    case status === 429: {
      const resetAt = response.headers.get('x-rate-limit-reset-at-utc')?.trim() || undefined;
      const when = resetAt ? `after ${formatReset(resetAt)}` : 'in a minute';
      return new SegmindError('rate_limited',
        `Segmind's rate limit was reached (429).${said} Try again ${when}.`, { ...details, resetAt });
    }
    case status === 405:
      return new SegmindError('bad_request',
        `Segmind answered "405 Method Not Allowed"${apiMessage ? ` ("${apiMessage}")` : ''}: the endpoint ${endpoint} is probably wrong.`,
        details);
    case status >= 500:
      return new SegmindError('server',
        `Segmind failed with a server error (${status}).${said} This is often caused by a parameter value it does not accept ` +
        '(check frames, fps, motion, seed and the picture). You were not charged.', details);
    case status >= 400:
      return new SegmindError('bad_request', `Segmind refused the request (${status}).${said}`, details);
    default:
      return new SegmindError('unexpected', `Segmind answered with an unexpected status ${status}.${said}`, details);
  }
}

/** "2025-01-01T12:00:00Z" or epoch seconds/ms → a readable UTC time; anything else as written. */
function formatReset(value: string): string {
  let date: Date | undefined;
  if (/^\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    date = new Date(n < 1e12 ? n * 1000 : n);
  } else {
    const parsed = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
    if (!Number.isNaN(parsed)) date = new Date(parsed);
  }
  if (!date || Number.isNaN(date.getTime())) return `${value} (UTC)`;
  return `${date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '')} UTC`;
}
