/** One progress bar over the stager (download) and the converter (convert + verify) of a Hub download. */
import { describe, expect, it } from 'vitest';
import { ProgressMerge } from '../../src/convert/progress-merge.ts';
import type { DownloadProgress } from '../../src/models/progress.ts';

const p = (phase: DownloadProgress['phase'], doneBytes: number, totalBytes: number, extra: Partial<DownloadProgress> = {}): DownloadProgress => ({
  phase,
  doneBytes,
  totalBytes,
  bytesPerSecond: 0,
  etaSeconds: null,
  networkBytes: 0,
  ...extra,
});

describe('ProgressMerge', () => {
  it('adds both workers’ bytes; speed and ETA over the sum; the converter leads once it converts', () => {
    let t = 0;
    const seen: DownloadProgress[] = [];
    const m = new ProgressMerge((x) => seen.push(x), () => t);
    m.fromStager(p('downloading', 0, 1000, { file: { path: 'unet/w', doneBytes: 0, bytes: 1000, index: 2, count: 3 } }));
    m.fromConverter(p('downloading', 0, 500, { message: 'waiting for unet/w to download' }));
    expect(seen.at(-1)).toMatchObject({ phase: 'downloading', doneBytes: 0, totalBytes: 1500, etaSeconds: null });
    t = 1000;
    m.fromStager(p('downloading', 400, 1000, { networkBytes: 400, file: { path: 'unet/w', doneBytes: 400, bytes: 1000, index: 2, count: 3 } }));
    t = 2000;
    m.fromConverter(p('converting', 100, 500, { message: 'converting vae_decoder' }));
    const last = seen.at(-1)!;
    expect(last.phase).toBe('converting');
    expect(last.doneBytes).toBe(500);
    expect(last.totalBytes).toBe(1500);
    expect(last.networkBytes).toBe(400);
    expect(last.bytesPerSecond).toBeGreaterThan(0);
    expect(last.etaSeconds).toBeCloseTo((1500 - 500) / last.bytesPerSecond, 6);
    expect(last.message).toContain('converting vae_decoder');
    expect(last.file?.path).toBe('unet/w'); // the file still coming
    m.fromStager(p('done', 1000, 1000));
    m.fromConverter(p('done', 500, 500));
    expect(seen.at(-1)).toMatchObject({ phase: 'done', doneBytes: 1500, totalBytes: 1500, etaSeconds: 0 });
  });
});
