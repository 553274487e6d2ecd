/**
 * A small shape evaluator for the ONNX graphs our compiler emits, and a FLOP counter on top of it.
 *
 * Given concrete shapes for the graph inputs, it walks the nodes in order (the builder appends them topologically)
 * and computes every value's shape; small integer tensors (Shape outputs, reshape targets, Range, …) also carry
 * their VALUES, so the shape arithmetic of dynamic graphs (Shape → Concat → Reshape, Resize sizes, Expand) resolves.
 * No weights are needed: initializers only contribute their dims (and their values when stored inline and small).
 *
 * FLOPs: one multiply-add = 2 FLOPs, counted for Conv, ConvTranspose, MatMul, MatMulNBits, Gemm, Einsum (matmul
 * form) and attention (com.microsoft MultiHeadAttention: QKᵀ + AV). Elementwise ops, norms and softmax are not
 * counted (the spec's table counts matmul/conv only); `otherElements` reports their output sizes for reference.
 */
import type { onnx as proto } from 'onnx-proto';

export interface ValueInfo {
  shape: number[];
  /** ONNX element type */
  elemType: number;
  /** element values, for small integer/float tensors whose values are known (constants and shape arithmetic) */
  value?: number[];
}

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

export class ShapeError extends Error {
  constructor(node: proto.INodeProto, message: string) {
    super(`${node.opType} "${node.name}": ${message}`);
    this.name = 'ShapeError';
  }
}

const T = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, UINT4: 21, INT4: 22 };
const INTEGER_TYPES = new Set([T.INT64, T.INT32, T.INT8, T.UINT8, T.BOOL]);
/** values of at most this many elements are tracked */
const MAX_TRACKED = 64;

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------------------------
// attributes

function attr(node: proto.INodeProto, name: string): proto.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}
function attrInt(node: proto.INodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? Number(a.i ?? 0) : dflt;
}
function attrInts(node: proto.INodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}
function attrString(node: proto.INodeProto, name: string, dflt: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}

// ---------------------------------------------------------------------------------------------------------
// initializers

function initializerValue(t: proto.ITensorProto): number[] | undefined {
  const dims = (t.dims ?? []).map(Number);
  const n = numel(dims);
  if (n > MAX_TRACKED) return undefined;
  if (n === 0) return [];
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  if (raw) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    switch (t.dataType) {
      case T.INT64:
        return Array.from(new BigInt64Array(buf), Number);
      case T.INT32:
        return Array.from(new Int32Array(buf));
      case T.FLOAT:
        return Array.from(new Float32Array(buf));
      case T.INT8:
        return Array.from(new Int8Array(buf));
      case T.UINT8:
      case T.BOOL:
        return Array.from(new Uint8Array(buf));
      default:
        return undefined;
    }
  }
  if (t.int64Data?.length) return t.int64Data.map(Number);
  if (t.floatData?.length) return [...t.floatData];
  if (t.int32Data?.length) return [...t.int32Data];
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// helpers

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function broadcast(node: proto.INodeProto, shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) throw new ShapeError(node, `cannot broadcast ${shapes.map((x) => `[${x}]`).join(' with ')}`);
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Elementwise on tracked values with broadcasting (only for small tensors). */
function elementwiseValues(shapes: number[][], values: (number[] | undefined)[], out: number[], fn: (...x: number[]) => number): number[] | undefined {
  if (values.some((v) => !v) || numel(out) > MAX_TRACKED) return undefined;
  const n = numel(out);
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    // index of output element i in each input (broadcast)
    const idx: number[] = [];
    let rem = i;
    const coords = new Array(out.length).fill(0);
    for (let d = out.length - 1; d >= 0; d--) {
      coords[d] = rem % out[d];
      rem = Math.floor(rem / out[d]);
    }
    for (const s of shapes) {
      let off = 0;
      for (let d = 0; d < s.length; d++) {
        const c = coords[out.length - s.length + d];
        off = off * s[d] + (s[d] === 1 ? 0 : c);
      }
      idx.push(off);
    }
    result.push(fn(...idx.map((j, k) => values[k]![j])));
  }
  return result;
}

const ELEMENTWISE_BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
  Equal: (a, b) => Number(a === b),
  Less: (a, b) => Number(a < b),
  Greater: (a, b) => Number(a > b),
  And: (a, b) => Number(a && b),
  Or: (a, b) => Number(a || b),
  Mod: (a, b) => a % b,
};

const ELEMENTWISE_UNARY: Record<string, ((a: number) => number) | null> = {
  Identity: (a) => a,
  Neg: (a) => -a,
  Abs: Math.abs,
  Sqrt: Math.sqrt,
  Exp: Math.exp,
  Log: Math.log,
  Sin: Math.sin,
  Cos: Math.cos,
  Tanh: Math.tanh,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Reciprocal: (a) => 1 / a,
  Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  Relu: (a) => Math.max(0, a),
  Erf: null,
  Gelu: null,
  FastGelu: null,
  QuickGelu: null,
  Softmax: null,
  LogSoftmax: null,
  Not: (a) => Number(!a),
  IsNaN: null,
  Clip: null,
  Dropout: null,
};

// ---------------------------------------------------------------------------------------------------------
// the evaluator

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

function need(node: proto.INodeProto, v: ValueInfo | undefined, what: string): ValueInfo {
  if (!v) throw new ShapeError(node, `missing input ${what}`);
  return v;
}

function needValue(node: proto.INodeProto, v: ValueInfo | undefined, what: string): number[] {
  const x = need(node, v, what);
  if (!x.value) throw new ShapeError(node, `the value of ${what} is not known at build time (shape [${x.shape}])`);
  return x.value;
}

function out(shape: number[], elemType: number, value?: number[]): ValueInfo {
  return { shape, elemType, ...(value ? { value } : {}) };
}

function evalNode(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): { outputs: ValueInfo[]; flops: number } {
  const op = node.opType ?? '';
  const x = ins[0];
  const one = (v: ValueInfo, flops = 0) => ({ outputs: [v], flops });

  if (op in ELEMENTWISE_BINARY || op === 'Where') {
    const present = ins.filter((v): v is ValueInfo => !!v);
    const shape = broadcast(node, present.map((v) => v.shape));
    let value: number[] | undefined;
    if (op === 'Where') value = elementwiseValues(present.map((v) => v.shape), present.map((v) => v.value), shape, (c, a, b) => (c ? a : b));
    else value = elementwiseValues(present.map((v) => v.shape), present.map((v) => v.value), shape, ELEMENTWISE_BINARY[op]);
    const elemType = ['Equal', 'Less', 'Greater', 'And', 'Or'].includes(op) ? T.BOOL : op === 'Where' ? present[1].elemType : present[0].elemType;
    if (value && INTEGER_TYPES.has(elemType) && op === 'Div') value = value.map(Math.trunc);
    return one(out(shape, elemType, value));
  }
  if (op in ELEMENTWISE_UNARY) {
    const v = need(node, x, 'X');
    const fn = ELEMENTWISE_UNARY[op];
    return one(out([...v.shape], v.elemType, fn && v.value ? v.value.map(fn) : undefined));
  }

  switch (op) {
    case 'Constant': {
      const t = attr(node, 'value')?.t;
      if (!t) throw new ShapeError(node, 'only tensor-valued Constant nodes are supported');
      return one(out((t.dims ?? []).map(Number), t.dataType ?? T.FLOAT, initializerValue(t)));
    }
    case 'Cast': {
      const v = need(node, x, 'input');
      const to = attrInt(node, 'to', T.FLOAT);
      return one(out([...v.shape], to, v.value ? (INTEGER_TYPES.has(to) ? v.value.map(Math.trunc) : v.value) : undefined));
    }
    case 'Shape': {
      const v = need(node, x, 'data');
      const r = v.shape.length;
      let start = attrInt(node, 'start', 0);
      let end = attrInt(node, 'end', r);
      start = Math.min(Math.max(normAxis(start, r), 0), r);
      end = Math.min(Math.max(normAxis(end, r), 0), r);
      const value = v.shape.slice(start, Math.max(start, end));
      return one(out([value.length], T.INT64, value));
    }
    case 'Size': {
      const v = need(node, x, 'data');
      return one(out([], T.INT64, [numel(v.shape)]));
    }
    case 'Reshape': {
      const v = need(node, x, 'data');
      const target = needValue(node, ins[1], 'shape');
      const allowZero = attrInt(node, 'allowzero', 0);
      const shape = target.map((d, i) => (d === 0 && !allowZero ? v.shape[i] : d));
      const known = shape.filter((d) => d !== -1);
      const inferred = shape.indexOf(-1);
      if (inferred >= 0) {
        if (shape.indexOf(-1, inferred + 1) >= 0) throw new ShapeError(node, 'more than one -1');
        const rest = numel(known);
        if (rest === 0 || numel(v.shape) % rest) throw new ShapeError(node, `cannot reshape [${v.shape}] to [${target}]`);
        shape[inferred] = numel(v.shape) / rest;
      }
      if (numel(shape) !== numel(v.shape)) throw new ShapeError(node, `cannot reshape [${v.shape}] (${numel(v.shape)}) to [${shape}] (${numel(shape)})`);
      return one(out(shape, v.elemType, v.value));
    }
    case 'Flatten': {
      const v = need(node, x, 'input');
      const axis = normAxis(attrInt(node, 'axis', 1), v.shape.length);
      return one(out([numel(v.shape.slice(0, axis)), numel(v.shape.slice(axis))], v.elemType, v.value));
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const v = need(node, x, 'data');
      const axes = ins[1] ? needValue(node, ins[1], 'axes') : (attrInts(node, 'axes') ?? []);
      if (op === 'Squeeze') {
        const r = v.shape.length;
        const drop = new Set(axes.length ? axes.map((a) => normAxis(a, r)) : v.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
        for (const a of drop) if (v.shape[a] !== 1) throw new ShapeError(node, `axis ${a} of [${v.shape}] is not 1`);
        return one(out(v.shape.filter((_, i) => !drop.has(i)), v.elemType, v.value));
      }
      const r = v.shape.length + axes.length;
      const add = new Set(axes.map((a) => normAxis(a, r)));
      const shape: number[] = [];
      for (let i = 0, k = 0; i < r; i++) shape.push(add.has(i) ? 1 : v.shape[k++]);
      return one(out(shape, v.elemType, v.value));
    }
    case 'Transpose': {
      const v = need(node, x, 'data');
      const perm = attrInts(node, 'perm') ?? v.shape.map((_, i) => v.shape.length - 1 - i);
      if (perm.length !== v.shape.length) throw new ShapeError(node, `perm [${perm}] for rank ${v.shape.length}`);
      return one(out(perm.map((p) => v.shape[p]), v.elemType));
    }
    case 'Concat': {
      const present = ins.filter((v): v is ValueInfo => !!v);
      const r = present[0].shape.length;
      const axis = normAxis(attrInt(node, 'axis', 0), r);
      const shape = [...present[0].shape];
      shape[axis] = present.reduce((a, v) => a + v.shape[axis], 0);
      for (const v of present) {
        if (v.shape.length !== r || v.shape.some((d, i) => i !== axis && d !== shape[i])) {
          throw new ShapeError(node, `cannot concatenate ${present.map((p) => `[${p.shape}]`).join(', ')} on axis ${axis}`);
        }
      }
      const value = r === 1 && present.every((v) => v.value) ? present.flatMap((v) => v.value!) : undefined;
      return one(out(shape, present[0].elemType, value));
    }
    case 'Split': {
      const v = need(node, x, 'input');
      const axis = normAxis(attrInt(node, 'axis', 0), v.shape.length);
      const n = (node.output ?? []).length;
      let sizes: number[];
      if (ins[1]) sizes = needValue(node, ins[1], 'split');
      else if (attrInts(node, 'split')) sizes = attrInts(node, 'split')!;
      else {
        const parts = attrInt(node, 'num_outputs', n);
        const chunk = Math.ceil(v.shape[axis] / parts);
        sizes = Array.from({ length: parts }, (_, i) => Math.min(chunk, v.shape[axis] - i * chunk));
      }
      if (sizes.reduce((a, b) => a + b, 0) !== v.shape[axis]) throw new ShapeError(node, `split [${sizes}] of axis ${axis} of [${v.shape}]`);
      return { outputs: sizes.map((s) => out(v.shape.map((d, i) => (i === axis ? s : d)), v.elemType)), flops: 0 };
    }
    case 'Slice': {
      const v = need(node, x, 'data');
      const starts = needValue(node, ins[1], 'starts');
      const ends = needValue(node, ins[2], 'ends');
      const r = v.shape.length;
      const axes = ins[3] ? needValue(node, ins[3], 'axes').map((a) => normAxis(a, r)) : starts.map((_, i) => i);
      const steps = ins[4] ? needValue(node, ins[4], 'steps') : starts.map(() => 1);
      const shape = [...v.shape];
      const ranges: [number, number, number][] = v.shape.map((d) => [0, d, 1]);
      axes.forEach((a, k) => {
        const d = v.shape[a];
        const step = steps[k];
        const clamp = (i: number, lo: number, hi: number) => Math.min(Math.max(i, lo), hi);
        let s = starts[k] < 0 ? starts[k] + d : starts[k];
        let e = ends[k] < 0 ? ends[k] + d : ends[k];
        if (step > 0) {
          s = clamp(s, 0, d);
          e = clamp(e, 0, d);
          shape[a] = Math.max(0, Math.ceil((e - s) / step));
        } else {
          s = clamp(s, -1, d - 1);
          e = clamp(e, -1, d - 1);
          shape[a] = Math.max(0, Math.ceil((e - s) / step));
        }
        ranges[a] = [s, e, step];
      });
      const value = r === 1 && v.value ? Array.from({ length: shape[0] }, (_, i) => v.value![ranges[0][0] + i * ranges[0][2]]) : undefined;
      return one(out(shape, v.elemType, value));
    }
    case 'Gather': {
      const v = need(node, x, 'data');
      const idx = need(node, ins[1], 'indices');
      const axis = normAxis(attrInt(node, 'axis', 0), v.shape.length);
      const shape = [...v.shape.slice(0, axis), ...idx.shape, ...v.shape.slice(axis + 1)];
      let value: number[] | undefined;
      if (v.shape.length === 1 && v.value && idx.value) value = idx.value.map((i) => v.value![i < 0 ? i + v.shape[0] : i]);
      return one(out(shape, v.elemType, value));
    }
    case 'Expand': {
      const v = need(node, x, 'input');
      const target = needValue(node, ins[1], 'shape');
      const shape = broadcast(node, [v.shape, target]);
      return one(out(shape, v.elemType, elementwiseValues([v.shape], [v.value], shape, (a) => a)));
    }
    case 'Tile': {
      const v = need(node, x, 'input');
      const reps = needValue(node, ins[1], 'repeats');
      return one(out(v.shape.map((d, i) => d * reps[i]), v.elemType));
    }
    case 'Range': {
      const [s, l, d] = [0, 1, 2].map((i) => needValue(node, ins[i], ['start', 'limit', 'delta'][i])[0]);
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return one(out([n], need(node, x, 'start').elemType, n <= MAX_TRACKED ? Array.from({ length: n }, (_, i) => s + i * d) : undefined));
    }
    case 'ConstantOfShape': {
      const shape = needValue(node, x, 'input');
      const t = attr(node, 'value')?.t;
      const fill = t ? (initializerValue(t)?.[0] ?? 0) : 0;
      return one(out(shape, t?.dataType ?? T.FLOAT, numel(shape) <= MAX_TRACKED ? new Array(numel(shape)).fill(fill) : undefined));
    }
    case 'ReduceProd':
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceMin': {
      const v = need(node, x, 'data');
      const r = v.shape.length;
      const keep = attrInt(node, 'keepdims', 1);
      const axesIn = ins[1] ? needValue(node, ins[1], 'axes') : attrInts(node, 'axes');
      const noop = attrInt(node, 'noop_with_empty_axes', 0);
      const axes = new Set((axesIn && axesIn.length ? axesIn : noop ? [] : v.shape.map((_, i) => i)).map((a) => normAxis(a, r)));
      const shape = keep ? v.shape.map((d, i) => (axes.has(i) ? 1 : d)) : v.shape.filter((_, i) => !axes.has(i));
      let value: number[] | undefined;
      if (v.value && axes.size === r) {
        const f = { ReduceProd: (a: number[]) => a.reduce((p, q) => p * q, 1), ReduceSum: (a: number[]) => a.reduce((p, q) => p + q, 0), ReduceMean: (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length, ReduceMax: (a: number[]) => Math.max(...a), ReduceMin: (a: number[]) => Math.min(...a) }[op];
        value = [f(v.value)];
      }
      return one(out(shape, v.elemType, value));
    }
    case 'Pad': {
      const v = need(node, x, 'data');
      const pads = ins[1] ? needValue(node, ins[1], 'pads') : (attrInts(node, 'pads') ?? []);
      const r = v.shape.length;
      const axes = ins[3] ? needValue(node, ins[3], 'axes').map((a) => normAxis(a, r)) : v.shape.map((_, i) => i);
      const shape = [...v.shape];
      axes.forEach((a, k) => (shape[a] += pads[k] + pads[k + axes.length]));
      return one(out(shape, v.elemType));
    }
    case 'Resize':
    case 'Upsample': {
      const v = need(node, x, 'X');
      let shape: number[];
      if (op === 'Resize' && ins[3]) shape = needValue(node, ins[3], 'sizes');
      else {
        const scales = needValue(node, op === 'Resize' ? ins[2] : ins[1], 'scales');
        shape = v.shape.map((d, i) => Math.floor(d * scales[i]));
      }
      return one(out(shape, v.elemType));
    }
    case 'DequantizeLinear': {
      const v = need(node, x, 'x');
      const scale = need(node, ins[1], 'x_scale');
      return one(out([...v.shape], scale.elemType));
    }
    case 'QuantizeLinear': {
      const v = need(node, x, 'x');
      return one(out([...v.shape], ins[2]?.elemType ?? T.UINT8));
    }
    case 'InstanceNormalization':
    case 'LayerNormalization':
    case 'GroupNormalization':
    case 'BatchNormalization':
    case 'SkipLayerNormalization':
    case 'SimplifiedLayerNormalization': {
      const v = need(node, x, 'X');
      return { outputs: [out([...v.shape], v.elemType)], flops: 0 };
    }
    case 'Conv':
    case 'ConvTranspose':
      return evalConv(node, ins);
    case 'MatMul': {
      const a = need(node, x, 'A');
      const b = need(node, ins[1], 'B');
      const [sa, sb] = [a.shape.length === 1 ? [1, ...a.shape] : a.shape, b.shape.length === 1 ? [...b.shape, 1] : b.shape];
      const [M, K] = sa.slice(-2);
      const [K2, N] = sb.slice(-2);
      if (K !== K2) throw new ShapeError(node, `inner dims differ: [${a.shape}] × [${b.shape}]`);
      const batch = broadcast(node, [sa.slice(0, -2), sb.slice(0, -2)]);
      let shape = [...batch, M, N];
      if (a.shape.length === 1) shape = [...batch, N];
      if (b.shape.length === 1) shape = a.shape.length === 1 ? batch : [...batch, M];
      return one(out(shape, a.elemType), 2 * numel(batch) * M * K * N);
    }
    case 'MatMulNBits': {
      const a = need(node, x, 'A');
      const K = attrInt(node, 'K', 0);
      const N = attrInt(node, 'N', 0);
      if (a.shape[a.shape.length - 1] !== K) throw new ShapeError(node, `A [${a.shape}] does not end in K = ${K}`);
      const rows = numel(a.shape.slice(0, -1));
      return one(out([...a.shape.slice(0, -1), N], a.elemType), 2 * rows * K * N);
    }
    case 'Gemm': {
      const a = need(node, x, 'A');
      const b = need(node, ins[1], 'B');
      const [M, K] = attrInt(node, 'transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
      const [K2, N] = attrInt(node, 'transB', 0) ? [b.shape[1], b.shape[0]] : b.shape;
      if (K !== K2) throw new ShapeError(node, `inner dims differ: [${a.shape}] × [${b.shape}]`);
      return one(out([M, N], a.elemType), 2 * M * K * N);
    }
    case 'MultiHeadAttention':
      return evalMultiHeadAttention(node, ins);
    case 'Einsum':
      return evalEinsum(node, ins);
    default:
      throw new ShapeError(node, `no shape rule for op ${node.domain ? `${node.domain}.` : ''}${op}; add one to bench/graph-flops.ts`);
  }
}

function evalConv(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): { outputs: ValueInfo[]; flops: number } {
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
function evalMultiHeadAttention(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): { outputs: ValueInfo[]; flops: number } {
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
function evalEinsum(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): { outputs: ValueInfo[]; flops: number } {
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

// ---------------------------------------------------------------------------------------------------------
// the UNet split

export type FlopCategory =
  | 'conv 3×3 (spatial)'
  | 'conv temporal 3×1×1'
  | 'conv 1×1'
  | 'spatial self-attention QKᵀ+AV'
  | 'temporal self-attention QKᵀ+AV'
  | 'feed-forward spatial'
  | 'feed-forward temporal'
  | 'attention projections (q, k, v, out)'
  | 'proj_in / proj_out'
  | 'time embeddings'
  | 'other';

/** Sorts a node of our UNet graph into a category by op and module path (node names are `<module path>/<op>`). */
export function categorize(c: NodeCost, conv?: { kernel: number[] }): FlopCategory {
  const n = c.name;
  if (c.opType === 'Conv' || c.opType === 'ConvTranspose') {
    const k = conv?.kernel ?? [];
    if (k.length === 3) return 'conv temporal 3×1×1';
    if (numel(k) === 1) return 'conv 1×1';
    return 'conv 3×3 (spatial)';
  }
  const temporal = n.includes('temporal_transformer_blocks');
  if (c.opType === 'MultiHeadAttention' || /\/(scores|context)(_\d+)?$/.test(n)) return temporal ? 'temporal self-attention QKᵀ+AV' : 'spatial self-attention QKᵀ+AV';
  if (/\.ff(_in)?\.net\./.test(n)) return temporal ? 'feed-forward temporal' : 'feed-forward spatial';
  if (/\.attn\d\.to_(q|k|v|out)/.test(n)) return 'attention projections (q, k, v, out)';
  if (/\.(proj_in|proj_out)\//.test(n)) return 'proj_in / proj_out';
  if (/(time_emb_proj|time_embedding|add_embedding|time_pos_embed)/.test(n)) return 'time embeddings';
  return 'other';
}

/** FLOPs per category, with each Conv node's kernel read from its weight's shape. */
export function flopSplit(graph: GraphLike, evaluation: Evaluation): Map<FlopCategory, number> {
  const split = new Map<FlopCategory, number>();
  graph.nodes.forEach((node, i) => {
    const c = evaluation.costs[i];
    if (!c.flops) return;
    const conv = node.opType === 'Conv' ? { kernel: evaluation.values.get(node.input![1])!.shape.slice(2) } : undefined;
    const k = categorize(c, conv);
    split.set(k, (split.get(k) ?? 0) + c.flops);
  });
  return split;
}
