/**
 * The shape rule of every op the evaluator knows (shape-eval.ts): elementwise ops, shape arithmetic and data
 * movement here (with small values carried through); the FLOP-carrying ops in shape-rules-compute.ts.
 */
import type { onnx as proto } from 'onnx-proto';
import {
  attr,
  attrInt,
  attrInts,
  broadcast,
  elementwiseValues,
  initializerValue,
  INTEGER_TYPES,
  MAX_TRACKED,
  need,
  needValue,
  normAxis,
  numel,
  out,
  ShapeError,
  T,
  type NodeResult,
  type ValueInfo,
} from './shape-eval-util.ts';
import { evalConv, evalEinsum, evalGemm, evalMatMul, evalMatMulNBits, evalMultiHeadAttention } from './shape-rules-compute.ts';

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

/** Output values and FLOPs of one node; throws a ShapeError for an op without a rule or shapes that do not fit. */
export function evalNode(node: proto.INodeProto, ins: (ValueInfo | undefined)[]): NodeResult {
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
    case 'MatMul':
      return evalMatMul(node, ins);
    case 'MatMulNBits':
      return evalMatMulNBits(node, ins);
    case 'Gemm':
      return evalGemm(node, ins);
    case 'MultiHeadAttention':
      return evalMultiHeadAttention(node, ins);
    case 'Einsum':
      return evalEinsum(node, ins);
    default:
      throw new ShapeError(node, `no shape rule for op ${node.domain ? `${node.domain}.` : ''}${op}; add one to src/compiler/onnx/shape-rules.ts`);
  }
}
