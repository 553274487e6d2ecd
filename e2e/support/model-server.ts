/**
 * A model host for the e2e suite: serves a folder over node:http on 127.0.0.1 with HTTP Range support, CORS and
 * `Cross-Origin-Resource-Policy: cross-origin` (the app page is cross-origin isolated), and fault injection per file:
 *
 *   cut      send the response up to byte `at` of the file, then close the connection (a dropped connection)
 *   stall    send up to byte `at`, then send nothing more and keep the connection open
 *   corrupt  flip one byte (`at`) of the file in this response
 *   status   answer with an HTTP status (404, 503…)
 *   slow     pace the body at `bytesPerSecond`
 *   ignore-range  answer 200 with the whole file even when a Range was asked
 *
 * Faults are queued per path and each applies to one request. Counts every request and the body bytes written per file.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, normalize, sep } from 'node:path';

export type Fault =
  | { kind: 'cut'; at: number }
  | { kind: 'stall'; at: number }
  | { kind: 'corrupt'; at: number }
  | { kind: 'status'; status: number }
  | { kind: 'slow'; bytesPerSecond: number }
  | { kind: 'ignore-range' };

export interface ServedRequest {
  path: string;
  method: string;
  range?: string;
  status: number;
  /** body bytes written for this request */
  bytes: number;
}

export interface ModelServer {
  origin: string;
  /** `${origin}/` — models are at `${url}<folder>/` */
  url: string;
  requests: ServedRequest[];
  /** body bytes written per path */
  bytesServed(path?: string): number;
  /** queue faults for a path (relative to the root, e.g. 'tiny/unet.data.0'); each applies to one request */
  fault(path: string, ...faults: Fault[]): void;
  /** sets every path to answer 404 (or back to normal) */
  setMissing(paths: string[]): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startModelServer(root: string): Promise<ModelServer> {
  const faults = new Map<string, Fault[]>();
  const missing = new Set<string>();
  const requests: ServedRequest[] = [];
  const sockets = new Set<Socket>();

  const cors = (res: ServerResponse) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range, Cache-Control');
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges, ETag');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Cache-Control', 'no-store');
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    cors(res);
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const record: ServedRequest = { path, method: req.method ?? 'GET', range: req.headers.range, status: 0, bytes: 0 };
    requests.push(record);
    const reply = (status: number, body = '') => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(body);
    };
    if (req.method === 'OPTIONS') return reply(204);
    const fault = faults.get(path)?.shift();
    if (fault?.kind === 'status') return reply(fault.status, `fault: HTTP ${fault.status}`);
    const file = normalize(join(root, path));
    if (!file.startsWith(normalize(root) + sep) || missing.has(path)) return reply(404, 'not found');
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return reply(404, 'not found');
      size = st.size;
    } catch {
      return reply(404, 'not found');
    }
    let start = 0;
    let end = size - 1;
    let status = 200;
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && fault?.kind !== 'ignore-range') {
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= size || start > end) {
        record.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        return res.end();
      }
      status = 206;
    }
    record.status = status;
    const headers: Record<string, string | number> = {
      'Content-Type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'Content-Length': end - start + 1,
      'Accept-Ranges': 'bytes',
    };
    if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return res.end();

    // Stream the body in 64 KiB pieces, applying the fault.
    const stopAt = fault?.kind === 'cut' || fault?.kind === 'stall' ? Math.max(start, Math.min(end + 1, fault.at)) : end + 1;
    const stream = createReadStream(file, { start, end, highWaterMark: 64 * 1024 });
    let pos = start;
    const pace = fault?.kind === 'slow' ? fault.bytesPerSecond : 0;
    const t0 = Date.now();
    let finished = false;
    res.on('close', () => {
      finished = true;
      stream.destroy();
    });
    stream.on('data', (chunk: string | Buffer) => {
      let buf = chunk as Buffer;
      if (finished) return;
      if (pos + buf.length > stopAt) buf = buf.subarray(0, Math.max(0, stopAt - pos));
      if (fault?.kind === 'corrupt' && fault.at >= pos && fault.at < pos + buf.length) {
        buf = Buffer.from(buf);
        buf[fault.at - pos] ^= 0xff;
      }
      pos += buf.length;
      record.bytes += buf.length;
      const ok = buf.length ? res.write(buf) : true;
      if (pos >= stopAt && stopAt <= end) {
        stream.destroy();
        // cut: close the connection (FIN) mid-body: the client gets every byte written, then a premature end
        if (fault?.kind === 'cut') res.write('', () => req.socket.end());
        // stall: leave the response open; the client must time out
        return;
      }
      const wait = pace ? Math.max(0, ((pos - start) / pace) * 1000 - (Date.now() - t0)) : 0;
      if (!ok || wait > 0) {
        stream.pause();
        const resume = () => setTimeout(() => !finished && stream.resume(), wait);
        if (!ok) res.once('drain', resume);
        else resume();
      }
    });
    stream.on('end', () => {
      if (!finished && pos > end) res.end();
    });
    stream.on('error', () => req.socket.destroy());
  };

  const server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}/`,
    requests,
    bytesServed: (path) => requests.filter((r) => path === undefined || r.path === path).reduce((a, r) => a + r.bytes, 0),
    fault(path, ...f) {
      faults.set(path, [...(faults.get(path) ?? []), ...f]);
    },
    setMissing(paths) {
      missing.clear();
      for (const p of paths) missing.add(p);
    },
    reset() {
      requests.length = 0;
      faults.clear();
      missing.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** sha256/bytes of the files a manifest lists (for assertions). */
export function readManifest(dir: string): { files: { path: string; bytes: number; sha256: string }[]; totalBytes: number } {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}
