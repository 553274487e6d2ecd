/**
 * Proves, in real Chromium against the production build served by `vite preview`:
 * - the app page renders and the document is cross-origin isolated (COOP/COEP from vite.config.ts);
 * - WebGPU gives an adapter in a page and in a module worker;
 * - onnxruntime-web (`onnxruntime-web/webgpu`) loads only from our origin and computes a tiny graph correctly on
 *   the 'webgpu' and 'wasm' EPs, in the page and in a module worker (how the app runs it).
 *
 * Every test opens its own page (fixtures `app` / `harnessPage`, e2e/support/fixtures.ts).
 */
import type { OrtEp, OrtRunRequest } from '../src/devtools/api.ts';
import { expect, test, type Session } from './support/fixtures.ts';
import { expected, tinyModelBytes, X, Z } from './fixtures/tiny-model.ts';

test.describe('app shell', () => {
  test('renders and is cross-origin isolated', async ({ app: s }) => {
    await expect(s.page.getByRole('heading', { name: 'svd-web' })).toBeVisible({ timeout: 30_000 });
    expect(await s.page.evaluate(() => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated)).toBe(true);
    await s.screenshot('app-shell');
    expect(s.pageErrors).toEqual([]);
    expect(s.consoleErrors).toEqual([]);
    expect(s.foreignRequests()).toEqual([]);
  });
});

test.describe('WebGPU + onnxruntime-web from our origin', () => {
  // The worker asks for 2 threads (pthreads spawned from our .mjs; needs cross-origin isolation); the page keeps
  // ORT's default (min(4, cores/2): 1 on a 2-core machine).
  const request = (ep: OrtEp, where: 'page' | 'worker'): OrtRunRequest => ({
    modelBase64: Buffer.from(tinyModelBytes()).toString('base64'),
    ep,
    feeds: { X, Z },
    numThreads: where === 'worker' ? 2 : undefined,
  });
  const want = expected();

  const runTiny = (s: Session, ep: OrtEp, where: 'page' | 'worker') => s.harness(where === 'page' ? 'ortInPage' : 'ortInWorker', request(ep, where));

  test('is cross-origin isolated with SharedArrayBuffer', async ({ harnessPage: s }) => {
    const env = await s.harness('env');
    console.log('env', env);
    expect(env.crossOriginIsolated).toBe(true);
    expect(env.sharedArrayBuffer).toBe(true);
    expect(env.hasGpu).toBe(true);
  });

  test('requestAdapter() returns an adapter in the page', async ({ harnessPage: s }) => {
    const a = await s.harness('adapterInPage');
    console.log('page adapter', a);
    expect(a.ok, a.error).toBe(true);
    expect(a.maxBufferSize).toBeGreaterThan(0);
  });

  test('requestAdapter() returns an adapter in a module worker', async ({ harnessPage: s }) => {
    const a = await s.harness('adapterInWorker');
    console.log('worker adapter', a);
    expect(a.ok, a.error).toBe(true);
    expect(a.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  for (const where of ['page', 'worker'] as const) {
    for (const ep of ['wasm', 'webgpu'] as const) {
      const details = ep === 'webgpu' ? { tag: '@webgpu' } : {};
      test(`runs the tiny MatMul/Add/Relu model on '${ep}' in the ${where}`, details, async ({ harnessPage: s }) => {
        const report = await runTiny(s, ep, where);
        console.log(`ort ${ep}/${where}: create ${report.createMs.toFixed(0)} ms, run ${report.runMs.toFixed(1)} ms, threads ${report.numThreads}`);
        expect(report.ep).toBe(ep);
        expect(report.outputs.Y.dims).toEqual([2, 4]);
        expect(report.outputs.R.dims).toEqual([2, 4]);
        report.outputs.Y.data.forEach((v, i) => expect(v).toBeCloseTo(want.Y[i], 5));
        report.outputs.R.data.forEach((v, i) => expect(v).toBeCloseTo(want.R[i], 5));
        const origin = new URL(report.wasmPaths.wasm).origin;
        expect(origin).toBe(s.preview.origin);
        expect(new URL(report.wasmPaths.mjs).origin).toBe(s.preview.origin);
        if (ep === 'webgpu') expect(report.adapter?.ok).toBe(true);
        if (where === 'worker') expect(report.numThreads).toBe(2);
      });
    }
  }

  // Used to look at the requests of the runs above (one shared page); now the test makes its own ORT runs, on the
  // wasm EP in the page and in a worker (the WebGPU runs load the same ORT files), and checks what they fetched.
  test('made zero requests to other origins, and fetched the ORT wasm from ours', async ({ harnessPage: s }) => {
    await runTiny(s, 'wasm', 'page');
    await runTiny(s, 'wasm', 'worker');
    expect(s.foreignRequests()).toEqual([]);
    const ortWasm = s.requests.filter((r) => /ort-wasm-simd-threaded\.asyncify-[\w-]+\.wasm$/.test(r.url));
    const ortMjs = s.requests.filter((r) => /ort-wasm-simd-threaded\.asyncify-[\w-]+\.mjs$/.test(r.url));
    expect(ortWasm.length).toBeGreaterThan(0);
    expect(ortMjs.length).toBeGreaterThan(0);
    expect(s.pageErrors).toEqual([]);
  });
});
