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
import { formatRequestErrors, segmindBody, validateRequest, type SvdRequest } from '../../contract/request.ts';

import { httpError, networkError, SegmindError } from './errors.ts';
import { readVideo } from './answer.ts';
import { linkSignals } from './signal.ts';

export { SegmindError, type SegmindErrorKind } from './errors.ts';
export { sniffMime } from './answer.ts';

export const SEGMIND_ENDPOINT = 'https://api.segmind.com/v1/svd';
export const DEFAULT_TIMEOUT_MS = 180_000;

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
