/**
 * Shared pieces of the shape evaluator (shape-eval.ts): the value record, the error type, attribute and
 * initializer readers, broadcasting, and the small-value arithmetic that lets shape computations resolve.
 */
import type { onnx as proto } from 'onnx-proto';

export interface ValueInfo {
  shape: number[];
  /** ONNX element type */
  elemType: number;
  /** element values, for small integer/float tensors whose values are known (constants and shape arithmetic) */
  value?: number[];
}

export class ShapeError extends Error {
  constructor(node: proto.INodeProto, message: string) {
    super(`${node.opType} "${node.name}": ${message}`);
    this.name = 'ShapeError';
  }
}

/** What a shape rule returns for one node: its outputs, and its FLOPs (2 × multiply-adds; 0 when not counted). */
export interface NodeResult {
  outputs: ValueInfo[];
  flops: number;
}

export const T = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, UINT4: 21, INT4: 22 };
export const INTEGER_TYPES = new Set([T.INT64, T.INT32, T.INT8, T.UINT8, T.BOOL]);
/** values of at most this many elements are tracked */
export const MAX_TRACKED = 64;

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------------------------
// attributes

export function attr(node: proto.INodeProto, name: string): proto.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}
export function attrInt(node: proto.INodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? Number(a.i ?? 0) : dflt;
}
export function attrInts(node: proto.INodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}
export function attrString(node: proto.INodeProto, name: string, dflt: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}

// ---------------------------------------------------------------------------------------------------------
// initializers

export function initializerValue(t: proto.ITensorProto): number[] | undefined {
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

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function broadcast(node: proto.INodeProto, shapes: number[][]): number[] {
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
export function elementwiseValues(shapes: number[][], values: (number[] | undefined)[], out: number[], fn: (...x: number[]) => number): number[] | undefined {
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

// ---------------------------------------------------------------------------------------------------------
// what the rules share

export function need(node: proto.INodeProto, v: ValueInfo | undefined, what: string): ValueInfo {
  if (!v) throw new ShapeError(node, `missing input ${what}`);
  return v;
}

export function needValue(node: proto.INodeProto, v: ValueInfo | undefined, what: string): number[] {
  const x = need(node, v, what);
  if (!x.value) throw new ShapeError(node, `the value of ${what} is not known at build time (shape [${x.shape}])`);
  return x.value;
}

export function out(shape: number[], elemType: number, value?: number[]): ValueInfo {
  return { shape, elemType, ...(value ? { value } : {}) };
}
