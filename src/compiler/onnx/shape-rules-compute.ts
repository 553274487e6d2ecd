/**
 * Shape rules of the ops that carry FLOPs (one multiply-add = 2 FLOPs): Conv, ConvTranspose, MatMul, MatMulNBits,
 * Gemm, com.microsoft MultiHeadAttention (QKᵀ + AV) and Einsum (matmul form).
 */
import type { onnx as proto } from 'onnx-proto';
import { attrInt, attrInts, attrString, broadcast, need, numel, out, ShapeError, type NodeResult, type ValueInfo } from './shape-eval-util.ts';

export function evalMatMul(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
  const a = need(node, ins[0], 'A');
  const b = need(node, ins[1], 'B');
  const [sa, sb] = [a.shape.length === 1 ? [1, ...a.shape] : a.shape, b.shape.length === 1 ? [...b.shape, 1] : b.shape];
  const [M, K] = sa.slice(-2);
  const [K2, N] = sb.slice(-2);
  if (K !== K2) throw new ShapeError(node, `inner dims differ: [${a.shape}] × [${b.shape}]`);
  const batch = broadcast(node, [sa.slice(0, -2), sb.slice(0, -2)]);
  let shape = [...batch, M, N];
  if (a.shape.length === 1) shape = [...batch, N];
  if (b.shape.length === 1) shape = a.shape.length === 1 ? batch : [...batch, M];
  return { outputs: [out(shape, a.elemType)], flops: 2 * numel(batch) * M * K * N };
}

export function evalMatMulNBits(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
  const a = need(node, ins[0], 'A');
  const K = attrInt(node, 'K', 0);
  const N = attrInt(node, 'N', 0);
  if (a.shape[a.shape.length - 1] !== K) throw new ShapeError(node, `A [${a.shape}] does not end in K = ${K}`);
  const rows = numel(a.shape.slice(0, -1));
  return { outputs: [out([...a.shape.slice(0, -1), N], a.elemType)], flops: 2 * rows * K * N };
}

export function evalGemm(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
  const a = need(node, ins[0], 'A');
  const b = need(node, ins[1], 'B');
  const [M, K] = attrInt(node, 'transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
  const [K2, N] = attrInt(node, 'transB', 0) ? [b.shape[1], b.shape[0]] : b.shape;
  if (K !== K2) throw new ShapeError(node, `inner dims differ: [${a.shape}] × [${b.shape}]`);
  return { outputs: [out([M, N], a.elemType)], flops: 2 * M * K * N };
}

export function evalConv(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
  const x = need(node, ins[0], 'X');
  const w = need(node, ins[1], 'W');
  const spatial = x.shape.length - 2;
  const kernel = attrInts(node, 'kernel_shape') ?? w.shape.slice(2);
  const strides = attrInts(node, 'strides') ?? new Array(spatial).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array(spatial).fill(1);
  const pads = attrInts(node, 'pads') ?? new Array(2 * spatial).fill(0);
  const group = attrInt(node, 'group', 1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET') throw new ShapeError(node, `auto_pad ${autoPad} is not supported`);
  if (kernel.length !== spatial) throw new ShapeError(node, `kernel [${kernel}] for input [${x.shape}]`);
  const [N, C] = x.shape;
  if (node.opType === 'Conv') {
    const [M, CperG] = w.shape;
    if (CperG * group !== C) throw new ShapeError(node, `weight [${w.shape}] expects ${CperG * group} input channels, input has ${C}`);
    const outSpatial = x.shape.slice(2).map((d, i) => Math.floor((d + pads[i] + pads[i + spatial] - dilations[i] * (kernel[i] - 1) - 1) / strides[i]) + 1);
    const shape = [N, M, ...outSpatial];
    return { outputs: [out(shape, x.elemType)], flops: 2 * N * M * numel(outSpatial) * CperG * numel(kernel) };
  }
  // ConvTranspose: weight [C, M/group, k...]
  const Mg = w.shape[1];
  const outPad = attrInts(node, 'output_padding') ?? new Array(spatial).fill(0);
  const outSpatial = x.shape.slice(2).map((d, i) => strides[i] * (d - 1) + outPad[i] + (kernel[i] - 1) * dilations[i] + 1 - pads[i] - pads[i + spatial]);
  return { outputs: [out([N, Mg * group, ...outSpatial], x.elemType)], flops: 2 * N * C * Mg * numel(x.shape.slice(2)) * numel(kernel) };
}

/**
 * com.microsoft MultiHeadAttention with separate Q [B, L, C], K [B, S, C], V [B, S, Cv] (the form our graphs use);
 * the packed and 4-D BSNH/BNSH key forms are handled for shapes too. FLOPs: QKᵀ (2·B·L·S·C) + AV (2·B·L·S·Cv).
 */
export function evalMultiHeadAttention(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
  const q = need(node, ins[0], 'query');
  const heads = attrInt(node, 'num_heads', 0);
  if (!heads) throw new ShapeError(node, 'num_heads missing');
  if (q.shape.length !== 3) throw new ShapeError(node, `only 3-D queries are supported (got [${q.shape}])`);
  const [B, L, C] = q.shape;
  const k = need(node, ins[1], 'key');
  const v = need(node, ins[2], 'value');
  let S: number;
  let Cv: number;
  if (k.shape.length === 3) {
    S = k.shape[1];
    Cv = v.shape[2];
  } else if (k.shape.length === 4) {
    // BNSH (past-key form) [B, N, S, H]
    S = k.shape[2];
    Cv = v.shape[1] * v.shape[3];
  } else throw new ShapeError(node, `key shape [${k.shape}] is not supported`);
  return { outputs: [out([B, L, Cv], q.elemType)], flops: 2 * B * L * S * C + 2 * B * L * S * Cv };
}

/** Einsum of two operands (matmul-like contractions): output shape from the equation, FLOPs = 2 × product of all labels. */
export function evalEinsum(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
  const eq = attrString(node, 'equation', '').replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  if (rhs === undefined || lhs.includes('...')) throw new ShapeError(node, `equation "${eq}" is not supported (explicit output, no ellipsis)`);
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((t, i) => {
    const v = need(node, ins[i], `operand ${i}`);
    [...t].forEach((c, k) => size.set(c, Math.max(size.get(c) ?? 1, v.shape[k])));
  });
  const shape = [...rhs].map((c) => size.get(c)!);
  const flops = terms.length >= 2 ? 2 * [...size.values()].reduce((a, b) => a * b, 1) : 0;
  return { outputs: [out(shape, need(node, ins[0], 'operand 0').elemType)], flops };
}
