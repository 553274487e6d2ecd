import { describe, expect, it } from 'vitest';
import { backoffMs, diffFolder, diffManifests, planDownload, quotaShortfall, relativePaths, sanitizeModelId } from '../../src/models/plan.ts';
import { RateMeter, etaSeconds, throttle } from '../../src/models/progress.ts';
import { formatBytes, formatEta } from '../../src/common/format.ts';

const f = (path: string, bytes: number, sha = 'a') => ({ path, bytes, sha256: sha.repeat(64).slice(0, 64) });

describe('manifest diffing', () => {
  it('changed = same path, other sha or size; removed = no longer listed', () => {
    const prev = { files: [f('a', 1), f('b', 2), f('c', 3)] };
    const next = { files: [f('a', 1), f('b', 2, 'b'), f('d', 4)] };
    expect(diffManifests(prev, next)).toEqual({ changed: ['b'], removed: ['c'], kept: ['a'] });
    expect(diffManifests(null, next)).toEqual({ changed: [], removed: [], kept: [] });
  });

  it('planDownload counts complete and partial bytes, treating changed files as missing', () => {
    const m = { files: [f('a', 100), f('b', 200), f('c', 300), f('d', 50)] };
    const disk = new Map([
      ['a', { finalBytes: 100, partBytes: -1 }],
      ['b', { finalBytes: -1, partBytes: 80 }],
      ['c', { finalBytes: 300, partBytes: -1 }],
      ['d', { finalBytes: -1, partBytes: 99 }], // longer than the file: unusable
    ]);
    const p = planDownload(m, disk, ['c']);
    expect(p.totalBytes).toBe(650);
    expect(p.presentBytes).toBe(180);
    expect(p.missingBytes).toBe(470);
    expect(p.completeFiles).toEqual(['a']);
    expect(p.files.map((x) => x.state)).toEqual(['complete', 'partial', 'missing', 'missing']);
  });

  it('diffFolder names missing, mis-sized and extra files', () => {
    const m = { files: [f('x.onnx', 10), f('x.data.0', 20), f('y.onnx', 5)] };
    const present = new Map([
      ['x.onnx', 10],
      ['x.data.0', 19],
      ['manifest.json', 99],
      ['notes.txt', 1],
    ]);
    expect(diffFolder(m, present)).toEqual({ missing: ['y.onnx'], wrongSize: [{ path: 'x.data.0', expected: 20, actual: 19 }], extra: ['notes.txt'] });
  });

  it('relativePaths strips the picked folder name only when shared', () => {
    expect(relativePaths(['m/manifest.json', 'm/unet.onnx'])).toEqual(['manifest.json', 'unet.onnx']);
    expect(relativePaths(['manifest.json', 'unet.onnx'])).toEqual(['manifest.json', 'unet.onnx']);
    expect(relativePaths(['m/a', 'n/b'])).toEqual(['m/a', 'n/b']);
  });
});

describe('quota', () => {
  it('null when it fits; else needed vs available in GB', () => {
    expect(quotaShortfall(1e9, { quota: 10e9, usage: 1e9 })).toBeNull();
    expect(quotaShortfall(1e9, undefined)).toBeNull();
    const msg = quotaShortfall(2.5e9, { quota: 3e9, usage: 1e9 }, 'SVD-XT');
    expect(msg).toContain('needs 2.50 GB more');
    expect(msg).toContain('only 2.00 GB more, 0.52 GB short');
    expect(msg).toContain('quota 3.00 GB, 1.00 GB already used');
  });
});

describe('progress math', () => {
  it('RateMeter averages over its window', () => {
    const r = new RateMeter(5000);
    for (let t = 0; t <= 10_000; t += 100) r.add(100_000, t); // 1 MB/s
    expect(r.rate(10_000)).toBeGreaterThan(0.95e6);
    expect(r.rate(10_000)).toBeLessThan(1.05e6);
    expect(r.rate(30_000)).toBe(0); // window emptied
  });

  it('RateMeter does not explode on the first sample', () => {
    const r = new RateMeter(5000);
    r.add(1e6, 0);
    expect(r.rate(1)).toBeLessThanOrEqual(1e6);
  });

  it('ETA', () => {
    expect(etaSeconds(10e6, 2e6)).toBe(5);
    expect(etaSeconds(10e6, 0)).toBeNull();
    expect(etaSeconds(0, 0)).toBe(0);
    expect(formatEta(5)).toBe('5 s');
    expect(formatEta(125)).toBe('2 min 05 s');
    expect(formatEta(3 * 3600 + 60)).toBe('3 h 01 min');
    expect(formatEta(null)).toBe('—');
    expect(formatBytes(1_234_567_890)).toBe('1.23 GB');
    expect(formatBytes(2_500_000)).toBe('2.5 MB');
  });

  it('throttle keeps the last value of a burst', () => {
    let now = 0;
    const got: number[] = [];
    const t = throttle<number>((v) => got.push(v), 100, () => now);
    t.push(1);
    t.push(2);
    t.push(3);
    now = 150;
    t.push(4);
    t.push(5);
    t.flush();
    expect(got).toEqual([1, 4, 5]);
  });

  it('backoff doubles up to the cap', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 1000, 15_000, mid))).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
  });

  it('sanitizeModelId', () => {
    expect(sanitizeModelId('svd xt/q4f16')).toBe('svd-xt-q4f16');
    expect(() => sanitizeModelId('///')).toThrow();
  });
});
