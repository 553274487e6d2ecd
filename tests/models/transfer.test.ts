import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downloadFiles, parseContentRange } from '../../src/models/download-files.ts';
import type { FolderStore, PartFile } from '../../src/models/folder-store.ts';
import { importFiles } from '../../src/models/import-files.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';
import { ModelDeliveryError } from '../../src/models/errors.ts';
import type { DownloadProgress } from '../../src/models/progress.ts';

/** An in-memory FolderStore with the same semantics as the OPFS one. */
class MemoryStore implements FolderStore {
  files = new Map<string, Uint8Array>();
  async finalSize(path: string) {
    return this.files.get(path)?.length ?? -1;
  }
  async openPart(path: string): Promise<PartFile> {
    const key = path + '.part';
    if (!this.files.has(key)) this.files.set(key, new Uint8Array(0));
    const files = this.files;
    return {
      size: () => files.get(key)!.length,
      write(bytes, at) {
        const cur = files.get(key)!;
        const next = new Uint8Array(Math.max(cur.length, at + bytes.length));
        next.set(cur);
        next.set(bytes, at);
        files.set(key, next);
      },
      read(into, at) {
        const cur = files.get(key)!;
        const n = Math.max(0, Math.min(into.length, cur.length - at));
        into.set(cur.subarray(at, at + n));
        return n;
      },
      truncate(n) {
        files.set(key, files.get(key)!.slice(0, n));
      },
      flush() {},
      close() {},
    };
  }
  async commitPart(path: string) {
    this.files.set(path, this.files.get(path + '.part')!);
    this.files.delete(path + '.part');
  }
  async remove(path: string) {
    this.files.delete(path);
  }
  async removePart(path: string) {
    this.files.delete(path + '.part');
  }
  async readText(name: string) {
    const b = this.files.get(name);
    return b ? new TextDecoder().decode(b) : null;
  }
  async writeText(name: string, text: string) {
    this.files.set(name, new TextEncoder().encode(text));
  }
}

type Fault = { kind: 'cut'; after: number } | { kind: 'corrupt'; at: number } | { kind: 'stall'; after: number } | { kind: 'status'; status: number } | { kind: 'ignore-range' };

/** A fake model host: Range support, per-request faults, counts bytes served per file. */
function fakeHost(data: Map<string, Uint8Array>) {
  const faults = new Map<string, Fault[]>();
  const served = new Map<string, number>();
  const requests: { path: string; range?: string }[] = [];
  const fetchFn = async (url: string, init: { headers?: Record<string, string>; signal?: AbortSignal }) => {
    const path = new URL(url).pathname.slice(1);
    const range = init.headers?.Range;
    requests.push({ path, range });
    const fault = faults.get(path)?.shift();
    if (fault?.kind === 'status') return new Response('nope', { status: fault.status });
    const body = data.get(path);
    if (!body) return new Response('not found', { status: 404 });
    let start = 0;
    if (range && fault?.kind !== 'ignore-range') start = Number(/bytes=(\d+)-/.exec(range)![1]);
    let bytes = body.slice(start);
    if (fault?.kind === 'corrupt') bytes[fault.at - start] ^= 0xff;
    const stop = fault?.kind === 'cut' || fault?.kind === 'stall' ? Math.min(fault.after - start, bytes.length) : bytes.length;
    let i = 0;
    // pull-based, so that an error after the last chunk does not discard queued chunks
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          if (i < stop) {
            const chunk = bytes.subarray(i, Math.min(i + 1000, stop));
            i += chunk.length;
            served.set(path, (served.get(path) ?? 0) + chunk.length);
            c.enqueue(chunk);
            return;
          }
          if (fault?.kind === 'cut') c.error(new TypeError('network error'));
          else if (fault?.kind === 'stall') return new Promise<void>(() => init.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError'))));
          else c.close();
        },
      },
      { highWaterMark: 0 },
    );
    const headers: Record<string, string> = {};
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    return new Response(stream, { status: start > 0 ? 206 : 200, headers });
  };
  return { fetchFn, faults, served, requests };
}

function model(sizes: Record<string, number>) {
  const data = new Map<string, Uint8Array>();
  const files = Object.entries(sizes).map(([path, n]) => {
    const b = new Uint8Array(randomBytes(n));
    data.set(path, b);
    return { path, bytes: n, sha256: createHash('sha256').update(b).digest('hex') };
  });
  const manifest = { files, totalBytes: files.reduce((a, f) => a + f.bytes, 0) } as unknown as ModelManifest;
  return { data, manifest, manifestText: JSON.stringify(manifest) };
}

const fast = { backoffBaseMs: 1, backoffCapMs: 5, stallTimeoutMs: 200, progressIntervalMs: 0 };

describe('downloadFiles', () => {
  it('downloads, verifies, writes manifest.json last, one progress total', async () => {
    const m = model({ 'a.onnx': 5000, 'a.data.0': 20_000 });
    const host = fakeHost(m.data);
    const store = new MemoryStore();
    const events: DownloadProgress[] = [];
    const stats = await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: host.fetchFn, tuning: fast, onProgress: (p) => events.push(p) });
    expect(store.files.get('a.data.0')).toEqual(m.data.get('a.data.0'));
    expect(await store.readText('manifest.json')).toBe(m.manifestText);
    expect(await store.readText('manifest.pending.json')).toBeNull();
    expect(stats.networkBytes).toBe(25_000);
    expect(events.every((e) => e.totalBytes === 25_000)).toBe(true);
    const done = events.map((e) => e.doneBytes);
    expect(done.every((d, i) => i === 0 || d >= done[i - 1])).toBe(true);
    expect(events.at(-1)).toMatchObject({ phase: 'done', doneBytes: 25_000 });
  });

  it('resumes a cut and a stalled connection with Range, re-requesting no byte', async () => {
    const m = model({ 'u.onnx': 3000, 'u.data.0': 50_000 });
    const host = fakeHost(m.data);
    host.faults.set('u.data.0', [{ kind: 'cut', after: 12_000 }, { kind: 'stall', after: 30_000 }]);
    const store = new MemoryStore();
    const stats = await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: host.fetchFn, tuning: fast });
    expect(store.files.get('u.data.0')).toEqual(m.data.get('u.data.0'));
    expect(host.served.get('u.data.0')).toBe(50_000);
    expect(stats.resumes).toBe(2);
    expect(host.requests.filter((r) => r.path === 'u.data.0').map((r) => r.range)).toEqual([undefined, 'bytes=12000-', 'bytes=30000-']);
  });

  it('resumes after a "reload": the .part is re-hashed locally, only the rest is fetched', async () => {
    const m = model({ 'g.data.0': 40_000, 'g.onnx': 1000 });
    const host = fakeHost(m.data);
    host.faults.set('g.data.0', Array.from({ length: 10 }, () => ({ kind: 'cut' as const, after: 25_000 })));
    const store = new MemoryStore();
    const ctl = new AbortController();
    await expect(
      downloadFiles({
        baseUrl: 'http://h/',
        ...m,
        store,
        fetch: host.fetchFn,
        signal: ctl.signal,
        tuning: fast,
        onProgress: (p) => {
          if (p.phase === 'retrying') ctl.abort();
        },
      }),
    ).rejects.toMatchObject({ code: 'cancelled' });
    expect(store.files.get('g.data.0.part')!.length).toBe(25_000);
    host.faults.clear();
    host.served.clear();
    const stats = await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: host.fetchFn, tuning: fast });
    expect(host.served.get('g.data.0')).toBe(15_000);
    expect(stats.keptBytes).toBe(25_000);
    expect(stats.rehashedBytes).toBe(25_000);
    expect(store.files.get('g.data.0')).toEqual(m.data.get('g.data.0'));
  });

  it('a corrupt file is deleted and fetched again; never committed', async () => {
    const m = model({ 'c.data.0': 10_000 });
    const host = fakeHost(m.data);
    host.faults.set('c.data.0', [{ kind: 'corrupt', at: 5000 }]);
    const store = new MemoryStore();
    const stats = await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: host.fetchFn, tuning: fast });
    expect(stats.corruptRefetches).toEqual({ 'c.data.0': 1 });
    expect(stats.discardedBytes).toBe(10_000);
    expect(store.files.get('c.data.0')).toEqual(m.data.get('c.data.0'));
  });

  it('gives up on a file that is always corrupt, and does not keep it', async () => {
    const m = model({ 'c.data.0': 4000 });
    const host = fakeHost(m.data);
    host.faults.set('c.data.0', Array.from({ length: 5 }, () => ({ kind: 'corrupt' as const, at: 1 })));
    const store = new MemoryStore();
    const err = await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: host.fetchFn, tuning: fast }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelDeliveryError);
    expect(err.code).toBe('corrupt');
    expect(store.files.has('c.data.0')).toBe(false);
    expect(store.files.get('c.data.0.part')?.length ?? 0).toBe(0);
    expect(store.files.has('manifest.json')).toBe(false);
  });

  it('404 names the file; other failures are retried a bounded number of times', async () => {
    const m = model({ 'x.onnx': 100 });
    const host = fakeHost(new Map());
    const err = await downloadFiles({ baseUrl: 'http://h/', ...m, store: new MemoryStore(), fetch: host.fetchFn, tuning: fast }).catch((e) => e);
    expect(err.code).toBe('not-found');
    expect(err.message).toBe('The model host has no x.onnx (HTTP 404); check the model URL.');

    const host2 = fakeHost(m.data);
    host2.faults.set('x.onnx', Array.from({ length: 20 }, () => ({ kind: 'status' as const, status: 503 })));
    const err2 = await downloadFiles({ baseUrl: 'http://h/', ...m, store: new MemoryStore(), fetch: host2.fetchFn, tuning: { ...fast, maxAttempts: 3 } }).catch((e) => e);
    expect(err2.code).toBe('network');
    expect(host2.requests.length).toBe(3);
  });

  it('a server that ignores Range: starts the file over and counts the discarded bytes', async () => {
    const m = model({ 'r.data.0': 9000 });
    const host = fakeHost(m.data);
    host.faults.set('r.data.0', [{ kind: 'cut', after: 4000 }, { kind: 'ignore-range' }]);
    const store = new MemoryStore();
    const stats = await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: host.fetchFn, tuning: fast });
    expect(stats.discardedBytes).toBe(4000);
    expect(store.files.get('r.data.0')).toEqual(m.data.get('r.data.0'));
  });

  it('a changed manifest drops the files whose sha256 changed, keeps the others', async () => {
    const m = model({ 'k.onnx': 2000, 'k.data.0': 3000 });
    const store = new MemoryStore();
    await downloadFiles({ baseUrl: 'http://h/', ...m, store, fetch: fakeHost(m.data).fetchFn, tuning: fast });
    const newData = new Uint8Array(randomBytes(3000));
    const data2 = new Map(m.data).set('k.data.0', newData);
    const manifest2 = { ...m.manifest, files: [m.manifest.files[0], { path: 'k.data.0', bytes: 3000, sha256: createHash('sha256').update(newData).digest('hex') }] };
    const host = fakeHost(data2);
    const stats = await downloadFiles({ baseUrl: 'http://h/', manifest: manifest2, manifestText: JSON.stringify(manifest2), store, fetch: host.fetchFn, tuning: fast });
    expect(stats.keptBytes).toBe(2000);
    expect(host.requests.map((r) => r.path)).toEqual(['k.data.0']);
    expect(store.files.get('k.data.0')).toEqual(newData);
  });
});

describe('importFiles', () => {
  it('imports a folder, names missing, mis-sized, extra and corrupt files', async () => {
    const m = model({ 'i.onnx': 1500, 'i.data.0': 7000 });
    const blobs = new Map([...m.data].map(([p, b]) => [p, new Blob([b])]));
    blobs.set('README.md', new Blob(['hi']));
    const store = new MemoryStore();
    const stats = await importFiles({ ...m, files: blobs, store, tuning: fast });
    expect(stats.warnings[0]).toContain('README.md');
    expect(store.files.get('i.data.0')).toEqual(m.data.get('i.data.0'));

    const missing = new Map(blobs);
    missing.delete('i.onnx');
    missing.set('i.data.0', new Blob([new Uint8Array(10)]));
    const e1 = await importFiles({ ...m, files: missing, store: new MemoryStore(), tuning: fast }).catch((e) => e);
    expect(e1.code).toBe('import');
    expect(e1.message).toContain('missing i.onnx');
    expect(e1.message).toContain('i.data.0 is 10 bytes, the manifest says 7000');

    const bad = new Uint8Array(m.data.get('i.data.0')!);
    bad[123] ^= 1;
    const corrupt = new Map(blobs).set('i.data.0', new Blob([bad]));
    const s3 = new MemoryStore();
    const e2 = await importFiles({ ...m, files: corrupt, store: s3, tuning: fast }).catch((e) => e);
    expect(e2.code).toBe('import');
    expect(e2.message).toContain('i.data.0');
    expect(s3.files.has('i.data.0')).toBe(false);
    expect(s3.files.has('manifest.json')).toBe(false);
  });
});

describe('parseContentRange', () => {
  it('parses', () => {
    expect(parseContentRange('bytes 10-99/100')).toEqual({ start: 10, end: 99, total: 100 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: null });
    expect(parseContentRange(null)).toBeNull();
  });
});
