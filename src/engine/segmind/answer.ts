/**
 * Reading Segmind's answer: raw MP4 bytes, or with `base64: true` an undocumented JSON/text shape holding base64
 * data or a link (we branch on Content-Type, then sniff), plus the x-* headers (seed, credits, cost, request id).
 */
import { decodeBase64, stripDataUrl } from '../../common/base64.ts';
import { networkError, SegmindError } from './errors.ts';
import type { LinkedSignal } from './signal.ts';
import type { RemoteResult } from './api.ts';

function headerNumber(response: Response, name: string): number | undefined {
  const raw = response.headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw.trim().replace(/^\$/, ''));
  return Number.isFinite(n) ? n : undefined;
}

export async function readVideo(
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

