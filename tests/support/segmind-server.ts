/**
 * A stand-in for https://api.segmind.com/v1/svd that follows the documented contract (docs: svd-spec.md,
 * "Segmind SVD API"), for unit tests of the client and for the app's Playwright e2e tests.
 *
 *   const server = await startSegmindServer({ apiKey: 'test-key' });
 *   await generateRemote(request, image, { apiKey: 'test-key', endpoint: server.url });
 *   server.requests[0].headers['x-api-key'];  // every request is recorded
 *   server.setScenario('credits');            // the next answers are 406 "insufficient credits"
 *   await server.close();
 *
 * Listens on 127.0.0.1 on a random port. Answers CORS preflights (so a page on another origin can call it).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SegmindScenario =
  | 'ok' // 200 with the video (or base64 JSON when body.base64 is true)
  | 'credits' // 406 insufficient credits
  | 'spend_limit' // 406 spend limit reached
  | 'content_type' // 406 wrong content type (also answered for real when the request isn't JSON)
  | 'rate_limited' // 429 with x-rate-limit-reset-at-utc
  | 'server_error' // 500 {"error": ...}
  | 'method_not_allowed' // 405 with an HTML page
  | 'empty' // 200 with an empty body
  | 'hang'; // never answers (for abort/timeout tests); closed by close()

/** How a base64 answer is shaped (undocumented upstream, so the client must cope with all of these). */
export type Base64Shape = 'image' | 'video' | 'output' | 'data' | 'bare-json' | 'text' | 'data-url';

export interface SegmindServerOptions {
  /** the key that is accepted (default 'test-key') */
  apiKey?: string;
  scenario?: SegmindScenario;
  /** status for a bad parameter value: 500 like the real API (default) or 400 */
  badParamStatus?: 400 | 500;
  /** reject fields the API does not document (default true: catches local-only options leaking into the body) */
  strictFields?: boolean;
  base64Shape?: Base64Shape;
  /** the bytes answered as the video (default: a small fake MP4) */
  video?: Uint8Array;
  /** credits before the first call (default 10); each successful call costs `cost` */
  credits?: number;
  cost?: number;
  /** value of x-rate-limit-reset-at-utc for 'rate_limited' (default: 60 s from now, ISO) */
  rateLimitResetAt?: string;
  /** seed reported when the request asks for a random one (seed −1); default 424242 */
  randomSeed?: number;
  /** delay before answering, in ms (default 0) */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** path and query */
  path: string;
  /** lower-cased header names */
  headers: Record<string, string>;
  /** the body as text */
  rawBody: string;
  /** the parsed JSON body, or undefined when it isn't JSON */
  body: unknown;
  /** the status answered (undefined while pending or for 'hang') */
  status?: number;
}

export interface SegmindServer {
  /** the full endpoint URL, e.g. http://127.0.0.1:41234/v1/svd */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** every request received, in order (preflights included) */
  requests: RecordedRequest[];
  setScenario(scenario: SegmindScenario, options?: Partial<Omit<SegmindServerOptions, 'apiKey'>>): void;
  /** credits left (decremented by each successful call) */
  readonly credits: number;
  close(): Promise<void>;
}

export const SEGMIND_PATH = '/v1/svd';

/** A small byte payload that starts like an MP4 (an `ftyp` box) so sniffers recognise it. */
export function fakeMp4(extra = 64): Uint8Array {
  const ftyp = [0, 0, 0, 0x18, ...ascii('ftyp'), ...ascii('isom'), 0, 0, 2, 0, ...ascii('isom'), ...ascii('mp41')];
  const mdat = [0, 0, 0, 8 + extra, ...ascii('mdat')];
  const body = Array.from({ length: extra }, (_, i) => (i * 37 + 11) & 0xff);
  return Uint8Array.from([...ftyp, ...mdat, ...body]);
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

const API_FIELDS = ['image', 'fps', 'motion', 'seed', 'cond_aug', 'frames', 'resize_method', 'base64'];

/** Checks a body like the real API is documented to; returns the first problem, or undefined. */
export function checkSegmindBody(body: unknown, strictFields = true): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'request body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (strictFields) {
    const unknown = Object.keys(b).filter((k) => !API_FIELDS.includes(k));
    if (unknown.length > 0) return `unknown parameter(s): ${unknown.join(', ')}`;
  }
  if (typeof b.image !== 'string' || b.image.trim() === '') return 'image is required (base64 or URL)';
  if (b.image.startsWith('data:')) return 'image must be raw base64 or a URL, not a data: URL';
  const int = (k: string, lo: number, hi: number) => {
    const v = b[k];
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? undefined : `${k} must be an integer in [${lo}, ${hi}]`;
  };
  const problem = int('fps', 1, 60) ?? int('motion', 1, 180) ?? int('seed', -1, 999_999_999_999_999);
  if (problem) return problem;
  if (b.cond_aug !== undefined && !(typeof b.cond_aug === 'number' && b.cond_aug >= 0 && b.cond_aug <= 1)) {
    return 'cond_aug must be a number in [0, 1]';
  }
  if (b.frames !== undefined && b.frames !== 14 && b.frames !== 25) return 'frames must be 14 or 25';
  if (b.resize_method !== undefined && b.resize_method !== 'maintain_aspect_ratio' && b.resize_method !== 'crop_to_16_9') {
    return 'resize_method must be maintain_aspect_ratio or crop_to_16_9';
  }
  if (b.base64 !== undefined && typeof b.base64 !== 'boolean') return 'base64 must be a boolean';
  return undefined;
}

const EXPOSED = 'x-remaining-credits, x-cost, x-generation-time, x-seed-value, x-request-id, x-rate-limit-reset-at-utc';

export async function startSegmindServer(opts: SegmindServerOptions = {}): Promise<SegmindServer> {
  const apiKey = opts.apiKey ?? 'test-key';
  let settings: Required<Omit<SegmindServerOptions, 'apiKey' | 'rateLimitResetAt' | 'credits'>> & { rateLimitResetAt?: string } = {
    scenario: opts.scenario ?? 'ok',
    badParamStatus: opts.badParamStatus ?? 500,
    strictFields: opts.strictFields ?? true,
    base64Shape: opts.base64Shape ?? 'image',
    video: opts.video ?? fakeMp4(),
    cost: opts.cost ?? 0.17,
    randomSeed: opts.randomSeed ?? 424242,
    delayMs: opts.delayMs ?? 0,
    rateLimitResetAt: opts.rateLimitResetAt,
  };
  let credits = opts.credits ?? 10;
  let counter = 0;
  const requests: RecordedRequest[] = [];
  const pending = new Set<ServerResponse>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const handle = async (req: IncomingMessage, res: ServerResponse, record: RecordedRequest) => {
    const json = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(data));
    };
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED);

    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'OPTIONS') {
      record.status = 204;
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'x-api-key, content-type, accept',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    if (path !== SEGMIND_PATH) return json(404, { error: `Not found: ${path}` });
    if (req.method !== 'POST' || settings.scenario === 'method_not_allowed') {
      record.status = 405;
      res.writeHead(405, { 'Content-Type': 'text/html; charset=utf-8', Allow: 'POST' });
      res.end('<!DOCTYPE html><html><head><title>405 Method Not Allowed</title></head>' +
        '<body><h1>Method Not Allowed</h1><p>The method is not allowed for the requested URL.</p></body></html>');
      return;
    }
    const key = record.headers['x-api-key'];
    if (!key) return json(401, { error: 'Missing API key. Pass it in the x-api-key header.' });
    if (key !== apiKey) return json(401, { error: 'Invalid API key' });

    const contentType = record.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('application/json') || settings.scenario === 'content_type') {
      return json(406, { error: 'Unsupported Content-Type: expected application/json' });
    }
    if (settings.scenario === 'credits') return json(406, { error: 'Insufficient credits. Please recharge your account.' });
    if (settings.scenario === 'spend_limit') return json(406, { error: 'Spend limit reached for this API key.' });
    if (settings.scenario === 'rate_limited') {
      const reset = settings.rateLimitResetAt ?? new Date(Date.now() + 60_000).toISOString();
      return json(429, { error: 'Rate limit exceeded' }, { 'x-rate-limit-reset-at-utc': reset });
    }
    if (record.body === undefined) return json(settings.badParamStatus, { error: 'Request body is not valid JSON' });
    const problem = checkSegmindBody(record.body, settings.strictFields);
    if (problem) return json(settings.badParamStatus, { error: problem });
    if (settings.scenario === 'server_error') return json(500, { error: 'Internal Server Error' });
    if (settings.scenario === 'hang') return; // left open; close() ends it

    const body = record.body as Record<string, unknown>;
    const seed = typeof body.seed === 'number' && body.seed !== -1 ? body.seed : settings.randomSeed;
    credits = Math.round((credits - settings.cost) * 1e6) / 1e6;
    counter += 1;
    const headers: Record<string, string> = {
      'x-remaining-credits': String(credits),
      'x-cost': String(settings.cost),
      'x-generation-time': '0.012',
      'x-seed-value': String(seed),
      'x-request-id': `req-${counter.toString().padStart(6, '0')}`,
    };
    record.status = 200;
    if (settings.scenario === 'empty') {
      res.writeHead(200, { 'Content-Type': 'video/mp4', ...headers });
      res.end();
      return;
    }
    if (body.base64 !== true) {
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(settings.video.length), ...headers });
      res.end(Buffer.from(settings.video));
      return;
    }
    const b64 = Buffer.from(settings.video).toString('base64');
    switch (settings.base64Shape) {
      case 'text':
        res.writeHead(200, { 'Content-Type': 'text/plain', ...headers });
        res.end(b64);
        return;
      case 'bare-json':
        res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify(b64));
        return;
      case 'data-url':
        res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify({ video: `data:video/mp4;base64,${b64}` }));
        return;
      default:
        res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify({ [settings.base64Shape]: b64 }));
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody === '' ? undefined : JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      const record: RecordedRequest = { method: req.method ?? '', path: req.url ?? '/', headers, rawBody, body };
      requests.push(record);
      pending.add(res);
      res.on('close', () => pending.delete(res));
      const run = () => handle(req, res, record).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: String(e) }));
      });
      if (settings.delayMs > 0 && req.method !== 'OPTIONS') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          void run();
        }, settings.delayMs);
        timers.add(timer);
      }
      else void run();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}${SEGMIND_PATH}`,
    origin,
    port,
    requests,
    get credits() {
      return credits;
    },
    setScenario(scenario, options = {}) {
      settings = { ...settings, ...options, scenario };
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of pending) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
