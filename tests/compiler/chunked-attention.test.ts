/**
 * Query-chunked attention (src/compiler/onnx/chunked-attention.ts) put in place of fused MultiHeadAttention at load
 * time, and the attention self-test (src/runtime/attention-check.ts), on onnxruntime-node's CPU EP:
 * - every fixture network converted with fused attention and rewritten to chunked attention (several chunks per node,
 *   chosen by the memory plan from a small score budget) computes what the same network converted with plain
 *   attention computes, within 1e-5·max(1, max|plain|) (float32; the two differ only in summation order);
 * - the self-test keeps fused where it is right, picks chunked where the fused kernel is wrong, and refuses a device
 *   where both are wrong; the rewrite refuses what it cannot chunk, naming the node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PRECISIONS } from '../../src/compiler/onnx/nn.ts';
import { chunkAttentionInModel, chunkCount, chunkingOf, fusedAttentionNodes, scoreBytes, largestChunkRows, type GraphChunking } from '../../src/compiler/onnx/chunked-attention.ts';
import { Graph } from '../../src/compiler/onnx/graph.ts';
import { decodeGraph } from '../../src/plan/model.ts';
import { graphMemory } from '../../src/plan/memory.ts';
import { checkAttention, checkProblem, CHECK_TOLERANCE, type RunOnDevice } from '../../src/runtime/attention-check.ts';
import { compileNetwork, networkReference, NETWORK_CASES } from '../support/networks.ts';
import { maxAbs, maxAbsDiff } from '../support/fixtures.ts';
import { runModel } from '../support/ort.ts';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
/** chunked vs plain attention, float32: max|Δ| ≤ 1e-5·max(1, max|plain|) */
const CHUNKED_TOL = 1e-5;

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'svd-chunked-'));
});
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Chunking that cuts the graph's largest attention into at least 3 chunks (smaller ones into as many or more). */
function smallBudgetChunking(modelBytes: Uint8Array, shapes: Record<string, number[]>): { chunking: GraphChunking; chunks: number[] } {
  const graph = decodeGraph(modelBytes);
  const sites = graphMemory(graph, shapes).attentionSites;
  const budget = Math.max(...sites.map((s) => scoreBytes(s, s.queries))) / 3;
  const planned = graphMemory(graph, shapes, { attentionScratch: 'chunked', attentionScoreBytes: budget }).attentionSites;
  for (const s of planned) expect(scoreBytes(s, largestChunkRows(s.queries, s.chunks!))).toBeLessThanOrEqual(Math.max(budget, scoreBytes(s, 1)));
  return {
    chunking: chunkingOf(planned),
    chunks: planned.map((s) => s.chunks!),
  };
}

describe('chunked attention equals plain attention on the fixture networks (onnxruntime-node CPU, fp32)', () => {
  for (const name of NETWORK_CASES) {
    it(name, async () => {
      const plain = compileNetwork(name, PRECISIONS.fp32, join(out, `${name}-plain`), 'plain');
      const fused = compileNetwork(name, PRECISIONS.fp32, join(out, `${name}-fused`), 'fused');
      const ref = networkReference(name);
      const fusedPath = join(out, `${name}-fused`, fused.model.path);
      const fusedBytes = new Uint8Array(readFileSync(fusedPath));
      const shapes = Object.fromEntries(Object.entries(ref.feeds).map(([k, v]) => [k, v.shape]));
      const { chunking, chunks } = smallBudgetChunking(fusedBytes, shapes);
      expect(Math.max(...chunks)).toBeGreaterThanOrEqual(3);
      const chunkedPath = join(out, `${name}-fused`, 'chunked.onnx');
      const rewritten = chunkAttentionInModel(fusedBytes, chunking);
      expect(fusedAttentionNodes(onnx.ModelProto.decode(rewritten).graph!)).toEqual([]);
      writeFileSync(chunkedPath, rewritten);
      const expected = (await runModel(join(out, `${name}-plain`, plain.model.path), ref.feeds))[ref.output].data;
      const got = (await runModel(chunkedPath, ref.feeds))[ref.output].data;
      const err = maxAbsDiff(got, expected);
      console.log(`${name}: ${chunks.length} attention nodes in ${chunks.join('/')} chunks; chunked vs plain max|Δ| ${err.toExponential(2)} (max|plain| ${maxAbs(expected).toFixed(3)})`);
      expect(err).toBeLessThanOrEqual(CHUNKED_TOL * Math.max(1, maxAbs(expected)));
    });
  }
});

/** Runs a model on onnxruntime-node's CPU EP, optionally spoiling what the fused kernel returns. */
function cpuRunner(spoil?: { fused?: boolean; chunked?: boolean }): RunOnDevice {
  return async (model, feeds) => {
    const isFused = fusedAttentionNodes(onnx.ModelProto.decode(model).graph!).length > 0;
    const session = await ort.InferenceSession.create(model);
    try {
      const result = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
      const outs = Object.fromEntries(Object.entries(result).map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
      if ((isFused && spoil?.fused) || (!isFused && spoil?.chunked)) for (const o of Object.values(outs)) o[5] += 0.48; // one wrong value, as the broken kernel gives
      return outs;
    } finally {
      await session.release();
    }
  };
}

describe('the attention self-test', () => {
  it('keeps fused attention where the kernel is right (both forms within the tolerance)', async () => {
    const v = await checkAttention(cpuRunner());
    expect(v.kind).toBe('fused');
    expect(v.fusedError).toBeLessThanOrEqual(CHECK_TOLERANCE);
    expect(v.chunkedError).toBeLessThan(1e-5);
    expect(v.why).toMatch(/passed/);
  });

  it('picks chunked attention where the fused kernel is wrong, and says so with the error', async () => {
    const v = await checkAttention(cpuRunner({ fused: true }));
    expect(v.kind).toBe('chunked');
    expect(v.fusedError).toBeGreaterThan(0.4);
    expect(v.why).toMatch(/fused kernel failed this GPU's self-test \(max error 4\.\de-1\); chunked attention passed/);
  });

  it('refuses a device where both are wrong', async () => {
    await expect(checkAttention(cpuRunner({ fused: true, chunked: true }))).rejects.toThrow(/attention computes wrong results on this GPU .*run on the CPU instead/);
  });

  it('its problems include the sizes where the broken kernel fails (queries ≥ 32, keys ≥ 6)', () => {
    const { feeds } = checkProblem();
    expect(feeds.q0.dims[1]).toBeGreaterThanOrEqual(32);
    expect(feeds.k0.dims[1]).toBeGreaterThanOrEqual(6);
  });
});

describe('the rewrite', () => {
  const fusedGraph = (extraInputs: string[] = []) => {
    const g = new Graph({ name: 'one', opset: 21 });
    g.useDomain('com.microsoft', 1);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => g.input(n, 'float32', [1, 4, 8]));
    const o = g.op('MultiHeadAttention', [q, k, v, ...extraInputs.map((n) => g.input(n, 'float32', [8]))], { num_heads: 2 }, { domain: 'com.microsoft', name: 'block.attn1' });
    g.output(o, 'o', [1, 4, 8]);
    return g.toBytes();
  };

  it('refuses a node with a bias input, naming it', () => {
    expect(() => chunkAttentionInModel(fusedGraph(['bias']), { 'block.attn1': { chunks: 2, elemType: 1, hidden: 8 } })).toThrow(/"block.attn1".*only separate Q, K, V/);
  });

  it('refuses a node the plan did not chunk, naming it', () => {
    expect(() => chunkAttentionInModel(fusedGraph(), {})).toThrow(/"block.attn1" has no chunk plan/);
  });

  it('chunk counts: the fewest chunks whose float32 scores fit the budget, at least one row each', () => {
    const site = { node: 'a', batch: 50, heads: 5, queries: 9216, keys: 9216, hidden: 320, elemType: 10 };
    const n = chunkCount(site, 512 * 1024 ** 2);
    expect(scoreBytes(site, largestChunkRows(9216, n))).toBeLessThanOrEqual(512 * 1024 ** 2);
    expect(scoreBytes(site, largestChunkRows(9216, n - 1))).toBeGreaterThan(512 * 1024 ** 2);
    expect(chunkCount(site, 1)).toBe(9216);
    expect(chunkCount({ ...site, queries: 10 }, 1e12)).toBe(1);
  });
});
