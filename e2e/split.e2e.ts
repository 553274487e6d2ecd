/**
 * A graph created in parts (issue 14, must-show 2), in real Chromium: session creation holds one part's weights in
 * the JS heap at a time (bench/heap.ts --split-unet measures it at full size), so the parts must compute what the
 * single graph computes:
 * - the fixture UNet cut into 3 parts (src/compiler/onnx/split-graph.ts) and run part after part equals the single
 *   graph within 1e-6 relative (max|Δ| ≤ 1e-6·max|single|), on the wasm and the WebGPU EPs — both with onnxruntime's
 *   graph optimisations off, so each runs the graph's own nodes: with them on, fusions that a cut separates (a
 *   residual Add and the norm after it, say) round differently in the parts (measured 1.2e-6 / 2.7e-6 relative);
 * The app's device loop with the UNet in parts (and its attention chunked) is checked in e2e/attention.e2e.ts, in the
 * same job as chunked attention (one SwiftShader job for both).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readPartWeights } from '../src/io/node-files.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { expect, test } from './support/fixtures.ts';
import { PRECISIONS } from '../src/compiler/onnx/nn.ts';
import { splitGraph, type GraphPart } from '../src/compiler/onnx/split-graph.ts';
import { evaluateGraph } from '../src/compiler/onnx/shape-eval.ts';
import { decodeGraph } from '../src/plan/model.ts';
import { compileNetwork, networkReference, smallUnetFeeds } from '../tests/support/networks.ts';
import { maxAbs, maxAbsDiff } from '../tests/support/fixtures.ts';

const { onnx } = onnxProto;
/** parts vs the single graph, float32: max|Δ| ≤ 1e-6·max|single| (the bound) */
const SPLIT_TOL = 1e-6;
const ROUTE = '/e2e-split/';
const PARTS = 3;

/** The fixture UNet (fp32) and its parts cut for these inputs, written as files the page can fetch. */
function writeParts(feeds: Record<string, { shape: number[] }>): { dir: string; single: { model: string; data: string[] }; parts: GraphPart[] } {
  const dir = mkdtempSync(join(tmpdir(), 'svd-e2e-split-'));
  const compiled = compileNetwork('unet', PRECISIONS.fp32, dir, 'plain');
  const bytes = new Uint8Array(readFileSync(join(dir, compiled.model.path)));
  const evaluation = evaluateGraph(decodeGraph(bytes), Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.shape])));
  const parts = splitGraph(onnx.ModelProto.decode(bytes), evaluation, PARTS, 'unet');
  parts.forEach((p, k) => {
    writeFileSync(join(dir, `part${k}.onnx`), p.model);
    writeFileSync(join(dir, p.dataPath), readPartWeights(dir, p));
  });
  return { dir, single: { model: compiled.model.path, data: compiled.externalData.map((f) => f.path) }, parts };
}

test.describe('a graph in parts', () => {
  for (const ep of ['wasm', 'webgpu'] as const) {
    test(`${ep} EP: the fixture UNet in ${PARTS} parts equals the single graph (1e-6 relative)`, { tag: ep === 'webgpu' ? '@webgpu' : [] }, async ({ harnessPage: app }) => {
      test.setTimeout(15 * 60_000);
      // the reference's inputs on wasm; on WebGPU (SwiftShader) a quarter of their size (batch 1, 2 frames, 8×8 latents)
      const inputs = ep === 'wasm' ? networkReference('unet').feeds : smallUnetFeeds();
      const { dir, single, parts } = writeParts(inputs);
      try {
        await app.context.route(`**${ROUTE}**`, (route) => route.fulfill({ body: readFileSync(join(dir, new URL(route.request().url()).pathname.slice(ROUTE.length))), contentType: 'application/octet-stream' }));
        const ref = networkReference('unet');
        const run = async (model: string, data: string[], feeds: Record<string, { dims: number[]; data: number[] }>) =>
          (await app.harness('ortInPage', { ep, modelUrl: `${ROUTE}${model}`, externalData: data.map((p) => ({ path: p, url: `${ROUTE}${p}` })), allowCpuFallback: true, graphOptimizationLevel: 'disabled', feeds })).outputs;
        const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { dims: v.shape, data: Array.from(v.data) }]));
        const whole = Float32Array.from((await run(single.model, single.data, feeds))[ref.output].data);
        // part after part; the values crossing a cut go from one part's outputs to the next part's inputs
        const values: Record<string, { dims: number[]; data: number[] }> = { ...feeds };
        for (const [k, part] of parts.entries()) {
          const out = await run(`part${k}.onnx`, [part.dataPath], Object.fromEntries(part.inputs.map((i) => [i.name, values[i.name]])));
          Object.assign(values, out);
        }
        const chained = Float32Array.from(values[ref.output].data);
        const err = maxAbsDiff(chained, whole);
        console.log(`${ep}: UNet in ${parts.length} parts (${parts.map((p) => p.nodeCount).join(' + ')} nodes; ${parts.slice(1).map((p) => p.inputs.length).join(' / ')} values crossing) vs the single graph: max|Δ| ${err.toExponential(2)} (max ${maxAbs(whole).toFixed(3)})`);
        expect(err).toBeLessThanOrEqual(SPLIT_TOL * maxAbs(whole));
        expect(Math.max(...whole) - Math.min(...whole)).toBeGreaterThan(0.01);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
