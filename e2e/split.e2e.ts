/**
 * A graph created in parts (issue 14, must-show 2), in real Chromium: session creation holds one part's weights in
 * the JS heap at a time (bench/heap.ts --split-unet measures it at full size), so the parts must compute what the
 * single graph computes:
 * - the fixture UNet cut into 3 parts (src/compiler/onnx/split-graph.ts) and run part after part equals the single
 *   graph within 1e-6 relative (max|Δ| ≤ 1e-6·max|single|), on the wasm and the WebGPU EPs — both with onnxruntime's
 *   graph optimisations off, so each runs the graph's own nodes: with them on, fusions that a cut separates (a
 *   residual Add and the norm after it, say) round differently in the parts (measured 1.2e-6 / 2.7e-6 relative);
 * - the app's device loop with the UNet in 3 parts (a small session budget makes the memory plan cut the demo model's
 *   UNet) gives the frames of the same job with the UNet whole (captured) within 1e-4, the bound of this suite for two
 *   float32 configurations of the same model: with onnxruntime's optimisations on (as the app runs), fusions a cut
 *   separates round differently (measured 5e-6). The parts run uncaptured: replaying several captured sessions on
 *   one device gave frames 4e-3 away in onnxruntime-web 1.30, so the runtime does not capture them, and says why.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { expect, test } from './support/fixtures.ts';
import type { PipelineJob } from '../src/devtools/api.ts';
import { PRECISIONS } from '../src/compiler/onnx/nn.ts';
import { splitGraph, type GraphPart } from '../src/compiler/onnx/split-graph.ts';
import { evaluateGraph } from '../src/compiler/onnx/shape-eval.ts';
import { decodeGraph } from '../src/plan/model.ts';
import { compileNetwork, networkReference } from '../tests/support/networks.ts';
import { fixtureImage, fixturePath, maxAbs, maxAbsDiff } from '../tests/support/fixtures.ts';

const { onnx } = onnxProto;
/** parts vs the single graph, float32: max|Δ| ≤ 1e-6·max|single| (the bound) */
const SPLIT_TOL = 1e-6;
const ROUTE = '/e2e-split/';
const PARTS = 3;

/** The fixture UNet (fp32) and its parts, written as files the page can fetch. */
function writeParts(): { dir: string; single: { model: string; data: string[] }; parts: GraphPart[] } {
  const dir = mkdtempSync(join(tmpdir(), 'svd-e2e-split-'));
  const compiled = compileNetwork('unet', PRECISIONS.fp32, dir, 'plain');
  const bytes = new Uint8Array(readFileSync(join(dir, compiled.model.path)));
  const ref = networkReference('unet');
  const evaluation = evaluateGraph(decodeGraph(bytes), Object.fromEntries(Object.entries(ref.feeds).map(([k, v]) => [k, v.shape])));
  const parts = splitGraph(onnx.ModelProto.decode(bytes), evaluation, PARTS, 'unet');
  parts.forEach((p, k) => {
    const data = new Uint8Array(p.dataBytes);
    for (const r of p.ranges) {
      const fd = openSync(join(dir, r.path), 'r');
      readSync(fd, data, r.partOffset, r.length, r.offset);
      closeSync(fd);
    }
    writeFileSync(join(dir, `part${k}.onnx`), p.model);
    writeFileSync(join(dir, p.dataPath), data);
  });
  return { dir, single: { model: compiled.model.path, data: compiled.externalData.map((f) => f.path) }, parts };
}

const image = fixtureImage(fixturePath('A', 'pipeline', 'input.png'));
const imageJson = { width: image.width, height: image.height, rgba: Array.from(image.rgba) };

test.describe('a graph in parts', () => {
  for (const ep of ['wasm', 'webgpu'] as const) {
    test(`${ep} EP: the fixture UNet in ${PARTS} parts equals the single graph (1e-6 relative)`, { tag: ep === 'webgpu' ? '@webgpu' : [] }, async ({ harnessPage: app }) => {
      test.setTimeout(15 * 60_000);
      const { dir, single, parts } = writeParts();
      try {
        await app.context.route(`**${ROUTE}**`, (route) => route.fulfill({ body: readFileSync(join(dir, new URL(route.request().url()).pathname.slice(ROUTE.length))), contentType: 'application/octet-stream' }));
        const ref = networkReference('unet');
        const run = async (model: string, data: string[], feeds: Record<string, { dims: number[]; data: number[] }>) =>
          (await app.harness('ortInPage', { ep, modelUrl: `${ROUTE}${model}`, externalData: data.map((p) => ({ path: p, url: `${ROUTE}${p}` })), allowCpuFallback: true, graphOptimizationLevel: 'disabled', feeds })).outputs;
        const feeds = Object.fromEntries(Object.entries(ref.feeds).map(([k, v]) => [k, { dims: v.shape, data: Array.from(v.data) }]));
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

  test('webgpu: the device loop with the UNet in parts gives the frames of the UNet whole (1e-4), uncaptured and saying why', { tag: '@webgpu' }, async ({ harnessPage: app }) => {
    test.setTimeout(20 * 60_000);
    // 32×32: at 16×16 the tiny UNet's lowest GroupNorms turn float32 rounding into 1e-3 (README, Correctness)
    const request = { fps: 7, motion: 127, cond_aug: 0.02, frames: 2, steps: 2, min_guidance: 1, max_guidance: 1, width: 32, height: 32, decode_chunk: 2, seed: 424242 };
    const whole: PipelineJob = { image: imageJson, request, floatFrames: true };
    // the demo UNet is ~17 MB: a 7 MB session budget makes the plan cut it in 3
    const inParts: PipelineJob = { ...whole, memoryBudget: { sessionPartBytes: 7e6 } };
    const report = await app.harness('pipeline', { modelBaseUrl: '/models/tiny-random/', device: 'webgpu', jobs: [whole, inParts] });
    expect(report.device).toBe('webgpu');
    const [a, b] = report.jobs;
    for (const j of [a, b]) {
      expect(j.outcome, j.error?.message).toBe('result');
      expect(j.result!.loop).toBe('device');
      expect(j.result!.readbacks.denoise).toBe(1);
    }
    expect(a.result!.graphCapture).toEqual({ on: true });
    expect(b.result!.graphCapture).toEqual({ on: false, reason: expect.stringMatching(/^a graph made in parts is not captured/) });
    expect(b.result!.sessionParts).toEqual({ unet: 3 });
    expect(a.result!.sessionParts).toBeUndefined();
    const fa = Float32Array.from(a.floatFrames!);
    const err = maxAbsDiff(Float32Array.from(b.floatFrames!), fa);
    console.log(`webgpu device loop, UNet in 3 parts vs whole: frames max|Δ| ${err.toExponential(2)} (${b.ms.toFixed(0)} vs ${a.ms.toFixed(0)} ms)`);
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(Math.max(...fa) - Math.min(...fa)).toBeGreaterThan(0.01);
  });
});
