import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validateRequest, type SvdRequest } from '../../src/contract/request.ts';
import { SegmindError, generateRemote, sniffMime, type SegmindErrorKind } from '../../src/engine/segmind/api.ts';
import { decodeBase64 } from '../../src/common/base64.ts';
import { fakeMp4, startSegmindServer, type Base64Shape, type SegmindServer } from '../support/segmind-server.ts';

const KEY = 'sk-test-123';
const IMAGE = Buffer.from('not really a png').toString('base64');

function request(input: Record<string, unknown> = {}): SvdRequest {
  const r = validateRequest(input, { backend: 'segmind' });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
  return r.request;
}

async function failure(promise: Promise<unknown>): Promise<SegmindError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(SegmindError);
    return e as SegmindError;
  }
  throw new Error('expected the call to fail');
}

let server: SegmindServer;

beforeAll(async () => {
  server = await startSegmindServer({ apiKey: KEY, credits: 10, cost: 0.17 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.setScenario('ok', { delayMs: 0, base64Shape: 'image' });
  server.requests.length = 0;
});

describe('success', () => {
  it('returns the video bytes and the documented headers', async () => {
    const result = await generateRemote(request({ seed: 1234, frames: 25, steps: 50 }), IMAGE, { apiKey: KEY, endpoint: server.url });
    expect(result.video).toEqual(fakeMp4());
    expect(result.mimeType).toBe('video/mp4');
    expect(result.seed).toBe(1234);
    expect(result.cost).toBe(0.17);
    expect(result.remainingCredits).toBeCloseTo(10 - 0.17 * 1, 6);
    expect(result.generationTime).toBeCloseTo(0.012);
    expect(result.requestId).toMatch(/^req-\d+$/);

    expect(server.requests).toHaveLength(1);
    const sent = server.requests[0];
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/svd');
    expect(sent.headers['x-api-key']).toBe(KEY);
    expect(sent.headers['content-type']).toBe('application/json');
    // Only API fields: the local `steps` never leaves the machine.
    expect(sent.body).toEqual({
      image: IMAGE, fps: 7, motion: 127, seed: 1234, cond_aug: 0.02, frames: 25, resize_method: 'maintain_aspect_ratio', base64: false,
    });
  });

  it('reports the seed Segmind picked for seed -1', async () => {
    const result = await generateRemote(request(), `data:image/png;base64,${IMAGE}`, { apiKey: KEY, endpoint: server.url });
    expect(result.seed).toBe(424242);
    expect((server.requests[0].body as { image: string }).image).toBe(IMAGE);
  });

  const shapes: Base64Shape[] = ['image', 'video', 'output', 'data', 'bare-json', 'text', 'data-url'];
  for (const shape of shapes) {
    it(`decodes a base64 answer shaped "${shape}"`, async () => {
      server.setScenario('ok', { base64Shape: shape });
      const result = await generateRemote(request({ base64: true }), IMAGE, { apiKey: KEY, endpoint: server.url });
      expect(result.video).toEqual(fakeMp4());
      expect(result.mimeType).toBe('video/mp4');
      expect(result.seed).toBe(424242);
      expect((server.requests[0].body as { base64: boolean }).base64).toBe(true);
    });
  }

  it('fails clearly on an empty video', async () => {
    server.setScenario('empty');
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: server.url }));
    expect(e.kind).toBe('unexpected');
    expect(e.message).toMatch(/empty video/);
  });
});

describe('refused before any network call', () => {
  it('a request Segmind cannot take (frames 20)', async () => {
    const local = validateRequest({ frames: 20 }, { backend: 'local' });
    if (!local.ok) throw new Error('setup');
    const e = await failure(generateRemote(local.request, IMAGE, { apiKey: KEY, endpoint: server.url }));
    expect(e.kind).toBe('bad_request');
    expect(e.message).toContain('frames must be 14 or 25 for the Segmind API (got 20)');
    expect(server.requests).toHaveLength(0);
  });

  it('no API key', async () => {
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: '  ', endpoint: server.url }));
    expect(e.kind).toBe('unauthorized');
    expect(e.message).toMatch(/No Segmind API key/);
    expect(server.requests).toHaveLength(0);
  });

  it('no image', async () => {
    const e = await failure(generateRemote(request(), '', { apiKey: KEY, endpoint: server.url }));
    expect(e.kind).toBe('bad_request');
    expect(server.requests).toHaveLength(0);
  });

  it('an http endpoint that is not localhost (the key would travel in the clear)', async () => {
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: 'http://example.com/v1/svd' }));
    expect(e.kind).toBe('bad_request');
    expect(e.message).toMatch(/must use https/);
  });
});

describe('errors', () => {
  async function expectError(kind: SegmindErrorKind, status: number | undefined, pattern: RegExp, apiKey = KEY) {
    const e = await failure(generateRemote(request(), IMAGE, { apiKey, endpoint: server.url }));
    expect(e.kind).toBe(kind);
    expect(e.status).toBe(status);
    expect(e.message).toMatch(pattern);
    return e;
  }

  it('401 for a bad key, with the API text', async () => {
    const e = await expectError('unauthorized', 401, /rejected the API key \(401\)\. Segmind said: "Invalid API key"/, 'wrong-key');
    expect(e.apiMessage).toBe('Invalid API key');
    expect(server.requests[0].headers['x-api-key']).toBe('wrong-key');
  });

  it('406 insufficient credits', async () => {
    server.setScenario('credits');
    const e = await expectError('payment', 406, /does not have enough credits \(406\)\. Segmind said: "Insufficient credits/);
    expect(e.apiMessage).toMatch(/Insufficient credits/);
  });

  it('406 spend limit', async () => {
    server.setScenario('spend_limit');
    await expectError('payment', 406, /reached its spend limit \(406\)/);
  });

  it('406 wrong content type', async () => {
    server.setScenario('content_type');
    await expectError('content_type', 406, /content type \(406\).*Unsupported Content-Type/);
  });

  it('429 shows when the limit resets', async () => {
    server.setScenario('rate_limited', { rateLimitResetAt: '2031-05-06T07:08:09Z' });
    const e = await expectError('rate_limited', 429, /rate limit was reached \(429\).*Try again after 2031-05-06 07:08:09 UTC/);
    expect(e.resetAt).toBe('2031-05-06T07:08:09Z');
  });

  it('500 points at parameter values and says nothing was charged', async () => {
    server.setScenario('server_error');
    await expectError('server', 500, /server error \(500\)\. Segmind said: "Internal Server Error"\. .*parameter value.*not charged/);
  });

  it('500 for a bad parameter carries the API text', async () => {
    // Send a body the client would never produce, through a fetch that edits it, to see the server's own check.
    const editing: typeof fetch = (url, init) => {
      const body = JSON.parse(String(init?.body));
      body.motion = 500;
      return fetch(url, { ...init, body: JSON.stringify(body) });
    };
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: server.url, fetch: editing }));
    expect(e.kind).toBe('server');
    expect(e.apiMessage).toBe('motion must be an integer in [1, 180]');
  });

  it('405 HTML becomes a sentence, not markup', async () => {
    server.setScenario('method_not_allowed');
    const e = await expectError('bad_request', 405, /405 Method Not Allowed.*endpoint .* is probably wrong/);
    expect(e.message).not.toContain('<');
  });

  it('network failure (closed port)', async () => {
    const gone = await startSegmindServer();
    const url = gone.url;
    await gone.close();
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: url }));
    expect(e.kind).toBe('network');
    expect(e.message).toMatch(/Could not reach Segmind at http:\/\/127\.0\.0\.1:\d+\/v1\/svd .*ECONNREFUSED/);
  });

  it('abort by the caller', async () => {
    server.setScenario('hang');
    const controller = new AbortController();
    const pending = generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: server.url, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const e = await failure(pending);
    expect(e.kind).toBe('aborted');
    expect(e.message).toBe('The Segmind request was cancelled.');
  });

  it('an already-aborted signal sends nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: server.url, signal: controller.signal }));
    expect(e.kind).toBe('aborted');
    expect(server.requests).toHaveLength(0);
  });

  it('timeout', async () => {
    server.setScenario('ok', { delayMs: 2_000 });
    const e = await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: server.url, timeoutMs: 100 }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/^Segmind did not finish within 0.1 s, so the request was abandoned\. It was not retried/);
  });

  it('never retries a failed POST', async () => {
    for (const scenario of ['server_error', 'rate_limited', 'credits'] as const) {
      server.requests.length = 0;
      server.setScenario(scenario);
      await failure(generateRemote(request(), IMAGE, { apiKey: KEY, endpoint: server.url }));
      expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    }
  });
});

describe('the fake server itself', () => {
  it('refuses GET with 405 HTML and a missing key with 401', async () => {
    const get = await fetch(server.url);
    expect(get.status).toBe(405);
    expect(get.headers.get('content-type')).toMatch(/text\/html/);
    const noKey = await fetch(server.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({ error: expect.stringMatching(/Missing API key/) });
  });

  it('answers 406 for a non-JSON content type and 500 for local-only fields', async () => {
    const text = await fetch(server.url, { method: 'POST', headers: { 'x-api-key': KEY, 'Content-Type': 'text/plain' }, body: 'hi' });
    expect(text.status).toBe(406);
    const extra = await fetch(server.url, {
      method: 'POST', headers: { 'x-api-key': KEY, 'Content-Type': 'application/json' }, body: JSON.stringify({ image: IMAGE, steps: 10 }),
    });
    expect(extra.status).toBe(500);
    expect(await extra.json()).toEqual({ error: 'unknown parameter(s): steps' });
  });

  it('answers CORS preflights for browser tests', async () => {
    const pre = await fetch(server.url, { method: 'OPTIONS', headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toContain('x-api-key');
  });
});

describe('helpers', () => {
  it('decodeBase64 handles standard, URL-safe, unpadded and bad input', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const b64 = Buffer.from(bytes).toString('base64');
    expect(decodeBase64(b64)).toEqual(bytes);
    expect(decodeBase64(Buffer.from(bytes).toString('base64url'))).toEqual(bytes);
    expect(decodeBase64(b64.replace(/=+$/, '').replace(/(.{76})/g, '$1\n'))).toEqual(bytes);
    expect(decodeBase64('not base64!')).toBeUndefined();
    expect(decodeBase64('')).toEqual(new Uint8Array(0));
  });

  it('sniffMime recognises MP4', () => {
    expect(sniffMime(fakeMp4())).toBe('video/mp4');
    expect(sniffMime(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });
});
