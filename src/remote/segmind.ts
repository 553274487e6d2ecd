/**
 * The Segmind client: Stable Video Diffusion on Segmind's servers, with the same request as the local backend.
 *
 * Plain fetch only (browser and Node 20). Every POST is billed when it succeeds, so nothing here retries:
 * a failure is reported once, as a `SegmindError` whose message a user can act on.
 *
 * Contract (docs/svd-spec.md, "Segmind SVD API"): POST {endpoint} with `x-api-key` and a JSON body; the answer is
 * the MP4 bytes, or with `base64: true` an undocumented JSON/text shape (we branch on Content-Type).
 * Headers: x-remaining-credits, x-cost, x-generation-time, x-seed-value, x-request-id; on 429
 * x-rate-limit-reset-at-utc. Errors: JSON {"error": "..."}; 401 key; 406 credits / spend limit / content type;
 * 429 rate limit; 500 often a bad parameter value; 405 answers HTML.
 */
import { decodeBase64, stripDataUrl } from '../common/base64.ts';
import { formatRequestErrors, segmindBody, validateRequest, type SvdRequest } from '../contract/request.ts';

export const SEGMIND_ENDPOINT = 'https://api.segmind.com/v1/svd';
export const DEFAULT_TIMEOUT_MS = 180_000;

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

export interface RemoteResult {
  /** the video file (MP4 from Segmind) */
  video: Uint8Array;
  mimeType: string;
  /** the seed actually used (x-seed-value); matters when the request's seed was −1 */
  seed?: number;
  /** credits left on the account after this call (x-remaining-credits) */
  remainingCredits?: number;
  /** what this call cost (x-cost) */
  cost?: number;
  /** server-side generation time as reported (x-generation-time) */
  generationTime?: number;
  requestId?: string;
}

export interface SegmindOptions {
  apiKey: string;
  /** default https://api.segmind.com/v1/svd */
  endpoint?: string;
  /** cancels the call; the promise then rejects with kind 'aborted' */
  signal?: AbortSignal;
  /** give up after this long (default 180 s); rejects with kind 'timeout' */
  timeoutMs?: number;
  /** a fetch to use instead of the global one (tests, proxies) */
  fetch?: typeof fetch;
}

/**
 * Generates a video on Segmind. `request` is validated for the Segmind backend first (frames 14 or 25, …),
 * so a request that would be refused costs nothing. `image` is the picture as base64 (a data: URL is fine)
 * or an http(s) URL. Never retries.
 */
export async function generateRemote(request: SvdRequest, image: string, options: SegmindOptions): Promise<RemoteResult> {
  const checked = validateRequest(request, { backend: 'segmind' });
  if (!checked.ok) {
    throw new SegmindError('bad_request', `This request cannot be sent to Segmind: ${formatRequestErrors(checked.errors)}`);
  }
  if (typeof image !== 'string' || image.trim() === '') {
    throw new SegmindError('bad_request', 'No picture to send to Segmind: the image must be base64 data or an http(s) URL.');
  }
  const apiKey = typeof options.apiKey === 'string' ? options.apiKey.trim() : '';
  if (apiKey === '') {
    throw new SegmindError('unauthorized', 'No Segmind API key is set. Add your key (from your Segmind account) and try again.');
  }
  const endpoint = checkEndpoint(options.endpoint ?? SEGMIND_ENDPOINT);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new SegmindError('network', 'This environment has no fetch(); Segmind cannot be reached.');

  const call = linkSignals(options.signal, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    if (call.signal.aborted) throw call.signal.reason;
    const body = JSON.stringify(segmindBody(checked.request, image));
    let response: Response;
    try {
      response = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'x-api-key': apiKey, 'Content-Type': 'application/json', Accept: 'video/*, application/json' },
        body,
        signal: call.signal,
        redirect: 'error', // never replay the key and the billed POST somewhere else
      });
    } catch (cause) {
      throw networkError(cause, call, endpoint);
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (!response.ok) throw await httpError(response, endpoint, requestId);
    return await readVideo(response, call, endpoint, requestId, doFetch);
  } catch (e) {
    if (e instanceof SegmindError) throw e;
    throw networkError(e, call, endpoint);
  } finally {
    call.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new SegmindError('bad_request', `The Segmind endpoint "${endpoint}" is not a valid URL.`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new SegmindError('bad_request',
      `The Segmind endpoint "${endpoint}" must use https (plain http is only allowed for localhost), so the API key is not sent in the clear.`);
  }
  return url.toString();
}

interface LinkedSignal {
  signal: AbortSignal;
  timedOut: () => boolean;
  userAborted: () => boolean;
  timeoutMs: number;
  dispose: () => void;
}

/** One signal that fires on the caller's abort or on the timeout, remembering which. */
function linkSignals(user: AbortSignal | undefined, timeoutMs: number): LinkedSignal {
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

function networkError(cause: unknown, call: LinkedSignal, endpoint: string): SegmindError {
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

async function httpError(response: Response, endpoint: string, requestId: string | undefined): Promise<SegmindError> {
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

function headerNumber(response: Response, name: string): number | undefined {
  const raw = response.headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw.trim().replace(/^\$/, ''));
  return Number.isFinite(n) ? n : undefined;
}

async function readVideo(
  response: Response, call: LinkedSignal, endpoint: string, requestId: string | undefined, doFetch: typeof fetch,
): Promise<RemoteResult> {
  const contentType = (response.headers.get('content-type') ?? '').toLowerCase();
  const meta = {
    seed: headerNumber(response, 'x-seed-value'),
    remainingCredits: headerNumber(response, 'x-remaining-credits'),
    cost: headerNumber(response, 'x-cost'),
    generationTime: headerNumber(response, 'x-generation-time'),
    requestId,
  };
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw networkError(cause, call, endpoint);
  }
  const mediaType = contentType.split(';')[0].trim();

  let video: Uint8Array;
  let mimeType: string | undefined;
  const binary = mediaType.startsWith('video/') || mediaType === 'application/octet-stream' || mediaType === 'image/gif';
  if (binary && !(mediaType === 'application/octet-stream' && looksLikeText(bytes))) {
    video = bytes;
    mimeType = mediaType.startsWith('video/') || mediaType === 'image/gif' ? mediaType : undefined;
  } else if (mediaType === '' && sniffMime(bytes)) {
    video = bytes;
  } else {
    // JSON or text: the base64 answer (its shape is undocumented).
    const text = new TextDecoder().decode(bytes);
    const found = await base64Payload(text, call, endpoint, doFetch);
    video = found.bytes;
    mimeType = found.mimeType;
  }
  if (video.length === 0) {
    throw new SegmindError('unexpected', 'Segmind answered with an empty video.', { status: response.status, requestId });
  }
  return { video, mimeType: mimeType ?? sniffMime(video) ?? 'video/mp4', ...dropUndefined(meta) };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function looksLikeText(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b /* { */ || bytes[i] === 0x22 /* " */;
}

/** Recognises MP4/MOV, WebM and GIF by their first bytes. */
export function sniffMime(bytes: Uint8Array): string | undefined {
  if (bytes.length >= 8 && bytes[4] === 0x66 && bytes[5] === 0x74 && bytes[6] === 0x79 && bytes[7] === 0x70) return 'video/mp4';
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'video/webm';
  if (bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38) return 'image/gif';
  return undefined;
}

const PAYLOAD_KEYS = ['video', 'image', 'output', 'data', 'result', 'base64'];

/** Finds the video in a base64 answer: a bare string, or a string under video/image/output/data (maybe in a list). */
async function base64Payload(
  text: string, call: LinkedSignal, endpoint: string, doFetch: typeof fetch,
): Promise<{ bytes: Uint8Array; mimeType?: string }> {
  let data: unknown = text.trim();
  try {
    data = JSON.parse(text);
  } catch {
    // a bare base64 text answer
  }
  const candidate = pickString(data, 0);
  if (candidate === undefined) {
    const keys = data && typeof data === 'object' ? Object.keys(data).join(', ') : typeof data;
    throw new SegmindError('unexpected',
      `Segmind answered without a video (expected base64 data; the answer had: ${keys || 'nothing'}).`);
  }
  const value = candidate.trim();
  if (/^https?:\/\//i.test(value)) {
    // A link to the video instead of the video: fetch it (a GET, not billed; the API key is NOT sent).
    let res: Response;
    try {
      res = await doFetch(value, { signal: call.signal });
    } catch (cause) {
      throw networkError(cause, call, value);
    }
    if (!res.ok) throw new SegmindError('unexpected', `Segmind's video link could not be downloaded (${res.status}).`, { status: res.status });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const type = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    return { bytes, mimeType: type.startsWith('video/') ? type : undefined };
  }
  const prefix = /^data:([^;,]*)[^,]*?;base64,/i.exec(value);
  const bytes = decodeBase64(stripDataUrl(value));
  if (bytes === undefined) {
    throw new SegmindError('unexpected', `Segmind's answer is not valid base64 video data (from ${endpoint}).`);
  }
  const declared = prefix?.[1]?.toLowerCase();
  return { bytes, mimeType: declared && declared !== 'application/octet-stream' ? declared : undefined };
}

function pickString(data: unknown, depth: number): string | undefined {
  if (typeof data === 'string') return data.trim() === '' ? undefined : data;
  if (depth > 3 || data === null || typeof data !== 'object') return undefined;
  if (Array.isArray(data)) return data.length > 0 ? pickString(data[0], depth + 1) : undefined;
  const record = data as Record<string, unknown>;
  for (const key of PAYLOAD_KEYS) {
    if (key in record) {
      const hit = pickString(record[key], depth + 1);
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

