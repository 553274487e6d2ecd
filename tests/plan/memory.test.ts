/**
 * The liveness walk of src/plan/memory.ts on graphs small enough to count by hand: the activation peak, where it is
 * reached, the largest tensor, views sharing their input's buffer, weights by type (int4 packed), and a fused
 * attention's score matrix when the kernel is assumed to materialise it.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/compiler/onnx/graph.ts';
import { graphMemory, inputShapesFor, tensorBytes } from '../../src/plan/memory.ts';

/**
 * x f32 [4,256] (4096 B); W f16 [256,512] (262144 B); Q int4 [100,33] (1650 B, unused); the Reshape target int64 [1] (8 B).
 *   n0 h = MatMul(x, W)         f32 [4,512]  8192
 *   n1 r = Reshape(h, [2048])   view of h: no bytes, h lives while r does
 *   n2 s = Concat(r, r)         [4096]      16384
 *   n3 t = Relu(s)              [4096]      16384
 *   n4 u = Mul(r, r)            [2048]       8192   (last read of r → h dies here)
 *   n5 y = Concat(t, u)         [6144]      24576   graph output
 * Live bytes: n0 x+h = 12288 · n1 h = 8192 · n2 h+s = 24576 · n3 h+s+t = 40960 · n4 h+t+u = 32768 · n5 t+u+y = 49152.
 */
function handGraph(): Graph {
  const g = new Graph({ name: 'hand', opset: 21 });
  const x = g.input('x', 'float32', [4, 256]);
  const W = g.initializer('W', 'float16', [256, 512], new Uint8Array(262144));
  g.initializer('Q', 'int4', [100, 33], new Uint8Array(1650));
  const h = g.op('MatMul', [x, W], {}, { name: 'h' });
  const r = g.op('Reshape', [h, g.int64s([2048])], {}, { name: 'r' });
  const s = g.op('Concat', [r, r], { axis: 0 }, { name: 's' });
  const t = g.op('Relu', [s], {}, { name: 't' });
  const u = g.op('Mul', [r, r], {}, { name: 'u' });
  const y = g.op('Concat', [t, u], { axis: 0 }, { name: 'y' });
  g.output(y, 'y', [6144]);
  return g;
}

describe('graph memory by liveness', () => {
  it('the hand-counted graph: peak 49152 B at the last Concat, largest tensor y, weights by type', () => {
    const m = graphMemory(handGraph(), { x: [4, 256] });
    expect(m.activationPeak).toBe(49152);
    expect(m.peakAt).toEqual({ node: 'y', op: 'Concat' });
    expect(m.largest).toMatchObject({ name: 'y', op: 'Concat', bytes: 24576, shape: [6144] });
    expect(m.inputBytes).toBe(4096);
    expect(m.outputBytes).toBe(24576);
    expect(m.weights.bytes).toBe(262144 + 1650 + 8);
    expect(m.weights.byType).toEqual({ float16: 262144, int4: 1650, int64: 8 });
    expect(m.weights.largest).toMatchObject({ name: 'W', bytes: 262144 });
  });

  it('a larger input moves the peak with it (shapes come from the evaluator, not the declaration)', () => {
    const g = new Graph({ name: 'scale', opset: 21 });
    const x = g.input('x', 'float32', ['n', 8]);
    const a = g.op('Relu', [x], {}, { name: 'a' });
    const b = g.op('Relu', [a], {}, { name: 'b' });
    g.output(g.op('Add', [a, b], {}, { name: 'c' }), 'c', ['n', 8]);
    // n0 x+a · n1 a+b · n2 a+b+c = 3 tensors of n·8·4 bytes
    for (const n of [1, 10, 1000]) expect(graphMemory(g, inputShapesFor(g, { n })).activationPeak).toBe(3 * n * 32);
  });

  it('fused attention: counted as its output when streamed, plus its [B,heads,L,S] scores when materialised', () => {
    const g = new Graph({ name: 'mha', opset: 21 });
    const q = g.input('q', 'float16', [2, 64, 40]);
    const k = g.input('k', 'float16', [2, 16, 40]);
    const v = g.input('v', 'float16', [2, 16, 40]);
    g.output(g.op('MultiHeadAttention', [q, k, v], { num_heads: 4 }, { domain: 'com.microsoft', name: 'attn' }), 'attn', [2, 64, 40]);
    const scores = tensorBytes([2, 4, 64, 16], 10);
    expect(scores).toBe(16384);
    const streamed = graphMemory(g, { q: [2, 64, 40], k: [2, 16, 40], v: [2, 16, 40] });
    expect(streamed.activationPeak).toBe(10240 + 2560 + 2560 + 10240);
    expect(streamed.attentionScores).toMatchObject({ bytes: 16384, shape: [2, 4, 64, 16] });
    expect(streamed.largest.bytes).toBe(10240);
    const materialised = graphMemory(g, { q: [2, 64, 40], k: [2, 16, 40], v: [2, 16, 40] }, { attentionScratch: 'scores' });
    expect(materialised.activationPeak).toBe(25600 + 16384);
    expect(materialised.largest).toMatchObject({ name: 'attn (scores)', bytes: 16384 });
    // chunked: float32 scores [2, 4, rows, 16] are 512 bytes a row; a 12 KiB budget allows 24 rows, so 3 chunks, the
    // largest of ⌈64/3⌉ = 22 rows; the softmax's input and output of one chunk are live at the node
    const chunked = graphMemory(g, { q: [2, 64, 40], k: [2, 16, 40], v: [2, 16, 40] }, { attentionScratch: 'chunked', attentionScoreBytes: 12288 });
    expect(chunked.attentionSites).toEqual([{ node: 'attn', batch: 2, heads: 4, queries: 64, keys: 16, hidden: 40, elemType: 10, chunks: 3 }]);
    expect(chunked.largest).toMatchObject({ bytes: 22 * 512, shape: [2, 4, 22, 16], elemType: 1 });
    expect(chunked.activationPeak).toBe(25600 + 2 * 22 * 512);
  });

  it('packed 4-bit tensors round up to whole bytes', () => {
    expect(tensorBytes([3], 22)).toBe(2);
    expect(tensorBytes([2, 2], 21)).toBe(2);
    expect(() => tensorBytes([1], 999)).toThrow('no byte size');
  });
});
