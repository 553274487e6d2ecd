/**
 * A fake Hugging Face Hub for tests, on two origins of 127.0.0.1 like the real one: the hub (model API, `resolve`
 * URLs, tokens, gating) and the file host ("cdn") that LFS files redirect to with a signed address. Status codes,
 * `X-Error-Code` / `X-Error-Message`, redirect and CORS headers follow what huggingface.co sends, so a client that
 * works here meets no surprise there. Faults: cut a file's body, fail the next requests, throttle the cdn.
 * Every request is logged (preflights too), with its Authorization and Range headers.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { fstatSync, openSync, readSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRepo {
  repo: string;
  /** 'main' by default */
  revision?: string;
  /** 40 hex; derived from the content by default */
  commit?: string;
  gated?: false | 'auto' | 'manual';
  /** a file's bytes, or a file on disk to serve (benchmarks: multi-GB checkpoints are not held in memory) */
  files: Map<string, Uint8Array | DiskFile> | Record<string, Uint8Array | DiskFile>;
}

export interface DiskFile {
  file: string;
}

export interface HubRequest {
  origin: 'hub' | 'cdn';
  method: string;
  /** URL path + query */
  path: string;
  authorization?: string;
  range?: string;
  status: number;
  /** body bytes sent */
  bytes: number;
}

export interface FakeHub {
  hubUrl: string;
  cdnUrl: string;
  log: HubRequest[];
  /** the next GET(s) of that file's bytes (cdn; a small file's on the hub) send `afterBytes` body bytes, then the connection closes */
  cutNext(path: string, afterBytes: number, times?: number): void;
  /** the next listing requests ('api') or the next resolve requests of that file answer `status` instead */
  failNext(kind: 'api' | (string & {}), status: number, times?: number): void;
  /** drops every queued cut and failure */
  clearFaults(): void;
  /** cdn send rate in bytes per second; null: full speed */
  throttle(bytesPerSecond: number | null): void;
  /** body bytes of that file sent so far, all requests (the cdn's; a small file's from the hub) */
  bytesServed(path: string): number;
  close(): Promise<void>;
}

export interface HubServerOptions {
  repos: FakeRepo[];
  tokens?: { accepted?: string[]; notAccepted?: string[] };
}

interface Blob {
  path: string;
  size: number;
  /** bytes [start, end) */
  slice(start: number, end: number): Uint8Array;
  sha256: string;
  /** git blob sha1: of the pointer file for LFS files */
  blobId: string;
  lfs: boolean;
  pointerSize: number;
}

interface Repo {
  id: string;
  revision: string;
  commit: string;
  gated: false | 'auto' | 'manual';
  files: Map<string, Blob>;
}

const EXPOSE = 'X-Repo-Commit, X-Request-Id, X-Error-Code, X-Error-Message, X-Linked-Size, X-Linked-ETag, ETag, Content-Range, Accept-Ranges, Content-Length, Link';
const LFS_MIN_BYTES = 10_000;
const sha = (alg: string, data: Uint8Array | string) => createHash(alg).update(data).digest('hex');
const gitBlobId = (data: Uint8Array | string) => sha('sha1', Buffer.concat([Buffer.from(`blob ${Buffer.byteLength(data)}\0`), Buffer.from(data)]));

function prepareRepo(r: FakeRepo): Repo {
  const entries = r.files instanceof Map ? [...r.files] : Object.entries(r.files);
  const files = new Map<string, Blob>();
  for (const [path, content] of entries) {
    let size: number;
    let slice: Blob['slice'];
    let sha256: string;
    let small: Uint8Array | undefined;
    if (content instanceof Uint8Array) {
      size = content.length;
      slice = (a, b) => content.subarray(a, b);
      sha256 = sha('sha256', content);
      small = content;
    } else {
      const fd = openSync(content.file, 'r');
      size = fstatSync(fd).size;
      slice = (a, b) => {
        const buf = Buffer.allocUnsafe(b - a);
        let done = 0;
        while (done < buf.length) done += readSync(fd, buf, done, buf.length - done, a + done);
        return buf;
      };
      const h = createHash('sha256');
      for (let at = 0; at < size; at += 16 << 20) h.update(slice(at, Math.min(size, at + (16 << 20))));
      sha256 = h.digest('hex');
      if (size < LFS_MIN_BYTES) small = slice(0, size);
    }
    const lfs = path.endsWith('.safetensors') || size >= LFS_MIN_BYTES;
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
    files.set(path, { path, size, slice, sha256, lfs, blobId: gitBlobId(lfs || !small ? pointer : small), pointerSize: Buffer.byteLength(pointer) });
  }
  const revision = r.revision ?? 'main';
  const commit = r.commit ?? sha('sha1', [r.repo, revision, ...[...files.values()].map((f) => `${f.path}:${f.sha256}`).sort()].join('\n'));
  return { id: r.repo, revision, commit, gated: r.gated ?? false, files };
}

export async function startHubServer(options: HubServerOptions): Promise<FakeHub> {
  const repos = new Map(options.repos.map((r) => [r.repo, prepareRepo(r)]));
  const accepted = new Set(options.tokens?.accepted ?? []);
  const notAccepted = new Set(options.tokens?.notAccepted ?? []);
  const secret = randomBytes(16).toString('hex');
  const log: HubRequest[] = [];
  const cuts = new Map<string, number[]>();
  const fails = new Map<string, number[]>();
  const served = new Map<string, number>();
  let rate: number | null = null;
  let hubUrl = '';
  let cdnUrl = '';

  const take = <T>(queue: Map<string, T[]>, key: string): T | undefined => {
    const q = queue.get(key);
    const v = q?.shift();
    if (q && q.length === 0) queue.delete(key);
    return v;
  };
  const sign = (sha256: string, expires: number) => createHmac('sha256', secret).update(`${sha256}:${expires}`).digest('hex');

  /** Answers with CORS headers on every response, errors included, as the Hub does. */
  const responder = (origin: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse) => {
    const entry: HubRequest = { origin, method: req.method ?? 'GET', path: req.url ?? '/', status: 0, bytes: 0 };
    if (req.headers.authorization) entry.authorization = req.headers.authorization;
    if (req.headers.range) entry.range = req.headers.range;
    log.push(entry);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSE);
    res.setHeader('X-Request-Id', `Root=1-${randomBytes(12).toString('hex')}`);
    const head = (status: number, headers: Record<string, string | number> = {}) => {
      entry.status = status;
      res.writeHead(status, headers);
    };
    /** an error the Hub's way: X-Error-Code / X-Error-Message and a JSON body */
    const error = (status: number, message: string, code?: string) => {
      const body = JSON.stringify({ error: message });
      head(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...(code ? { 'X-Error-Code': code } : {}), 'X-Error-Message': message });
      entry.bytes = req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (value: unknown) => {
      const body = JSON.stringify(value);
      head(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      entry.bytes = req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const preflight = () => {
      const asked = req.headers['access-control-request-headers'];
      head(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': asked ? String(asked) : 'authorization, range, content-type',
        'Access-Control-Max-Age': 86400,
      });
      res.end();
    };
    /** the blob's bytes, with Range, a cut queued for one of `names` (the paths with this content) and (cdn) the throttle */
    const serve = (blob: Blob, names: string[], extra: Record<string, string | number>, throttled: boolean) => {
      const size = blob.size;
      let start = 0;
      let end = size - 1;
      let status = 200;
      const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (m && (m[1] !== '' || m[2] !== '')) {
        if (m[1] === '') start = Math.max(0, size - Number(m[2]));
        else {
          start = Number(m[1]);
          if (m[2] !== '') end = Math.min(end, Number(m[2]));
        }
        if (start >= size || start > end) {
          head(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
          return res.end();
        }
        status = 206;
      }
      head(status, {
        'Content-Type': blob.path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        'Content-Length': end - start + 1,
        'Accept-Ranges': 'bytes',
        ETag: `"${blob.lfs ? blob.sha256 : blob.blobId}"`,
        ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
        ...extra,
      });
      if (req.method === 'HEAD') return res.end();
      const cutFor = names.find((n) => cuts.has(n));
      const cut = cutFor === undefined ? undefined : take(cuts, cutFor);
      const stop = cut === undefined ? end + 1 : Math.min(end + 1, start + cut);
      const t0 = Date.now();
      let pos = start;
      const pump = () => {
        while (pos < stop && !res.destroyed) {
          const chunk = blob.slice(pos, Math.min(stop, pos + (throttled && rate ? 16 * 1024 : 256 * 1024)));
          pos += chunk.length;
          entry.bytes += chunk.length;
          for (const n of names) served.set(n, (served.get(n) ?? 0) + chunk.length);
          const ok = res.write(chunk);
          const wait = throttled && rate ? ((pos - start) / rate) * 1000 - (Date.now() - t0) : 0;
          if (wait > 0) return void setTimeout(pump, wait);
          if (!ok) return void res.once('drain', pump);
        }
        if (res.destroyed) return;
        // a cut: close the connection once the bytes so far are flushed; the client sees a body shorter than its length
        if (stop <= end) res.write('', () => res.socket?.destroy());
        else res.end();
      };
      pump();
    };
    return { entry, error, json, preflight, serve, head };
  };

  /** The account a request's token belongs to; 'invalid' gets 401 everywhere, as on the Hub. */
  const who = (req: IncomingMessage): 'anonymous' | 'accepted' | 'notAccepted' | 'invalid' => {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!req.headers.authorization) return 'anonymous';
    if (!m) return 'invalid';
    return accepted.has(m[1]) ? 'accepted' : notAccepted.has(m[1]) ? 'notAccepted' : 'invalid';
  };

  const hub = (req: IncomingMessage, res: ServerResponse) => {
    const r = responder('hub', req, res);
    if (req.method === 'OPTIONS') return r.preflight();
    if (req.method !== 'GET' && req.method !== 'HEAD') return r.error(405, 'Method not allowed');
    const url = new URL(req.url ?? '/', 'http://hub');
    let seg: string[];
    try {
      seg = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return r.error(400, 'Bad request');
    }
    const user = who(req);
    const isApi = seg[0] === 'api' && seg[1] === 'models' && (seg.length === 4 || (seg.length === 6 && seg[4] === 'revision'));
    const isResolve = seg.length >= 5 && seg[2] === 'resolve';
    if (!isApi && !isResolve) return r.error(404, 'Not found');
    const [owner, name] = isApi ? seg.slice(2, 4) : seg.slice(0, 2);
    const id = `${owner}/${name}`;
    const rev = isApi ? (seg[5] ?? 'main') : seg[3];
    const path = isResolve ? seg.slice(4).join('/') : '';

    const failure = take(fails, isApi ? 'api' : path);
    if (failure !== undefined) return r.error(failure, `fake failure: HTTP ${failure}`);
    if (user === 'invalid') return r.error(401, 'Invalid credentials in Authorization header');
    const repo = repos.get(id);
    // Signed out, the Hub does not tell an unknown repository from a private one: 401, not 404.
    if (!repo) return r.error(user === 'anonymous' ? 401 : 404, 'Repository not found', 'RepoNotFound');
    if (rev !== repo.revision && rev !== repo.commit) return r.error(404, `Invalid rev id: ${rev}`, 'RevisionNotFound');

    if (isApi) {
      const blobs = url.searchParams.get('blobs') === 'true';
      const siblings = [...repo.files.values()].map((f) =>
        !blobs ? { rfilename: f.path } : { rfilename: f.path, blobId: f.blobId, size: f.size, ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.size, pointerSize: f.pointerSize } } : {}) },
      );
      // the listing of a gated repository is public: only its files need access
      return r.json({ _id: sha('md5', repo.id).slice(0, 24), id: repo.id, modelId: repo.id, author: owner, sha: repo.commit, private: false, disabled: false, gated: repo.gated, library_name: 'diffusers', tags: [], siblings });
    }

    if (repo.gated && user === 'anonymous') {
      return r.error(401, `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`, 'GatedRepo');
    }
    if (repo.gated && user === 'notAccepted') {
      return r.error(403, `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repo.id} to ask for access.`, 'GatedRepo');
    }
    const blob = repo.files.get(path);
    if (!blob) return r.error(404, 'Entry not found', 'EntryNotFound');
    const common = { 'X-Repo-Commit': repo.commit };
    if (!blob.lfs) return r.serve(blob, [blob.path], common, false);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const location = `${cdnUrl}/lfs/${blob.sha256}?expires=${expires}&signature=${sign(blob.sha256, expires)}`;
    const body = `Found. Redirecting to ${location}`;
    r.head(302, {
      ...common,
      Location: location,
      'X-Linked-Size': blob.size,
      'X-Linked-ETag': `"${blob.sha256}"`,
      ETag: `"${blob.blobId}"`,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    r.entry.bytes = req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const cdn = (req: IncomingMessage, res: ServerResponse) => {
    const r = responder('cdn', req, res);
    if (req.method === 'OPTIONS') return r.preflight();
    if (req.method !== 'GET' && req.method !== 'HEAD') return r.error(405, 'Method not allowed');
    const url = new URL(req.url ?? '/', 'http://cdn');
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(url.pathname);
    if (!m) return r.error(404, 'Not found');
    // The file host trusts its signed address only, never a token: an expired or forged one is refused.
    const expires = Number(url.searchParams.get('expires'));
    if (!(expires * 1000 > Date.now()) || url.searchParams.get('signature') !== sign(m[1], expires)) return r.error(403, 'Request has expired or the signature does not match');
    // content-addressed, like the real file host: every path with these bytes is this one blob
    const same = [...repos.values()].flatMap((repo) => [...repo.files.values()]).filter((b) => b.lfs && b.sha256 === m[1]);
    if (same.length === 0) return r.error(404, 'Not found');
    r.serve(same[0], [...new Set(same.map((b) => b.path))], {}, true);
  };

  const sockets = new Set<Socket>();
  const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> => {
    const server = createServer(handler);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  };
  const h = await listen(hub);
  const c = await listen(cdn);
  hubUrl = h.url;
  cdnUrl = c.url;

  const queue = (map: Map<string, number[]>, key: string, value: number, times: number) => map.set(key, [...(map.get(key) ?? []), ...Array<number>(times).fill(value)]);
  return {
    hubUrl,
    cdnUrl,
    log,
    cutNext: (path, afterBytes, times = 1) => void queue(cuts, path, afterBytes, times),
    failNext: (kind, status, times = 1) => void queue(fails, kind, status, times),
    clearFaults: () => {
      cuts.clear();
      fails.clear();
    },
    throttle: (bps) => void (rate = bps && bps > 0 ? bps : null),
    bytesServed: (path) => served.get(path) ?? 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([h.server, c.server].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
