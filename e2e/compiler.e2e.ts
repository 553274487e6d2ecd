/**
 * The compiled graphs of every fixture network in real Chromium through onnxruntime-web (native WebGPU EP build):
 * fp32 on the wasm and WebGPU EPs against the diffusers/transformers reference; fp16, q4f32 and q4f16 on wasm and
 * q4f32 on WebGPU, each against the reference (bounds as in the Node tests) and against the same graph in
 * onnxruntime-node (the browser computes what Node computes).
 *
 * The compiled graphs (and onnxruntime-node's outputs for them) are a worker-scoped fixture, computed per precision
 * the first time a test of that precision asks: any test runs alone, in any order.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test as base, type Session } from './support/fixtures.ts';
import { PRECISIONS, type PrecisionName } from '../src/compiler/onnx/nn.ts';
import type { CompiledGraph } from '../src/compiler/compile.ts';
import { compileNetwork, networkReference, NETWORK_CASES, type NetworkCase } from '../tests/support/networks.ts';
import { maxAbs, maxAbsDiff, parityBound } from '../tests/support/fixtures.ts';
import { runModel } from '../tests/support/ort.ts';

/**
 * Error against the reference, relative to max|ref|: fp32 is the 1e-4·max(1,|ref|); fp16 keeps ~11 mantissa
 * bits per op (1%); 4-bit blocks of random N(0, 0.05²) weights move these tiny random networks by up to ~12% (25%
 * leaves room for the UNet's depth). The reduced bounds catch broken graphs, not quality (printed for that).
 */
const REFERENCE_BOUND: Record<PrecisionName, (ref: Float32Array) => number> = {
  fp32: (ref) => parityBound(ref),
  fp16: (ref) => 1e-2 * maxAbs(ref),
  q4f32: (ref) => 0.25 * maxAbs(ref),
  q4f16: (ref) => 0.25 * maxAbs(ref),
};
/**
 * Browser vs onnxruntime-node on the same graph, for float32 activations: the kernels agree to 1e-4·max(1,|ref|).
 * fp16-activation graphs are not compared this way: wasm computes most fp16 ops in float32 through inserted casts
 * while onnxruntime-node has native fp16 kernels, so the two round differently at every layer (measured: as far
 * apart as each is from the reference); each is held to the reference bound instead.
 */
const NODE_BOUND: Partial<Record<PrecisionName, number>> = { fp32: 1e-4, q4f32: 1e-4 };

const ROUTE = '/e2e-graphs/';
const PRECISION_NAMES: PrecisionName[] = ['fp32', 'fp16', 'q4f32', 'q4f16'];

interface CompiledPrecision {
  dir: string;
  graphs: Map<NetworkCase, CompiledGraph>;
  nodeOutputs: Map<NetworkCase, Float32Array>;
}

/** Compiles the four networks at a precision into a temp folder and runs each in onnxruntime-node. */
async function compilePrecision(p: PrecisionName): Promise<CompiledPrecision> {
  const dir = mkdtempSync(join(tmpdir(), `svd-e2e-graphs-${p}-`));
  const graphs = new Map<NetworkCase, CompiledGraph>();
  const nodeOutputs = new Map<NetworkCase, Float32Array>();
  for (const n of NETWORK_CASES) {
    const graph = compileNetwork(n, PRECISIONS[p], dir);
    graphs.set(n, graph);
    const ref = networkReference(n);
    const out = await runModel(join(dir, graph.model.path), ref.feeds);
    nodeOutputs.set(n, out[ref.output].data);
  }
  return { dir, graphs, nodeOutputs };
}

const test = base.extend<{ graphPage: Session }, { compiled: (p: PrecisionName) => Promise<CompiledPrecision> }>({
  compiled: [
    async ({}, use) => {
      const memo = new Map<PrecisionName, Promise<CompiledPrecision>>();
      await use((p) => {
        if (!memo.has(p)) memo.set(p, compilePrecision(p));
        return memo.get(p)!;
      });
      for (const c of memo.values()) {
        const done = await c.catch(() => undefined);
        if (done) rmSync(done.dir, { recursive: true, force: true });
      }
    },
    { scope: 'worker' },
  ],
  // harness.html with the compiled folders served same-origin under /e2e-graphs/<precision>/ (the page is
  // cross-origin isolated).
  graphPage: async ({ harnessPage, compiled }, use) => {
    await harnessPage.context.route(`**${ROUTE}**`, async (route) => {
      const [precision, file] = new URL(route.request().url()).pathname.slice(ROUTE.length).split('/');
      const { dir } = await compiled(precision as PrecisionName);
      await route.fulfill({ body: readFileSync(join(dir, file)), contentType: 'application/octet-stream' });
    });
    await use(harnessPage);
  },
});

// The old beforeAll compiled every precision under its own 10-minute limit; each test now compiles its precision
// (when no earlier test in the worker did), so it gets that time on top of its own limit.
const COMPILE_MS = 600_000;

test.describe('compiled graphs in Chromium (onnxruntime-web)', () => {
  async function check(app: Session, compiled: CompiledPrecision, ep: 'wasm' | 'webgpu', precision: PrecisionName, network: NetworkCase): Promise<void> {
    const graph = compiled.graphs.get(network)!;
    const ref = networkReference(network);
    const report = await app.harness('ortInPage', {
      ep,
      modelUrl: `${ROUTE}${precision}/${graph.model.path}`,
      externalData: graph.externalData.map((f) => ({ path: f.path, url: `${ROUTE}${precision}/${f.path}` })),
      allowCpuFallback: true,
      feeds: Object.fromEntries(Object.entries(ref.feeds).map(([k, v]) => [k, { dims: v.shape, data: Array.from(v.data) }])),
    });
    const out = report.outputs[ref.output];
    expect(out.dims).toEqual(ref.expected.shape);
    const got = Float32Array.from(out.data);
    const vsRef = maxAbsDiff(got, ref.expected.data);
    const vsNode = maxAbsDiff(got, compiled.nodeOutputs.get(network)!);
    console.log(
      `${ep} ${precision} ${network}: max|Δ| vs reference ${vsRef.toExponential(2)} (${((vsRef / maxAbs(ref.expected.data)) * 100).toFixed(2)}% of max|ref|), ` +
        `vs onnxruntime-node ${vsNode.toExponential(2)}; create ${report.createMs.toFixed(0)} ms, run ${report.runMs.toFixed(0)} ms`,
    );
    expect(vsRef).toBeLessThanOrEqual(REFERENCE_BOUND[precision](ref.expected.data));
    const nodeBound = NODE_BOUND[precision];
    if (nodeBound !== undefined) expect(vsNode).toBeLessThanOrEqual(nodeBound * Math.max(1, maxAbs(ref.expected.data)));
  }

  for (const precision of PRECISION_NAMES) {
    test(`wasm EP: ${precision} graphs of all four networks`, async ({ graphPage, compiled }) => {
      test.setTimeout(600_000 + COMPILE_MS);
      const c = await compiled(precision);
      for (const network of NETWORK_CASES) await check(graphPage, c, 'wasm', precision, network);
    });
  }

  // SwiftShader WebGPU has no shader-f16: the fp32-activation graphs run there. ~10 ms per kernel dispatch here.
  for (const precision of ['fp32', 'q4f32'] as const) {
    test(`WebGPU EP: ${precision} graphs of all four networks`, { tag: '@webgpu' }, async ({ graphPage, compiled }) => {
      test.setTimeout(30 * 60_000 + COMPILE_MS);
      const c = await compiled(precision);
      for (const network of NETWORK_CASES) await check(graphPage, c, 'webgpu', precision, network);
    });
  }
});
