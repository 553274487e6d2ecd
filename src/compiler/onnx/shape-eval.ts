/**
 * A small shape evaluator for the ONNX graphs our compiler emits, with the FLOPs of each node.
 *
 * Given concrete shapes for the graph inputs, it walks the nodes in order (the builder appends them topologically)
 * and computes every value's shape; small integer tensors (Shape outputs, reshape targets, Range, …) also carry
 * their VALUES, so the shape arithmetic of dynamic graphs (Shape → Concat → Reshape, Resize sizes, Expand) resolves.
 * No weights are needed: initializers only contribute their dims (and their values when stored inline and small).
 *
 * FLOPs: one multiply-add = 2 FLOPs, counted for Conv, ConvTranspose, MatMul, MatMulNBits, Gemm, Einsum (matmul
 * form) and attention (com.microsoft MultiHeadAttention: QKᵀ + AV). Elementwise ops, norms and softmax are not
 * counted (the spec's table counts matmul/conv only).
 *
 * Rules per op: shape-rules.ts (shape arithmetic, data movement) and shape-rules-compute.ts (the ops with FLOPs);
 * shared helpers in shape-eval-util.ts. bench/graph-flops.ts sorts the FLOPs of our UNet into categories.
 */
import type { onnx as proto } from 'onnx-proto';
import { MAX_TRACKED, numel, ShapeError, T, initializerValue, type ValueInfo } from './shape-eval-util.ts';
import { evalNode } from './shape-rules.ts';

export { numel, ShapeError, type ValueInfo } from './shape-eval-util.ts';

export interface NodeCost {
  name: string;
  opType: string;
  /** 2 × multiply-adds */
  flops: number;
  /** output shapes */
  outputs: number[][];
}

export interface GraphLike {
  nodes: proto.INodeProto[];
  initializers: proto.ITensorProto[];
  inputs: proto.IValueInfoProto[];
}

export interface Evaluation {
  values: Map<string, ValueInfo>;
  costs: NodeCost[];
  totalFlops: number;
}

/**
 * Evaluates shapes (and small values) of every value of `graph` for the given input shapes, and the FLOPs of every
 * node. Throws a ShapeError naming the node for an op it does not know or shapes that do not fit.
 */
export function evaluateGraph(graph: GraphLike, inputShapes: Record<string, number[]>, inputValues: Record<string, number[]> = {}): Evaluation {
  const values = new Map<string, ValueInfo>();
  for (const t of graph.initializers) {
    values.set(t.name!, { shape: (t.dims ?? []).map(Number), elemType: t.dataType ?? T.FLOAT, value: initializerValue(t) });
  }
  for (const i of graph.inputs) {
    const shape = inputShapes[i.name!];
    if (!shape) throw new Error(`no shape given for graph input "${i.name}"`);
    const declared = i.type?.tensorType?.shape?.dim ?? [];
    if (declared.length !== shape.length) throw new Error(`input "${i.name}": rank ${shape.length} given, the graph declares ${declared.length}`);
    declared.forEach((d, k) => {
      if (d.dimValue != null && Number(d.dimValue) !== shape[k]) throw new Error(`input "${i.name}": dim ${k} is fixed at ${d.dimValue}, ${shape[k]} given`);
    });
    values.set(i.name!, { shape, elemType: i.type?.tensorType?.elemType ?? T.FLOAT, value: inputValues[i.name!] });
  }
  const costs: NodeCost[] = [];
  let totalFlops = 0;
  for (const node of graph.nodes) {
    const ins = (node.input ?? []).map((n) => {
      if (!n) return undefined;
      const v = values.get(n);
      if (!v) throw new ShapeError(node, `input "${n}" has not been computed (graph not in topological order?)`);
      return v;
    });
    const { outputs, flops } = evalNode(node, ins);
    const names = node.output ?? [];
    if (outputs.length < names.filter((n) => n).length) throw new ShapeError(node, `evaluator gave ${outputs.length} outputs for ${names.length}`);
    names.forEach((n, k) => {
      if (!n) return;
      const o = outputs[k];
      if (o.value && (o.value.length !== numel(o.shape) || numel(o.shape) > MAX_TRACKED)) delete o.value;
      values.set(n, o);
    });
    costs.push({ name: node.name ?? '', opType: node.opType ?? '', flops, outputs: outputs.map((o) => o.shape) });
    totalFlops += flops;
  }
  return { values, costs, totalFlops };
}
