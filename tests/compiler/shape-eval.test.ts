/**
 * The shape evaluator and FLOP counter of src/compiler/onnx/shape-eval.ts on single nodes whose shapes and FLOPs are
 * computed by hand. On the whole tiny fixture UNet: tests/bench/graph-flops.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/compiler/onnx/graph.ts';
import { evaluateGraph, ShapeError } from '../../src/compiler/onnx/shape-eval.ts';

function graph(): Graph {
  return new Graph({ name: 't', opset: 21 });
}

describe('single nodes, FLOPs by hand', () => {
  it('Conv 2-D, stride 2, pad 1: [1,3,10,12] * [8,3,3,3] → [1,8,5,6], 2·8·5·6·3·3·3 FLOPs', () => {
    const g = graph();
    const x = g.input('x', 'float32', [1, 3, 10, 12]);
    const w = g.input('w', 'float32', [8, 3, 3, 3]);
    g.op('Conv', [x, w], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { name: 'conv' });
    const ev = evaluateGraph(g, { x: [1, 3, 10, 12], w: [8, 3, 3, 3] });
    expect(ev.values.get('conv')!.shape).toEqual([1, 8, 5, 6]);
    expect(ev.totalFlops).toBe(2 * 8 * 5 * 6 * 3 * 3 * 3);
  });

  it('Conv 3-D temporal 3×1×1 with padding [1,0,0]: shape kept, 2·N·Cout·T·H·W·Cin·3 FLOPs', () => {
    const g = graph();
    const x = g.input('x', 'float32', [2, 4, 5, 6, 7]);
    const w = g.input('w', 'float32', [16, 4, 3, 1, 1]);
    g.op('Conv', [x, w], { kernel_shape: [3, 1, 1], strides: [1, 1, 1], pads: [1, 0, 0, 1, 0, 0] }, { name: 'conv' });
    const ev = evaluateGraph(g, { x: [2, 4, 5, 6, 7], w: [16, 4, 3, 1, 1] });
    expect(ev.values.get('conv')!.shape).toEqual([2, 16, 5, 6, 7]);
    expect(ev.totalFlops).toBe(2 * 2 * 16 * 5 * 6 * 7 * 4 * 3);
  });

  it('MatMul with broadcast batch, MatMulNBits, Gemm', () => {
    const g = graph();
    const a = g.input('a', 'float32', [2, 3, 5, 7]);
    const b = g.input('b', 'float32', [7, 11]);
    g.op('MatMul', [a, b], {}, { name: 'mm' });
    const c = g.input('c', 'float32', [4, 6, 64]);
    const q = g.initializer('q', 'uint8', [32, 2, 16], new Uint8Array(32 * 2 * 16));
    const s = g.initializer('s', 'float32', [64], new Uint8Array(64 * 4));
    g.op('MatMulNBits', [c, q, s], { K: 64, N: 32, bits: 4, block_size: 32 }, { name: 'nbits', domain: 'com.microsoft' });
    const d = g.input('d', 'float32', [9, 4]);
    const e = g.input('e', 'float32', [10, 4]);
    g.op('Gemm', [d, e], { transB: 1 }, { name: 'gemm' });
    const ev = evaluateGraph(g, { a: [2, 3, 5, 7], b: [7, 11], c: [4, 6, 64], d: [9, 4], e: [10, 4] });
    expect(ev.values.get('mm')!.shape).toEqual([2, 3, 5, 11]);
    expect(ev.values.get('nbits')!.shape).toEqual([4, 6, 32]);
    expect(ev.values.get('gemm')!.shape).toEqual([9, 10]);
    expect(ev.costs.map((k) => k.flops)).toEqual([2 * 2 * 3 * 5 * 7 * 11, 2 * 4 * 6 * 64 * 32, 2 * 9 * 4 * 10]);
  });

  it('MultiHeadAttention: [B,L,C] queries, [B,S,C] keys → [B,L,C], 2·B·L·S·C for QKᵀ and again for AV', () => {
    const g = graph();
    const q = g.input('q', 'float32', [2, 10, 64]);
    const k = g.input('k', 'float32', [2, 7, 64]);
    const v = g.input('v', 'float32', [2, 7, 64]);
    g.op('MultiHeadAttention', [q, k, v], { num_heads: 4 }, { name: 'mha', domain: 'com.microsoft' });
    const ev = evaluateGraph(g, { q: [2, 10, 64], k: [2, 7, 64], v: [2, 7, 64] });
    expect(ev.values.get('mha')!.shape).toEqual([2, 10, 64]);
    expect(ev.totalFlops).toBe(2 * (2 * 2 * 10 * 7 * 64));
  });

  it('shape arithmetic: Shape(start,end) → Concat → Reshape with 0 and −1; Expand; Split; Transpose; Slice; Gather; Unsqueeze', () => {
    const g = graph();
    const x = g.input('x', 'float32', [2, 3, 4, 5, 6]);
    const bf = g.op('Shape', [x], { start: 0, end: 2 }, { name: 'bf', dtype: 'int64' });
    const hw = g.op('Shape', [x], { start: -2 }, { name: 'hw', dtype: 'int64' });
    const target = g.op('Concat', [g.int64s([-1, 4]), hw], { axis: 0 }, { name: 'target' });
    g.op('Reshape', [x, target], {}, { name: 'flat' });
    g.op('Reshape', [x, g.int64s([0, 0, -1])], {}, { name: 'zeros' });
    g.op('Expand', [g.input('y', 'float32', [1, 1, 6]), g.op('Concat', [bf, g.int64s([6])], { axis: 0 }, { name: 'et' })], {}, { name: 'expand' });
    g.node('Split', [x], { axis: -1, num_outputs: 2 }, { name: 'split', outputs: ['float32', 'float32'] });
    g.op('Transpose', [x], { perm: [0, 2, 1, 3, 4] }, { name: 't' });
    g.op('Slice', [x, g.int64s([1]), g.int64s([-1]), g.int64s([3])], {}, { name: 'slice' });
    g.op('Gather', [bf, g.constant('int64', [], [1])], { axis: 0 }, { name: 'f' });
    g.op('Unsqueeze', [x, g.int64s([0, -1])], {}, { name: 'unsq' });
    const ev = evaluateGraph(g, { x: [2, 3, 4, 5, 6], y: [1, 1, 6] });
    const shape = (n: string) => ev.values.get(n)!.shape;
    expect(ev.values.get('bf')!.value).toEqual([2, 3]);
    expect(ev.values.get('target')!.value).toEqual([-1, 4, 5, 6]);
    expect(shape('flat')).toEqual([6, 4, 5, 6]);
    expect(shape('zeros')).toEqual([2, 3, 120]);
    expect(shape('expand')).toEqual([2, 3, 6]);
    expect(shape('split:0')).toEqual([2, 3, 4, 5, 3]);
    expect(shape('t')).toEqual([2, 4, 3, 5, 6]);
    expect(shape('slice')).toEqual([2, 3, 4, 3, 6]); // axis 3: 1 … −1 of 5
    expect(ev.values.get('f')!.value).toEqual([3]);
    expect(shape('unsq')).toEqual([1, 2, 3, 4, 5, 6, 1]);
    expect(ev.totalFlops).toBe(0);
  });

  it('an unknown op or a bad reshape names the node', () => {
    const g = graph();
    const x = g.input('x', 'float32', [2, 3]);
    g.op('Reshape', [x, g.int64s([4, -1])], {}, { name: 'bad' });
    expect(() => evaluateGraph(g, { x: [2, 3] })).toThrow(ShapeError);
    const h = graph();
    h.op('FancyOp', [h.input('x', 'float32', [1])], {}, { name: 'fancy' });
    expect(() => evaluateGraph(h, { x: [1] })).toThrow(/FancyOp "fancy"/);
  });
});
