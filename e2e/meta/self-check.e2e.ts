/**
 * The runner checks itself: Playwright Test is run again, as a child process, on
 *   1. e2e/meta/broken.e2e.ts with SVD_E2E_META=fail: the run must fail and leave, for the failed test, a trace
 *      (trace.zip) and a screenshot, and the HTML report (index.html);
 *   2. the ffprobe tests of e2e/video.e2e.ts and e2e/app.e2e.ts with FFPROBE_PATH=/nonexistent: the JSON report must
 *      list each of them as skipped with the reason (e2e/support/tools.ts), none as passed.
 * Both are cheap: a blank page for the first; the second skips before any fixture (no preview, no browser).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ROOT } from '../harness.ts';
import { readJsonReport } from './report.ts';

const CLI = join(ROOT, 'node_modules', '@playwright', 'test', 'cli.js');

/** `playwright test ...args` in the repo root; outputs (artifacts, HTML, JSON) go under `dir`. */
function runPlaywright(dir: string, args: string[], env: Record<string, string>) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const paths = { output: join(dir, 'artifacts'), html: join(dir, 'html'), json: join(dir, 'results.json') };
  // This worker's own runner settings must not leak into the child run.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PW_|PLAYWRIGHT_|TEST_WORKER_INDEX|TEST_PARALLEL_INDEX)/.test(k)));
  const child = spawnSync(process.execPath, [CLI, 'test', ...args, '--output', paths.output, '--reporter=html,json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
    env: {
      ...base,
      PLAYWRIGHT_HTML_OUTPUT_DIR: paths.html,
      PLAYWRIGHT_HTML_OPEN: 'never',
      PLAYWRIGHT_JSON_OUTPUT_FILE: paths.json,
      E2E_WORKERS: '1',
      ...env,
    },
  });
  return { ...paths, status: child.status, output: `${child.stdout ?? ''}${child.stderr ?? ''}` };
}

test.describe('the e2e runner itself', () => {
  test('a deliberately broken test fails the run and leaves a trace, a screenshot and the HTML report', async ({}, testInfo) => {
    test.setTimeout(240_000);
    const run = runPlaywright(testInfo.outputPath('broken-run'), ['e2e/meta/broken.e2e.ts'], { SVD_E2E_META: 'fail' });
    console.log(`child run exited with ${run.status}; its report: ${run.html}`);
    expect(run.status, run.output).not.toBe(0);
    expect(run.status, run.output).not.toBeNull();

    const report = readJsonReport(run.json);
    expect(report.tests).toHaveLength(1);
    const [broken] = report.tests;
    expect(broken.title).toContain('fails on purpose');
    expect(broken.status).toBe('unexpected');
    expect(broken.results.map((r) => r.status)).toEqual(['failed']);
    const attachments = broken.results[0].attachments;
    const trace = attachments.find((a) => a.name === 'trace');
    expect(trace?.path, JSON.stringify(attachments)).toMatch(/trace\.zip$/);
    expect(existsSync(trace!.path!), trace!.path).toBe(true);
    const screenshot = attachments.find((a) => a.name === 'screenshot');
    expect(screenshot?.path, JSON.stringify(attachments)).toMatch(/\.png$/);
    expect(existsSync(screenshot!.path!), screenshot!.path).toBe(true);
    expect(existsSync(join(run.html, 'index.html')), run.html).toBe(true);
  });

  test('without ffprobe, the ffprobe tests are reported as skipped, not passed', async ({}, testInfo) => {
    test.setTimeout(240_000);
    const run = runPlaywright(testInfo.outputPath('no-ffprobe-run'), ['e2e/video.e2e.ts', 'e2e/app.e2e.ts', '--grep', 'ffprobe'], { FFPROBE_PATH: '/nonexistent/ffprobe' });
    expect(run.status, run.output).toBe(0);

    const { tests, stats } = readJsonReport(run.json);
    console.log(`child run: ${tests.length} ffprobe tests: ${tests.map((t) => `${t.title} → ${t.status}`).join('; ')}`);
    // video.e2e.ts: MP4, odd-size MP4, WebM, GIF (ffmpeg.wasm) and the WebCodecs MP4; app.e2e.ts: the generated MP4
    // and its exports
    expect(tests.filter((t) => t.file.endsWith('video.e2e.ts'))).toHaveLength(5);
    expect(tests.filter((t) => t.file.endsWith('app.e2e.ts'))).toHaveLength(1);
    for (const t of tests) {
      expect(t.status, t.title).toBe('skipped');
      expect(t.results.every((r) => r.status === 'skipped'), t.title).toBe(true);
      expect(t.annotations.find((a) => a.type === 'skip')?.description, t.title).toContain('ffprobe is not installed');
    }
    expect(stats.expected).toBe(0);
    expect(stats.skipped).toBe(tests.length);
  });
});
