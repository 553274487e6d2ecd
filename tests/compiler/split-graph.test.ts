/**
 * A graph cut into parts that run one after another (src/compiler/onnx/split-graph.ts), on onnxruntime-node's CPU EP:
 * the fixture UNet (fp32, plain and fused attention) and VAE decoder in 2 and 3 parts, chained on their crossing values,
 * give the single graph's output within 1e-6 relative; each part holds only its weights; crossing shape arithmetic is
 * written as constants; the parts' weights add up to the graph's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readPartWeights } from '../../src/io/node-files.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { PRECISIONS, type AttentionKind } from '../../src/compiler/onnx/nn.ts';
import { splitGraph, type GraphPart } from '../../src/compiler/onnx/split-graph.ts';
import { evaluateGraph } from '../../src/compiler/onnx/shape-eval.ts';
import { decodeGraph } from '../../src/plan/model.ts';
import { compileNetwork, networkReference, type NetworkCase } from '../support/networks.ts';
import { maxAbs, maxAbsDiff } from '../support/fixtures.ts';
import { EXACT_SESSION_OPTIONS, runModel } from '../support/ort.ts';

const { onnx } = onnxProto;
/** the split graph vs the single graph, float32: max|Δ| ≤ 1e-6·max|single| (the issue's bound) */
const SPLIT_TOL = 1e-6;

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'svd-split-'));
});
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Runs the parts in order; crossing values stay as onnxruntime tensors between them. */
async function runParts(dir: string, parts: GraphPart[], feeds: Record<string, { data: Float32Array; shape: number[] }>): Promise<Record<string, ort.Tensor>> {
  const values: Record<string, ort.Tensor> = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.shape)]));
  for (const part of parts) {
    const session = await ort.InferenceSession.create(part.model, { ...EXACT_SESSION_OPTIONS, externalData: [{ path: part.dataPath, data: readPartWeights(dir, part) }] } as ort.InferenceSession.SessionOptions);
    try {
      const result = await session.run(Object.fromEntries(part.inputs.map((i) => [i.name, values[i.name]])));
      Object.assign(values, result);
    } finally {
      await session.release();
    }
  }
  return values;
}

const CASES: [NetworkCase, AttentionKind, number][] = [['unet', 'plain', 3], ['unet', 'fused', 2], ['vae_decoder', 'plain', 2]];

describe('a graph split into parts equals the single graph (onnxruntime-node CPU, fp32)', () => {
  for (const [network, attention, count] of CASES) {
    it(`${network} (${attention} attention) in ${count} parts`, async () => {
      const dir = join(out, `${network}-${attention}`);
      const compiled = compileNetwork(network, PRECISIONS.fp32, dir, attention);
      const ref = networkReference(network);
      const bytes = new Uint8Array(readFileSync(join(dir, compiled.model.path)));
      const shapes = Object.fromEntries(Object.entries(ref.feeds).map(([k, v]) => [k, v.shape]));
      const evaluation = evaluateGraph(decodeGraph(bytes), shapes);
      const parts = splitGraph(onnx.ModelProto.decode(bytes), evaluation, count, network);
      expect(parts).toHaveLength(count);
      // each part's weights are its own; together they are the graph's (a weight two parts read is in both)
      const total = compiled.externalData.reduce((a, f) => a + f.bytes, 0);
      const sum = parts.reduce((a, p) => a + p.dataBytes, 0);
      expect(sum).toBeGreaterThanOrEqual(total);
      expect(sum).toBeLessThan(total * 1.01);
      for (const p of parts) expect(p.dataBytes).toBeLessThan((total / count) * 1.6);
      // no shape arithmetic crosses a cut: only float values do
      for (const p of parts.slice(1)) for (const i of p.inputs) expect([1, 10], i.name).toContain(i.elemType);

      const single = (await runModel(join(dir, compiled.model.path), ref.feeds))[ref.output].data;
      const chained = (await runParts(dir, parts, ref.feeds))[ref.output].data as Float32Array;
      const err = maxAbsDiff(chained, single);
      console.log(`${network} ${attention}: ${count} parts of ${parts.map((p) => `${p.nodeCount} nodes / ${(p.dataBytes / 1e6).toFixed(2)} MB`).join(', ')}; crossing ${parts.slice(1).map((p) => p.inputs.length).join('/')} values; max|Δ| ${err.toExponential(2)} (max ${maxAbs(single).toFixed(3)})`);
      expect(err).toBeLessThanOrEqual(SPLIT_TOL * maxAbs(single));
    });
  }

  it('a cut that cannot be made is refused by name', () => {
    const dir = join(out, 'unet-plain');
    const bytes = new Uint8Array(readFileSync(join(dir, 'unet.onnx')));
    const ref = networkReference('unet');
    const evaluation = evaluateGraph(decodeGraph(bytes), Object.fromEntries(Object.entries(ref.feeds).map(([k, v]) => [k, v.shape])));
    // forget every known value: shape arithmetic then crosses every cut as data of unknown content
    for (const v of evaluation.values.values()) if (v.elemType === 7) delete v.value;
    expect(() => splitGraph(onnx.ModelProto.decode(bytes), evaluation, 3, 'unet')).toThrow(/unet: no place to cut part 1 of 3/);
  });
});
