/**
 * Model delivery in Chromium against a local model host with fault injection (e2e/support/model-server.ts):
 * a real `svd-web convert` output of fixture A (fp32, 64×64) — or a synthetic folder when the compiler cannot
 * convert yet — downloaded into OPFS through the download worker. Shows:
 *   - completion after a cut connection and a stalled response (Range resume), bytes re-requested counted;
 *   - a corrupted byte detected by sha256 and only that file fetched again;
 *   - completion after a page reload mid-download, the bytes already fetched kept;
 *   - 404 and a quota shortfall as clear messages in the UI;
 *   - folder import verified (missing/corrupt/extra files named);
 *   - after a reload with the network off, every file read back from OPFS with zero model requests.
 *
 * Page: dist/models-harness.html (an input of the production build). Every test opens it in a fresh browser context
 * (empty OPFS) and sets up what it needs; the model host and the converted model are worker-scoped fixtures
 * (e2e/support/fixtures.ts `modelServer`), reset before each test.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { ARTIFACTS, DIST } from './harness.ts';
import { expect, test as base, type ModelHost } from './support/fixtures.ts';

const PAGE = '/models-harness.html';
const FAST = { stallTimeoutMs: 1500, backoffBaseMs: 100, backoffCapMs: 1000 };

/** What the tests measured, printed and written to e2e/artifacts/models-e2e-report.json when the worker ends. */
type Report = Record<string, unknown>;

interface ModelsPage {
  page: Page;
  context: BrowserContext;
  /** every request URL of the context */
  pageRequests: string[];
  /** Calls window.__svdModels[method](...args) in the page. */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** (Re)loads the page and waits for window.__svdModels. */
  open(): Promise<void>;
}

const test = base.extend<{ models: ModelsPage; server: ModelHost }, { report: Report }>({
  report: [
    async ({ modelServer }, use) => {
      const report: Report = {};
      report.model = { source: modelServer.source, files: modelServer.files.length, totalBytes: modelServer.files.reduce((a, f) => a + f.bytes, 0) };
      await use(report);
      console.log(`[models e2e] ${JSON.stringify(report, null, 2)}`);
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(join(ARTIFACTS, 'models-e2e-report.json'), JSON.stringify(report, null, 2));
    },
    { scope: 'worker' },
  ],
  // The worker's model host, its faults and request log cleared for this test.
  server: async ({ modelServer, report }, use) => {
    void report;
    modelServer.reset();
    await use(modelServer);
    modelServer.reset();
  },
  models: async ({ page, context, preview, server }, use) => {
    void server;
    if (!existsSync(join(DIST, 'models-harness.html'))) throw new Error('dist/models-harness.html is missing: run `npx vite build` first');
    const pageRequests: string[] = [];
    context.on('request', (r) => pageRequests.push(r.url()));
    page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
    const models: ModelsPage = {
      page,
      context,
      pageRequests,
      call: <T,>(method: string, ...args: unknown[]) =>
        page.evaluate(
          ([m, a]) => (globalThis as unknown as { __svdModels: Record<string, (...x: unknown[]) => unknown> }).__svdModels[m](...a),
          [method, args] as [string, unknown[]],
        ) as Promise<T>,
      async open() {
        await page.goto(`${preview.origin}${PAGE}`, { waitUntil: 'load', timeout: 60_000 });
        await page.waitForFunction(() => '__svdModels' in globalThis, undefined, { timeout: 30_000 });
      },
    };
    await models.open();
    await use(models);
  },
});

interface RunSummary {
  done: boolean;
  error?: { code: string; message: string };
  result?: { id: string; stats: Record<string, unknown> & { networkBytes: number; resumes: number; corruptRefetches: Record<string, number>; keptBytes: number; warnings: string[] } };
  last?: { doneBytes: number; totalBytes: number; bytesPerSecond: number; etaSeconds: number | null; file?: { path: string } };
  phases: string[];
  messages: string[];
  events: number;
  maxBytesPerSecond: number;
  sawEta: boolean;
}

/** The worker's model ('tiny') on its host, and byte counts of what the host served. */
function host(server: ModelHost) {
  return {
    MODEL: server.model,
    files: server.files,
    baseUrl: () => server.baseUrl,
    served: (path: string) => server.bytesServed(`${server.model}/${path}`),
    modelRequests: (ctxRequests: string[]) => ctxRequests.filter((u) => u.startsWith(server.origin)),
  };
}

/** Downloads the whole model (no faults) into this context's OPFS. */
async function downloadModel(models: ModelsPage, server: ModelHost): Promise<void> {
  await models.call('remove', server.model);
  await models.call('start', server.model, server.baseUrl, FAST);
  const run = await models.call<RunSummary>('wait', server.model, 120_000);
  if (!run.done || run.error) throw new Error(`setup download failed: ${JSON.stringify(run.error)}`);
}

test.describe('model delivery (OPFS, Range resume, sha256, faults)', () => {
  test('page is cross-origin isolated and the model host is COEP-compatible', async ({ models, server }) => {
    const { page } = models;
    const { baseUrl } = host(server);
    expect(await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated)).toBe(true);
    const res = await page.evaluate(async (url) => {
      const r = await fetch(url, { headers: { Range: 'bytes=0-9' } });
      return { status: r.status, range: r.headers.get('Content-Range'), bytes: (await r.arrayBuffer()).byteLength };
    }, `${baseUrl()}manifest.json`);
    expect(res).toMatchObject({ status: 206, bytes: 10 });
    expect(res.range).toMatch(/^bytes 0-9\/\d+$/);
  });

  test('completes after a cut connection and a stalled response (Range resume); a corrupted byte is caught and only that file re-fetched', async ({ models, server, report }) => {
    const { call } = models;
    const { MODEL, files, baseUrl, served } = host(server);
    const big = files.reduce((a, f) => (f.bytes > a.bytes ? f : a));
    const mid = files.filter((f) => f.path.endsWith('.data.0') && f !== big).reduce((a, f) => (f.bytes > a.bytes ? f : a));
    const corrupt = files.find((f) => f.path.endsWith('.onnx') && f.bytes > 10_000)!;
    server.reset();
    server.fault(`${MODEL}/${big.path}`, { kind: 'cut', at: Math.floor(big.bytes * 0.3) }, { kind: 'stall', at: Math.floor(big.bytes * 0.6) });
    server.fault(`${MODEL}/${mid.path}`, { kind: 'cut', at: Math.floor(mid.bytes / 2) });
    server.fault(`${MODEL}/${corrupt.path}`, { kind: 'corrupt', at: Math.floor(corrupt.bytes / 3) });
    await call('remove', MODEL);
    await call('start', MODEL, baseUrl(), FAST);
    const run = await call<RunSummary>('wait', MODEL, 120_000);
    expect(run.error).toBeUndefined();
    expect(run.done).toBe(true);
    const stats = run.result!.stats;
    const total = files.reduce((a, f) => a + f.bytes, 0);
    const reRequested = Object.fromEntries(files.map((f) => [f.path, served(f.path) - f.bytes]));
    report.faults = {
      cutAndStall: big.path,
      cut: mid.path,
      corrupted: corrupt.path,
      requests: server.requests.filter((r) => r.path !== `${MODEL}/manifest.json`).map((r) => `${r.path} ${r.range ?? ''} → ${r.status} ${r.bytes} B`),
      bytesServed: server.bytesServed(),
      modelBytes: total,
      reRequested,
      resumes: stats.resumes,
      corruptRefetches: stats.corruptRefetches,
      messages: run.messages,
    };
    // The cut/stalled files: each resume starts exactly where the bytes the page holds end (never before), so the
    // only bytes sent twice are those the browser had received but not yet handed to the stream when the connection
    // failed (Chromium drops a failed body's queued chunks): bounded by its buffers, ~1 MB at localhost speed.
    const ranges = server.requests.filter((r) => r.path === `${MODEL}/${big.path}`).map((r) => r.range);
    expect(ranges.length).toBe(3);
    const starts = ranges.slice(1).map((r) => Number(/bytes=(\d+)-/.exec(r!)![1]));
    expect(starts[0]).toBeLessThanOrEqual(Math.floor(big.bytes * 0.3));
    expect(starts[1]).toBeLessThanOrEqual(Math.floor(big.bytes * 0.6));
    expect(starts[1]).toBeGreaterThan(starts[0]);
    expect(reRequested[big.path]).toBeLessThan(4 << 20);
    expect(reRequested[mid.path]).toBeLessThan(2 << 20);
    (report.faults as Record<string, unknown>).resumeOffsets = { [big.path]: starts, cutAt: [Math.floor(big.bytes * 0.3), Math.floor(big.bytes * 0.6)] };
    (report.faults as Record<string, unknown>).ms = stats.ms;
    // the corrupted file: fetched twice, nothing else re-requested
    expect(reRequested[corrupt.path]).toBe(corrupt.bytes);
    expect(stats.corruptRefetches).toEqual({ [corrupt.path]: 1 });
    for (const f of files) if (![corrupt.path, big.path, mid.path].includes(f.path)) expect(reRequested[f.path], f.path).toBe(0);
    expect(stats.resumes).toBeGreaterThanOrEqual(3);
    expect(run.messages.some((m) => /sha256/.test(m))).toBe(true);
    // one progress total
    expect(run.last!.totalBytes).toBe(total);
    expect(run.last!.doneBytes).toBe(total);
    const read = await call<{ files: number; bytes: number; mismatches: string[] }>('readAll', MODEL);
    expect(read).toEqual({ files: files.length, bytes: total, mismatches: [] });
    const list = await call<{ id: string; complete: boolean; partialBytes: number }[]>('list');
    expect(list.find((m) => m.id === MODEL)).toMatchObject({ complete: true, partialBytes: 0 });
  });

  test('resumes after a page reload mid-download in the UI, keeping the bytes already fetched', async ({ models, server, report }) => {
    const { page, call } = models;
    const { MODEL, files, baseUrl, served } = host(server);
    const big = files.reduce((a, f) => (f.bytes > a.bytes ? f : a));
    const id = 'tiny-reload';
    server.reset();
    // Pace the biggest file so the reload lands in the middle of it.
    server.fault(`${MODEL}/${big.path}`, { kind: 'slow', bytesPerSecond: Math.max(1 << 20, big.bytes / 6) });
    await call('remove', id);
    await call('setRecords', [{ id, label: 'Tiny (reload test)', baseUrl: baseUrl(), precision: 'fp32', frames: 3, resolution: { width: 64, height: 64 }, bytes: 0, requiredFeatures: [] }]);
    await page.getByTestId(`model-download-${id}`).click();
    const progress = page.getByTestId(`model-progress-${id}`);
    // the progress line: one total, speed, ETA, current file
    await expect(progress).toHaveText(new RegExp(`/s · .* left · ${big.path.replace('.', '\\.')}`), { timeout: 30_000 });
    const uiLine = await progress.textContent();
    await expect.poll(() => served(big.path), { timeout: 30_000 }).toBeGreaterThan(big.bytes * 0.4);
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => '__svdModels' in globalThis);
    await new Promise((r) => setTimeout(r, 500)); // let the server notice the closed connection
    const before = Object.fromEntries(files.map((f) => [f.path, served(f.path)]));
    const partial = (await call<{ id: string; complete: boolean; partialBytes: number; bytes: number }[]>('list')).find((m) => m.id === id)!;
    expect(partial.complete).toBe(false);
    expect(partial.partialBytes).toBeGreaterThan(0);
    const resumeButton = page.getByTestId(`model-download-${id}`);
    await expect(resumeButton).toHaveText('Resume', { timeout: 10_000 });
    server.reset();
    await call('setRecords', [{ id, label: 'Tiny (reload test)', baseUrl: baseUrl(), precision: 'fp32', frames: 3, resolution: { width: 64, height: 64 }, bytes: 0, requiredFeatures: [] }]);
    await resumeButton.click();
    await expect(page.getByTestId(`model-status-${id}`)).toContainText('Ready', { timeout: 60_000 });
    const after = Object.fromEntries(files.map((f) => [f.path, served(f.path)]));
    const completedBefore = files.filter((f) => before[f.path] === f.bytes && f.path !== big.path);
    const reRequested = Object.fromEntries(files.map((f) => [f.path, before[f.path] + after[f.path] - f.bytes]));
    report.reload = {
      file: big.path,
      fileBytes: big.bytes,
      servedBeforeReload: before[big.path],
      keptInPart: partial.partialBytes,
      servedAfterReload: after[big.path],
      reRequestedBytes: reRequested,
      filesCompleteBeforeReload: completedBefore.map((f) => f.path),
      uiProgressLine: uiLine,
    };
    // files completed before the reload: not one byte requested again
    for (const f of completedBefore) expect(after[f.path], f.path).toBe(0);
    // the partial file: only what was in flight when the page went away (socket buffers) is requested again
    expect(after[big.path]).toBe(big.bytes - partial.partialBytes);
    expect(reRequested[big.path]).toBeLessThan(big.bytes * 0.1);
    const read = await call<{ mismatches: string[] }>('readAll', id);
    expect(read.mismatches).toEqual([]);
  });

  test('shows a 404 as a clear message naming the file', async ({ models, server, report }) => {
    const { page, call } = models;
    const { MODEL, files, baseUrl } = host(server);
    const id = 'tiny-404';
    const missing = files.find((f) => f.path.endsWith('.onnx'))!.path;
    server.reset();
    server.setMissing([`${MODEL}/${missing}`]);
    await call('remove', id);
    await call('setRecords', [{ id, label: 'Tiny (404)', baseUrl: baseUrl(), precision: 'fp32', frames: 3, resolution: { width: 64, height: 64 }, bytes: 0, requiredFeatures: [] }]);
    await page.getByTestId(`model-download-${id}`).click();
    const err = page.getByTestId(`model-error-${id}`);
    await expect(err).toBeVisible({ timeout: 30_000 });
    const text = await err.textContent();
    expect(text).toBe(`The model host has no ${missing} (HTTP 404); check the model URL.`);
    // a wrong model URL: the manifest itself is missing
    await call('start', 'tiny-wrong-url', `${server.url}no-such-model/`, FAST);
    const run = await call<RunSummary>('wait', 'tiny-wrong-url');
    expect(run.error?.code).toBe('not-found');
    expect(run.error?.message).toContain('has no manifest.json (HTTP 404); check the model URL');
    report.notFound = { file: text, manifest: run.error?.message };
    server.setMissing([]);
  });

  test('shows a quota shortfall (needed vs available, in GB) before downloading anything', async ({ models, server, report }) => {
    const { page, call } = models;
    const { MODEL, files, baseUrl } = host(server);
    const id = 'tiny-quota';
    server.reset();
    await call('remove', id);
    await call('stubQuota', 30_000_000, 20_000_000); // 10 MB free
    await call('setRecords', [{ id, label: 'Tiny (quota)', baseUrl: baseUrl(), precision: 'fp32', frames: 3, resolution: { width: 64, height: 64 }, bytes: 0, requiredFeatures: [] }]);
    await page.getByTestId(`model-download-${id}`).click();
    const err = page.getByTestId(`model-error-${id}`);
    await expect(err).toBeVisible({ timeout: 30_000 });
    const text = (await err.textContent())!;
    const total = files.reduce((a, f) => a + f.bytes, 0);
    expect(text).toContain(`needs ${(total / 1e9).toFixed(2)} GB more`);
    expect(text).toContain('only 0.01 GB more');
    expect(text).toContain('quota 0.03 GB');
    // nothing but the manifest was requested
    expect(server.requests.map((r) => r.path)).toEqual([`${MODEL}/manifest.json`]);
    report.quota = text;
    await call('unstubQuota');
  });

  test('imports a local folder verified: missing, corrupt and extra files named', async ({ models, server, report }) => {
    const { call } = models;
    const { files, baseUrl } = host(server);
    const onnx = files.find((f) => f.path.endsWith('.onnx'))!.path;
    const data = files.find((f) => f.path.endsWith('.data.0'))!.path;
    await call('startImport', 'imp-missing', baseUrl(), 'imported-a', { drop: onnx });
    const missing = await call<RunSummary>('wait', 'imp-missing');
    expect(missing.error?.code).toBe('import');
    expect(missing.error?.message).toContain(`missing ${onnx}`);
    await call('startImport', 'imp-corrupt', baseUrl(), 'imported-a', { corrupt: data });
    const corrupt = await call<RunSummary>('wait', 'imp-corrupt');
    expect(corrupt.error?.code).toBe('import');
    expect(corrupt.error?.message).toContain(data);
    expect((await call<{ id: string }[]>('list')).some((m) => m.id === 'imported-a')).toBe(false); // nothing half-imported
    await call('startImport', 'imp-ok', baseUrl(), 'imported-a', { extra: 'NOTES.txt' });
    const ok = await call<RunSummary>('wait', 'imp-ok');
    expect(ok.error).toBeUndefined();
    expect(ok.result!.stats.warnings.join(' ')).toContain('NOTES.txt');
    expect((await call<{ mismatches: string[] }>('readAll', 'imported-a')).mismatches).toEqual([]);
    report.import = { ms: ok.result!.stats.ms, missing: missing.error?.message, corrupt: corrupt.error?.message, warnings: ok.result!.stats.warnings };
    await call('remove', 'imported-a');
  });

  test('after a reload with the network off, the model is read from OPFS with zero model requests', async ({ models, server, report }) => {
    const { page, context, call, pageRequests } = models;
    const { MODEL, files, modelRequests } = host(server);
    // This test's context starts with an empty OPFS: the complete model comes from a plain download first.
    await test.step('setup: download the whole model into OPFS', () => downloadModel(models, server));
    server.reset();
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => '__svdModels' in globalThis);
    await context.setOffline(true);
    const mark = pageRequests.length;
    try {
      const list = await call<{ id: string; complete: boolean }[]>('list');
      expect(list.find((m) => m.id === MODEL)?.complete).toBe(true);
      const read = await call<{ files: number; bytes: number; mismatches: string[] }>('readAll', MODEL);
      expect(read.mismatches).toEqual([]);
      expect(read.files).toBe(files.length);
      await call('refreshUi');
      await expect(page.getByTestId(`model-status-${MODEL}`)).toContainText('Ready', { timeout: 10_000 });
      const after = pageRequests.slice(mark);
      expect(modelRequests(after)).toEqual([]);
      expect(server.requests).toEqual([]);
      // A reload while offline needs the app shell cached (service worker): record what happens without one.
      let offlineReload = 'ok';
      try {
        await page.reload({ waitUntil: 'load', timeout: 10_000 });
      } catch (e) {
        offlineReload = (e as Error).message.split('\n')[0];
      }
      report.offline = { modelRequests: modelRequests(after).length, serverRequests: server.requests.length, bytesRead: read.bytes, reloadWhileOffline: offlineReload };
    } finally {
      await context.setOffline(false);
    }
  });
});

test.describe('model manager words (issue 17)', () => {
  test('labels its columns, offers no Download for the bundled demo, says where a model comes from, and says "Connecting…" (not "0 B of 0 B") while connecting', async ({ models, server, report }) => {
    const { page, call } = models;
    const { MODEL, baseUrl } = host(server);
    const manager = page.getByTestId('model-manager');
    await expect(manager.locator('table.model-table thead th')).toHaveText(['Model', 'Precision', 'Frames', 'Video size', 'Storage', 'Status', 'Actions']);
    // the registry's demo model comes with the app: nothing to download, and the row says so
    await expect(page.getByTestId('model-row-tiny-random')).toBeVisible();
    expect(await page.getByTestId('model-download-tiny-random').count()).toBe(0);
    await expect(page.getByTestId('model-origin-tiny-random')).toContainText('Bundled with the app');
    await expect(page.getByTestId('model-status-tiny-random')).toContainText('comes with the app, nothing to download');

    // a hosted model whose manifest request hangs: the line says it is connecting
    const id = 'tiny-connecting';
    server.reset();
    server.fault(`${MODEL}/manifest.json`, { kind: 'stall', at: 0 });
    await call('remove', id);
    await call('setRecords', [{ id, label: 'Tiny (connecting)', baseUrl: baseUrl(), precision: 'fp32', frames: 3, resolution: { width: 64, height: 64 }, bytes: 0, requiredFeatures: [] }]);
    await expect(page.getByTestId(`model-origin-${id}`)).toContainText(`Hosted at ${new URL(baseUrl()).host}`);
    await page.getByTestId(`model-download-${id}`).click();
    const progress = page.getByTestId(`model-progress-${id}`);
    await expect(progress).toContainText('Connecting…', { timeout: 10_000 });
    await expect.poll(() => server.requests.some((r) => r.path === `${MODEL}/manifest.json`)).toBe(true);
    const line = (await progress.textContent()) ?? '';
    expect(line).not.toMatch(/0 B of 0 B/);
    expect(await progress.getAttribute('data-known')).toBe('false');
    report.connecting = line;
    await page.getByTestId(`model-cancel-${id}`).click();
    await expect(page.getByTestId(`model-cancel-${id}`)).toHaveCount(0, { timeout: 30_000 });
    await call('remove', id);
  });
});
