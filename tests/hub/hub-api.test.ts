/**
 * The Hub client against the fake Hub (e2e/support/hub-server.ts) over real HTTP: listing, checkpoint selection,
 * the Hub's refusals in the user's words, retries, resumable reads through the 302 to the file host, and where the
 * token goes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type FakeHub } from '../../e2e/support/hub-server.ts';
import {
  TOKENS_PAGE,
  authHeaders,
  fetchRepoListing,
  modelPageUrl,
  openHubFile,
  parseRepoInput,
  resolveUrl,
  retryGaveUp,
  type HubListing,
} from '../../src/hub/hub-api.ts';
import { selectCheckpointFiles } from '../../src/hub/checkpoint-files.ts';
import { ModelDeliveryError } from '../../src/models/errors.ts';

const SVD = 'stabilityai/stable-video-diffusion-img2vid-xt';
const PUBLIC = 'someone/svd-public';
const TOKEN = 'hf_accepted_token';
const PENDING = 'hf_not_accepted_token';
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
/** plain Uint8Array (randomBytes gives a Buffer, which toEqual tells apart) */
const rnd = (n: number) => new Uint8Array(randomBytes(n));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The official layout, in miniature: fp16 and full-precision weights, the single-file checkpoints, configs. */
const files: Record<string, Uint8Array> = {
  'model_index.json': json({ _class_name: 'StableVideoDiffusionPipeline' }),
  'unet/config.json': json({ in_channels: 8 }),
  'vae/config.json': json({ latent_channels: 4 }),
  'image_encoder/config.json': json({ hidden_size: 1280 }),
  'scheduler/scheduler_config.json': json({ _class_name: 'EulerDiscreteScheduler' }),
  'feature_extractor/preprocessor_config.json': json({ crop_size: 224 }),
  'unet/diffusion_pytorch_model.fp16.safetensors': rnd(48_000),
  'unet/diffusion_pytorch_model.safetensors': rnd(96_000),
  'vae/diffusion_pytorch_model.fp16.safetensors': rnd(20_000),
  'vae/diffusion_pytorch_model.safetensors': rnd(40_000),
  'image_encoder/model.fp16.safetensors': rnd(12_000),
  'image_encoder/model.safetensors': rnd(24_000),
  'svd_xt.safetensors': rnd(30_000),
  'README.md': new TextEncoder().encode('# SVD\n'),
};
const UNET = 'unet/diffusion_pytorch_model.fp16.safetensors';

let hub: FakeHub;
beforeAll(async () => {
  hub = await startHubServer({
    repos: [
      { repo: SVD, gated: 'auto', files },
      { repo: PUBLIC, files },
    ],
    tokens: { accepted: [TOKEN], notAccepted: [PENDING] },
  });
});
afterAll(() => hub.close());

const fast = { maxAttempts: 4, backoffBaseMs: 5, backoffCapMs: 20, timeoutMs: 5000 };

async function rejection(p: Promise<unknown>): Promise<ModelDeliveryError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ModelDeliveryError);
  return e as ModelDeliveryError;
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return new Uint8Array(Buffer.concat(parts));
}

function source(repo: string, path: string, token?: string) {
  return openHubFile(resolveUrl(hub.hubUrl, repo, 'main', path), { hubUrl: hub.hubUrl, repo, revision: 'main', path, token, stallTimeoutMs: 5000 });
}

describe('parseRepoInput', () => {
  it('accepts ids, ids with a revision and Hub addresses', () => {
    expect(parseRepoInput(SVD)).toEqual({ repo: SVD, revision: 'main' });
    expect(parseRepoInput(`  ${SVD}/ \n`)).toEqual({ repo: SVD, revision: 'main' });
    expect(parseRepoInput(`${SVD}@fp16-v2`)).toEqual({ repo: SVD, revision: 'fp16-v2' });
    expect(parseRepoInput(`https://huggingface.co/${SVD}`)).toEqual({ repo: SVD, revision: 'main' });
    expect(parseRepoInput(`https://huggingface.co/${SVD}/`)).toEqual({ repo: SVD, revision: 'main' });
    expect(parseRepoInput(`https://huggingface.co/${SVD}/tree/refs%2Fpr%2F3`)).toEqual({ repo: SVD, revision: 'refs/pr/3' });
    expect(parseRepoInput('a_b/c.d-e')).toEqual({ repo: 'a_b/c.d-e', revision: 'main' });
  });

  it.each(['foo', '', 'a/b/c', 'a/../b', 'a/b..c', '-a/b', 'a/b-', 'a b/c', 'owner/name@', `https://example.com/${SVD}`, `https://huggingface.co/datasets/${SVD}`, `x/${'n'.repeat(95)}`])(
    'refuses %j, saying what form is expected',
    (text) => {
      try {
        parseRepoInput(text);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ModelDeliveryError);
        expect((e as ModelDeliveryError).code).toBe('not-found');
        expect((e as Error).message).toContain(`"${text.trim()}" is not a Hugging Face repository id: write it as owner/name, e.g. ${SVD}`);
      }
    },
  );
});

describe('urls and headers', () => {
  it('builds resolve and model page addresses, encoding the revision and each path segment', () => {
    expect(resolveUrl('https://huggingface.co', SVD, 'refs/pr/1', 'unet/a b.json')).toBe(`https://huggingface.co/${SVD}/resolve/refs%2Fpr%2F1/unet/a%20b.json`);
    expect(modelPageUrl('https://huggingface.co', SVD)).toBe(`https://huggingface.co/${SVD}`);
  });

  it('sends the token to the Hub origin only', () => {
    expect(authHeaders('https://huggingface.co', `https://huggingface.co/${SVD}/resolve/main/x`, 'tok')).toEqual({ Authorization: 'Bearer tok' });
    expect(authHeaders('https://huggingface.co', 'https://cdn-lfs.hf.co/x', 'tok')).toEqual({});
    expect(authHeaders('https://huggingface.co', 'http://huggingface.co/x', 'tok')).toEqual({});
    expect(authHeaders('https://huggingface.co', 'https://huggingface.co.evil.example/x', 'tok')).toEqual({});
    expect(authHeaders('https://huggingface.co', 'https://huggingface.co/x', '')).toEqual({});
    expect(authHeaders('https://huggingface.co', 'https://huggingface.co/x')).toEqual({});
  });
});

describe('listing and selection', () => {
  let listing: HubListing;
  it('lists every file with its size and LFS sha256, without a token even for a gated repository', async () => {
    listing = await fetchRepoListing({ repo: SVD, revision: 'main' }, { hubUrl: hub.hubUrl, ...fast });
    expect(listing.repo).toBe(SVD);
    expect(listing.gated).toBe('auto');
    expect(listing.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(listing.files.map((f) => f.path).sort()).toEqual(Object.keys(files).sort());
    for (const f of listing.files) {
      expect(f.bytes).toBe(files[f.path].length);
      if (f.path.endsWith('.safetensors')) expect(f.sha256).toBe(sha256(files[f.path]));
      else expect(f.sha256).toBeUndefined();
    }
    const byCommit = await fetchRepoListing({ repo: SVD, revision: listing.commit }, { hubUrl: hub.hubUrl, ...fast });
    expect(byCommit.files).toEqual(listing.files);
  });

  it('selects exactly the configs and the fp16 weights', () => {
    const sel = selectCheckpointFiles(listing);
    expect(sel.configs.map((f) => f.path)).toEqual([
      'model_index.json',
      'unet/config.json',
      'vae/config.json',
      'image_encoder/config.json',
      'scheduler/scheduler_config.json',
      'feature_extractor/preprocessor_config.json',
    ]);
    expect(sel.weights.unet.path).toBe(UNET);
    expect(sel.weights.vae.path).toBe('vae/diffusion_pytorch_model.fp16.safetensors');
    expect(sel.weights.image_encoder.path).toBe('image_encoder/model.fp16.safetensors');
    expect(sel.storage).toEqual({ unet: 'fp16', vae: 'fp16', image_encoder: 'fp16' });
    const chosen = [...sel.configs, ...Object.values(sel.weights)];
    expect(sel.downloadBytes).toBe(chosen.reduce((a, f) => a + files[f.path].length, 0));
  });

  it('falls back to full-precision weights when there is no fp16 copy', () => {
    const files32 = listing.files.filter((f) => !f.path.includes('.fp16.'));
    const sel = selectCheckpointFiles({ ...listing, files: files32 });
    expect(sel.weights.unet.path).toBe('unet/diffusion_pytorch_model.safetensors');
    expect(sel.storage).toEqual({ unet: 'fp32', vae: 'fp32', image_encoder: 'fp32' });
  });

  it('names every missing file, and says when only .bin weights are there', () => {
    const partial = listing.files.filter((f) => !f.path.startsWith('vae/') && f.path !== 'model_index.json' && !f.path.startsWith('image_encoder/model'));
    partial.push({ path: 'image_encoder/pytorch_model.bin', bytes: 1 }, { path: 'image_encoder/model.bin', bytes: 1 });
    try {
      selectCheckpointFiles({ ...listing, files: partial });
      expect.unreachable();
    } catch (e) {
      const err = e as ModelDeliveryError;
      expect(err.code).toBe('not-found');
      for (const p of ['model_index.json', 'vae/config.json', 'vae/diffusion_pytorch_model.fp16.safetensors', 'image_encoder/model.fp16.safetensors']) expect(err.message).toContain(p);
      expect(err.message).toContain('not a diffusers-layout Stable Video Diffusion repository');
      expect(err.message).toContain('only PyTorch .bin weights');
    }
  });

  it('refuses weights it cannot verify', () => {
    const files = listing.files.map((f) => (f.path === UNET ? { path: f.path, bytes: f.bytes } : f));
    expect(() => selectCheckpointFiles({ ...listing, files })).toThrow(/cannot be verified/);
  });
});

describe('refusals in plain words', () => {
  it('a gated file without a token: accept the licence, create a token, paste it', async () => {
    const err = await rejection(source(SVD, UNET)(0, new AbortController().signal));
    expect(err.code).toBe('gated');
    expect(err.message).toContain(`${hub.hubUrl}/${SVD}`);
    expect(err.message).toContain(TOKENS_PAGE);
  });

  it('a token whose account has not accepted the licence: 403', async () => {
    const err = await rejection(source(SVD, UNET, PENDING)(0, new AbortController().signal));
    expect(err.code).toBe('licence');
    expect(err.message).toContain('accept the licence');
    expect(err.message).toContain(`${hub.hubUrl}/${SVD}`);
  });

  it('a token the Hub does not know', async () => {
    const err = await rejection(fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { hubUrl: hub.hubUrl, token: 'hf_typo', ...fast }));
    expect(err.code).toBe('gated');
    expect(err.message).toContain('did not accept the access token');
    expect(err.message).toContain(TOKENS_PAGE);
  });

  it('an unknown repository, signed out (401) and signed in (404); an unknown revision', async () => {
    for (const token of [undefined, TOKEN]) {
      const err = await rejection(fetchRepoListing({ repo: 'nobody/nothing', revision: 'main' }, { hubUrl: hub.hubUrl, token, ...fast }));
      expect(err.code).toBe('not-found');
      expect(err.message).toContain('Hugging Face has no repository nobody/nothing');
    }
    expect(hub.log.filter((r) => r.path.includes('nobody/nothing')).map((r) => r.status)).toEqual([401, 404]);
    const err = await rejection(fetchRepoListing({ repo: PUBLIC, revision: 'v9' }, { hubUrl: hub.hubUrl, ...fast }));
    expect(err.code).toBe('not-found');
    expect(err.message).toContain('"v9"');
  });

  it('an unknown file names the file and revision', async () => {
    const err = await rejection(source(SVD, 'unet/missing.safetensors', TOKEN)(0, new AbortController().signal));
    expect(err.code).toBe('not-found');
    expect(err.message).toContain('unet/missing.safetensors');
    expect(err.message).toContain('"main"');
  });
});

describe('retries', () => {
  const apiCalls = () => hub.log.filter((r) => r.origin === 'hub' && r.path.startsWith(`/api/models/${PUBLIC}/`)).length;

  it('429 twice, then the listing', async () => {
    const before = apiCalls();
    hub.failNext('api', 429, 2);
    const listing = await fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { hubUrl: hub.hubUrl, ...fast });
    expect(listing.files.length).toBe(Object.keys(files).length);
    expect(apiCalls() - before).toBe(3);
  });

  it('503 forever: gives up after maxAttempts requests', async () => {
    const before = apiCalls();
    hub.failNext('api', 503, 10);
    const err = await rejection(fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { hubUrl: hub.hubUrl, ...fast, maxAttempts: 3 }));
    expect(err.code).toBe('network');
    expect(err.message).toContain('having trouble');
    expect(err.message).toContain('Retry resumes');
    expect(apiCalls() - before).toBe(3);
    // drain what is left of the queued failures
    await fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { hubUrl: hub.hubUrl, maxAttempts: 20, backoffBaseMs: 1, backoffCapMs: 1 });
  });

  it('honours Retry-After (capped), explains rate limiting, and stops on abort', async () => {
    let calls = 0;
    const stub = (async () => {
      calls++;
      return new Response('slow down', { status: 429, headers: { 'Retry-After': '3600' } });
    }) as typeof fetch;
    const t0 = Date.now();
    const err = await rejection(fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { fetch: stub, maxAttempts: 3, backoffBaseMs: 1, backoffCapMs: 50 }));
    expect(calls).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(err.message).toContain('limiting the rate');
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 20);
    const aborted = await rejection(fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { fetch: stub, signal: ctl.signal, backoffBaseMs: 10_000, backoffCapMs: 10_000 }));
    expect(aborted.code).toBe('cancelled');
  });

  it('a listing that is not JSON is an http error', async () => {
    const stub = (async () => new Response('<html>', { status: 200 })) as typeof fetch;
    const err = await rejection(fetchRepoListing({ repo: PUBLIC, revision: 'main' }, { fetch: stub }));
    expect(err.code).toBe('http');
    expect(err.message).toContain('not understood');
  });

  it('retryGaveUp advises by cause', () => {
    expect(retryGaveUp('x', 4, 'fetch failed').message).toContain('Check the internet connection');
  });
});

describe('openHubFile', () => {
  const whole = files[UNET];

  it('reads a file from 0 and resumes from an offset through the 302, the token reaching the Hub only', async () => {
    const before = hub.log.length;
    const open = source(SVD, UNET, TOKEN);
    const a = await open(0, new AbortController().signal);
    expect(a.start).toBe(0);
    expect(await readAll(a.body)).toEqual(whole);
    const b = await open(30_000, new AbortController().signal);
    expect(b.start).toBe(30_000);
    expect(await readAll(b.body)).toEqual(whole.subarray(30_000));
    const log = hub.log.slice(before);
    expect(log.filter((r) => r.origin === 'hub').map((r) => [r.status, r.authorization])).toEqual([
      [302, `Bearer ${TOKEN}`],
      [302, `Bearer ${TOKEN}`],
    ]);
    const cdn = log.filter((r) => r.origin === 'cdn');
    expect(cdn.map((r) => [r.status, r.range, r.bytes])).toEqual([
      [200, undefined, whole.length],
      [206, 'bytes=30000-', whole.length - 30_000],
    ]);
    expect(hub.log.filter((r) => r.origin === 'cdn').every((r) => r.authorization === undefined)).toBe(true);
  });

  it('serves small files from the Hub itself, and answers start -1 past the end', async () => {
    const open = source(PUBLIC, 'unet/config.json');
    const a = await open(0, new AbortController().signal);
    expect(await readAll(a.body)).toEqual(files['unet/config.json']);
    const past = await open(files['unet/config.json'].length + 10, new AbortController().signal);
    expect(past.start).toBe(-1);
  });

  it('a cut connection makes the body stream fail after the bytes sent', async () => {
    const path = 'vae/diffusion_pytorch_model.fp16.safetensors';
    const served = hub.bytesServed(path);
    hub.cutNext(path, 5000);
    const { body } = await source(PUBLIC, path)(0, new AbortController().signal);
    const reader = body.getReader();
    let got = 0;
    const err = await (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return null;
          got += value.length;
        }
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(Error);
    expect(got).toBe(5000);
    expect(hub.bytesServed(path) - served).toBe(5000);
  });

  it('the cdn paces its bodies when throttled, and refuses an address the Hub did not sign', async () => {
    const path = 'vae/diffusion_pytorch_model.fp16.safetensors';
    hub.throttle(200_000);
    const t0 = Date.now();
    const { body } = await source(PUBLIC, path)(0, new AbortController().signal);
    expect((await readAll(body)).length).toBe(files[path].length);
    hub.throttle(null);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80); // 20 kB at 200 kB/s
    const forged = await fetch(`${hub.cdnUrl}/lfs/${sha256(files[path])}?expires=9999999999&signature=0`);
    expect(forged.status).toBe(403);
    expect(forged.headers.get('Access-Control-Allow-Origin')).toBe('*');
  });

  it('answers CORS preflights on both origins, and logs them', async () => {
    for (const origin of [hub.hubUrl, hub.cdnUrl]) {
      const res = await fetch(`${origin}/${SVD}/resolve/main/${UNET}`, { method: 'OPTIONS', headers: { 'Access-Control-Request-Headers': 'authorization,range' } });
      expect(res.status).toBe(204);
      expect(res.headers.get('Access-Control-Allow-Headers')).toBe('authorization,range');
      expect(res.headers.get('Access-Control-Allow-Methods')).toBe('GET, HEAD, OPTIONS');
    }
    expect(hub.log.slice(-2).map((r) => [r.origin, r.method, r.status])).toEqual([
      ['hub', 'OPTIONS', 204],
      ['cdn', 'OPTIONS', 204],
    ]);
  });

  it('429 and 5xx are plain errors the transfer engine retries', async () => {
    hub.failNext(UNET, 503);
    const e = await source(PUBLIC, UNET)(0, new AbortController().signal).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(ModelDeliveryError);
    expect((e as Error).message).toBe('HTTP 503');
  });
});
