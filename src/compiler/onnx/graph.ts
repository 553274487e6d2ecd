/**
 * A small ONNX graph builder. Values are named edges; nodes are appended in build order, so the same
 * build produces byte-identical protobuf. Large initializers are handed to an `InitializerSink`
 * (external-data shards on disk) as soon as they are created, so weights never pile up in memory.
 */
import onnxProto from 'onnx-proto';
import type { onnx as proto } from 'onnx-proto';
import { toFloat16Bits } from '../../io/float16.ts';

// onnx-proto is CommonJS; its namespace is the default export under Node's ESM loader.
const { onnx } = onnxProto;


export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'int4' | 'uint4' | 'bool';

export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, uint4: 21, int4: 22,
};

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, int4: 0.5, uint4: 0.5, bool: 1,
};

/** A tensor edge of the graph. `dtype` is known by construction for every value the builder makes. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
}

/** A symbolic or fixed dimension of a graph input/output. */
export type Dim = number | string;

export type AttrValue = number | string | number[] | string[] | { float: number } | { floats: number[] } | proto.ITensorProto;

export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

/** Receives initializer bytes as they are created and says where they were stored. */
export interface InitializerSink {
  write(name: string, bytes: Uint8Array): ExternalLocation;
}

export interface GraphOptions {
  name: string;
  /** default-domain opset */
  opset: number;
  /** initializers of at least this many bytes go to the sink; smaller ones stay inline */
  externalThreshold?: number;
  sink?: InitializerSink;
  docString?: string;
}

export class Graph {
  readonly nodes: proto.INodeProto[] = [];
  readonly inputs: proto.IValueInfoProto[] = [];
  readonly outputs: proto.IValueInfoProto[] = [];
  readonly initializers: proto.ITensorProto[] = [];
  /** shapes of intermediate values (value-info.ts), written with the model */
  valueInfo: proto.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly constCache = new Map<string, Value>();
  private readonly domains = new Map<string, number>();
  private counter = 0;

  constructor(readonly options: GraphOptions) {}

  /** Unique value/node name derived from a readable hint (module path + op). */
  uniqueName(hint: string): string {
    let name = hint;
    while (this.usedNames.has(name)) name = `${hint}_${++this.counter}`;
    this.usedNames.add(name);
    return name;
  }

  input(name: string, dtype: DType, dims: Dim[]): Value {
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, dtype, dims));
    return { name, dtype };
  }

  /** Marks `value` as a graph output named `name` (an Identity is added when the names differ). */
  output(value: Value, name: string, dims: Dim[]): Value {
    let out = value;
    if (value.name !== name) {
      this.usedNames.add(name);
      this.nodes.push({ opType: 'Identity', input: [value.name], output: [name], name: `${name}/identity` });
      out = { name, dtype: value.dtype };
    }
    this.outputs.push(valueInfo(name, out.dtype, dims));
    return out;
  }

  useDomain(domain: string, version: number): void {
    this.domains.set(domain, version);
  }

  /**
   * Appends a node. `outputs` gives the output count and dtypes (default: one output of the first
   * input's dtype). Returns the output values.
   */
  node(
    opType: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrValue | undefined> = {},
    opts: { name?: string; domain?: string; outputs?: DType[] } = {},
  ): Value[] {
    const base = this.uniqueName(opts.name ?? opType);
    const outDtypes = opts.outputs ?? [firstDtype(inputs)];
    const outputs = outDtypes.map((dtype, i) => ({ name: outDtypes.length === 1 ? base : `${base}:${i}`, dtype }));
    for (const o of outputs) this.usedNames.add(o.name);
    const attribute = Object.entries(attrs)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => attribute_(k, v as AttrValue));
    const node: proto.INodeProto = {
      opType,
      name: base,
      input: inputs.map((v) => (v ? v.name : '')),
      output: outputs.map((o) => o.name),
    };
    if (attribute.length) node.attribute = attribute;
    if (opts.domain) node.domain = opts.domain;
    this.nodes.push(node);
    return outputs;
  }

  /** Single-output convenience form of `node`. */
  op(opType: string, inputs: (Value | null)[], attrs?: Record<string, AttrValue | undefined>, opts?: { name?: string; domain?: string; dtype?: DType }): Value {
    return this.node(opType, inputs, attrs, { name: opts?.name, domain: opts?.domain, outputs: opts?.dtype ? [opts.dtype] : undefined })[0];
  }

  /** An initializer: raw little-endian bytes. Large ones go to the external-data sink immediately. */
  initializer(name: string, dtype: DType, dims: number[], bytes: Uint8Array): Value {
    const unique = this.uniqueName(name);
    const expected = Math.ceil(dims.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype]);
    if (bytes.byteLength !== expected) {
      throw new Error(`initializer ${name}: ${bytes.byteLength} bytes for dims [${dims}] of ${dtype} (expected ${expected})`);
    }
    const tensor: proto.ITensorProto = { name: unique, dataType: ONNX_DTYPE[dtype], dims };
    const threshold = this.options.externalThreshold ?? 1024;
    if (this.options.sink && bytes.byteLength >= threshold) {
      const loc = this.options.sink.write(unique, bytes);
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: loc.location },
        { key: 'offset', value: String(loc.offset) },
        { key: 'length', value: String(loc.length) },
      ];
    } else {
      tensor.rawData = bytes.slice();
    }
    this.initializers.push(tensor);
    return { name: unique, dtype };
  }

  /** A small constant, shared by every user of the same values (keeps the graph compact). */
  constant(dtype: DType, dims: number[], values: ArrayLike<number>): Value {
    const key = `${dtype}|${dims}|${Array.from(values).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const bytes = encodeValues(dtype, values);
    const v = this.initializer(`const_${this.constCache.size}`, dtype, dims, bytes);
    this.constCache.set(key, v);
    return v;
  }

  int64s(values: number[]): Value {
    return this.constant('int64', [values.length], values);
  }

  scalar(value: number, dtype: DType): Value {
    return this.constant(dtype, [], [value]);
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Each graph input's dimensions: numbers, or the symbolic names given to `input()`. */
  inputDims(): Record<string, Dim[]> {
    return Object.fromEntries(
      this.inputs.map((vi) => [vi.name!, (vi.type!.tensorType!.shape!.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)))]),
    );
  }

  /** Serialises the model. Deterministic: same build → same bytes. */
  toBytes(meta: { producer?: string; docString?: string } = {}): Uint8Array {
    const opsetImport: proto.IOperatorSetIdProto[] = [{ domain: '', version: this.options.opset }];
    for (const [domain, version] of [...this.domains].sort(([a], [b]) => a.localeCompare(b))) opsetImport.push({ domain, version });
    const model: proto.IModelProto = {
      irVersion: 10,
      producerName: meta.producer ?? 'svd-web',
      opsetImport,
      docString: meta.docString ?? this.options.docString,
      graph: {
        name: this.options.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
        ...(this.valueInfo.length ? { valueInfo: this.valueInfo } : {}),
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function firstDtype(inputs: (Value | null)[]): DType {
  const v = inputs.find((i) => i);
  if (!v) throw new Error('node without inputs needs explicit output dtypes');
  return v.dtype;
}

function valueInfo(name: string, dtype: DType, dims: Dim[]): proto.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[dtype],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const AT = onnx.AttributeProto.AttributeType;

function attribute_(name: string, v: AttrValue): proto.IAttributeProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float: x} for float attributes`);
    return { name, type: AT.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === 'string') return { name, type: AT.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    return { name, type: AT.INTS, ints: v as number[] };
  }
  if ('float' in v) return { name, type: AT.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AT.FLOATS, floats: v.floats };
  return { name, type: AT.TENSOR, t: v };
}

export function encodeValues(dtype: DType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'float16':
      return new Uint8Array(toFloat16Bits(values).buffer);
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(values[i]);
      return new Uint8Array(out.buffer);
    }
    case 'int32':
      return new Uint8Array(Int32Array.from(values).buffer);
    case 'int8':
      return new Uint8Array(Int8Array.from(values).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    default:
      throw new Error(`encodeValues: ${dtype} constants are not supported`);
  }
}
