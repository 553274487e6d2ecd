/**
 * A graph cut into parts that run one after another, for session creation within the browser's JS-heap budget:
 * onnxruntime-web 1.30 reads a session's external data whole into the JS heap, so SVD-XT's 1.1 GB UNet is created as
 * parts of ≤ ~0.45 GB each, each from its own weights only (src/runtime/web.ts chains their runs on GPU buffers).
 *
 * The cut is made at load time for fixed input shapes (the device loop's): the shape evaluator
 * (./shape-eval.ts) gives every value's type, shape and, for shape arithmetic, its value. Then:
 * - cuts balance the parts' external weight bytes; near each balanced point the cut with the fewest bytes of values
 *   crossing it is taken (a block boundary: the hidden state, the skip connections, the embeddings);
 * - a value crossing a cut becomes an output of the part that makes it and an input of each later part that reads it;
 *   small integer values whose content is known at these shapes (Shape → Concat reshape targets) are not passed but
 *   written as constants into the parts that read them; any other non-float crossing value makes that cut unusable;
 * - each part holds the initializers its nodes read; external ones are relocated into one file per part, and the
 *   byte ranges of the model's files that make it up are listed, so the caller reads only those.
 */
import onnxProto from 'onnx-proto';
import type { onnx as proto } from 'onnx-proto';
import type { Evaluation, ValueInfo } from './shape-eval.ts';

const { onnx } = onnxProto;
const FLOAT_TYPES = new Set([1, 10, 16]); // float32, float16, bfloat16

/** A byte range of one of the model's external-data files, and where it goes in the part's own file. */
export interface WeightRange {
  path: string;
  offset: number;
  length: number;
  partOffset: number;
}

export interface GraphPart {
  /** the part's .onnx bytes; its external data is one file, `dataPath` */
  model: Uint8Array;
  dataPath: string;
  dataBytes: number;
  /** ranges of the model's files that make up `dataPath`, in order */
  ranges: WeightRange[];
  inputs: { name: string; dims: number[]; elemType: number }[];
  outputs: { name: string; dims: number[]; elemType: number }[];
  nodeCount: number;
}

export class SplitError extends Error {}

/** A graph as the cut reads it (a decoded .onnx or the plan's view of one). */
export interface CuttableGraph {
  nodes: proto.INodeProto[];
  initializers: proto.ITensorProto[];
  inputs: proto.IValueInfoProto[];
  outputs: proto.IValueInfoProto[];
}

export interface Cuts {
  /** node index where each part after the first begins */
  at: number[];
  /** bytes of the float values crossing each cut (what the chain holds in buffers of its own between parts) */
  crossingBytes: number[];
  /** external weight bytes of each part */
  partWeightBytes: number[];
}

/** Where to cut `graph` into `parts` at the shapes `evaluation` was made for (see the header). */
export function chooseCuts(graph: CuttableGraph, evaluation: Evaluation, parts: number, name = 'graph'): Cuts {
  const { nodes } = graph;
  const N = nodes.length;
  const initializers = new Map(graph.initializers.map((t) => [t.name!, t]));
  const { made, last } = lifetimes(graph);

  // crossing cost of a cut before node c: bytes of float values alive across it; Infinity where an unknown non-float
  // value crosses. External weight bytes read by each node, for balancing.
  const cost = new Float64Array(N + 1);
  for (const [v, i] of made) {
    const end = last.get(v);
    if (end === undefined || end <= i) continue;
    const vi = valueInfo(evaluation, v, name);
    const bytes = FLOAT_TYPES.has(vi.elemType) ? vi.shape.reduce((a, b) => a * b, 1) * (vi.elemType === 1 ? 4 : 2) : vi.value ? 0 : Infinity;
    for (let c = i + 1; c <= end; c++) cost[c] += bytes;
  }
  const prefix = [0];
  let acc = 0;
  for (const n of nodes) prefix.push((acc += (n.input ?? []).reduce((a, x) => a + externalBytes(initializers.get(x ?? '')), 0)));
  const total = acc;
  const at: number[] = [];
  for (let k = 1; k < parts; k++) {
    // an equal share of what is left after the previous cut, within an eighth of a share
    const from = prefix[at.at(-1) ?? 0];
    const share = (total - from) / (parts - k + 1);
    const target = from + share;
    const window = share / 8;
    let best = -1;
    for (let c = (at.at(-1) ?? 0) + 1; c < N; c++) {
      if (Math.abs(prefix[c] - target) > window) continue;
      if (best < 0 || cost[c] < cost[best]) best = c;
    }
    if (best < 0 || !Number.isFinite(cost[best])) throw new SplitError(`${name}: no place to cut part ${k} of ${parts} (only non-float values of unknown content cross there)`);
    at.push(best);
  }
  const bounds = [0, ...at, N];
  return { at, crossingBytes: at.map((c) => cost[c]), partWeightBytes: bounds.slice(1).map((b, k) => prefix[b] - prefix[bounds[k]]) };
}

/** Cuts `model` (decoded) into `parts` parts at the shapes `evaluation` was made for. */
export function splitGraph(model: proto.IModelProto, evaluation: Evaluation, parts: number, name = 'graph'): GraphPart[] {
  const g = model.graph!;
  const graph: CuttableGraph = { nodes: g.node ?? [], initializers: g.initializer ?? [], inputs: g.input ?? [], outputs: g.output ?? [] };
  const { at } = chooseCuts(graph, evaluation, parts, name);
  const { made, last } = lifetimes(graph);
  const context = {
    made, last, name,
    info: (v: string) => valueInfo(evaluation, v, name),
    initializers: new Map(graph.initializers.map((t) => [t.name!, t])),
    graphInputs: new Set(graph.inputs.map((i) => i.name!)),
    graphOutputs: new Set(graph.outputs.map((o) => o.name!)),
  };
  const bounds = [0, ...at, graph.nodes.length];
  return bounds.slice(0, -1).map((start, k) => buildPart(model, graph.nodes.slice(start, bounds[k + 1]), k, { ...context, start, end: bounds[k + 1] }));
}

/** Node-made values: the node that makes each, and the last node that reads it (graph outputs: past the end). */
function lifetimes(graph: CuttableGraph): { made: Map<string, number>; last: Map<string, number> } {
  const made = new Map<string, number>();
  const last = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    for (const x of n.input ?? []) if (x && made.has(x)) last.set(x, i);
    for (const o of n.output ?? []) if (o) made.set(o, i);
  });
  for (const o of graph.outputs) last.set(o.name!, graph.nodes.length);
  return { made, last };
}

function valueInfo(evaluation: Evaluation, v: string, name: string): ValueInfo {
  const i = evaluation.values.get(v);
  if (!i) throw new SplitError(`${name}: value "${v}" has no shape`);
  return i;
}

interface PartContext {
  start: number;
  end: number;
  made: Map<string, number>;
  last: Map<string, number>;
  info: (v: string) => ValueInfo;
  initializers: Map<string, proto.ITensorProto>;
  graphInputs: Set<string>;
  graphOutputs: Set<string>;
  name: string;
}

function buildPart(model: proto.IModelProto, nodes: proto.INodeProto[], index: number, cx: PartContext): GraphPart {
  const inputs: GraphPart['inputs'] = [];
  const constants: proto.ITensorProto[] = [];
  const used = new Set<string>();
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const x of n.input ?? []) {
      if (!x || seen.has(x)) continue;
      seen.add(x);
      const producer = cx.made.get(x);
      if (cx.initializers.has(x)) used.add(x);
      else if (cx.graphInputs.has(x) || (producer !== undefined && producer < cx.start)) {
        const vi = cx.info(x);
        if (!FLOAT_TYPES.has(vi.elemType) && vi.value && !cx.graphInputs.has(x)) constants.push(constantOf(x, vi));
        else inputs.push({ name: x, dims: vi.shape, elemType: vi.elemType });
      }
    }
  }
  const outputs: GraphPart['outputs'] = [];
  for (const n of nodes) {
    for (const o of n.output ?? []) {
      if (!o) continue;
      const vi = cx.info(o);
      const readLater = (cx.last.get(o) ?? -1) >= cx.end;
      if (cx.graphOutputs.has(o) || (readLater && (FLOAT_TYPES.has(vi.elemType) || !vi.value))) outputs.push({ name: o, dims: vi.shape, elemType: vi.elemType });
    }
  }

  const dataPath = `part${index}.data`;
  const ranges: WeightRange[] = [];
  let dataBytes = 0;
  const partInitializers = [...used].map((n) => {
    const t = cx.initializers.get(n)!;
    const location = field(t, 'location');
    if (!location) return t;
    const length = Number(field(t, 'length'));
    const offset = Number(field(t, 'offset') ?? 0);
    const moved = onnx.TensorProto.create({ ...t, externalData: [{ key: 'location', value: dataPath }, { key: 'offset', value: String(dataBytes) }, { key: 'length', value: String(length) }] });
    const prev = ranges.at(-1);
    if (prev && prev.path === location && prev.offset + prev.length === offset) prev.length += length;
    else ranges.push({ path: location, offset, length, partOffset: dataBytes });
    dataBytes += length;
    return moved;
  });

  const valueInfo = (name: string, dims: number[], elemType: number) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const part = onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      name: `${model.graph!.name ?? cx.name}_part${index}`,
      node: nodes,
      initializer: [...partInitializers, ...constants],
      input: inputs.map((i) => valueInfo(i.name, i.dims, i.elemType)),
      output: outputs.map((o) => valueInfo(o.name, o.dims, o.elemType)),
    }),
  });
  return { model: onnx.ModelProto.encode(part).finish(), dataPath, dataBytes, ranges, inputs, outputs, nodeCount: nodes.length };
}

function field(t: proto.ITensorProto | undefined, key: string): string | undefined {
  return t?.externalData?.find((e) => e.key === key)?.value ?? undefined;
}

function externalBytes(t: proto.ITensorProto | undefined): number {
  return t && field(t, 'location') ? Number(field(t, 'length') ?? 0) : 0;
}

/** An inline initializer holding a known small integer value (int64 or int32, as evaluated). */
function constantOf(name: string, vi: ValueInfo): proto.ITensorProto {
  const values = vi.value!;
  if (vi.elemType === 7) return onnx.TensorProto.create({ name, dataType: 7, dims: vi.shape, rawData: new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer) });
  if (vi.elemType === 6) return onnx.TensorProto.create({ name, dataType: 6, dims: vi.shape, rawData: new Uint8Array(new Int32Array(values).buffer) });
  if (vi.elemType === 9) return onnx.TensorProto.create({ name, dataType: 9, dims: vi.shape, rawData: new Uint8Array(values) });
  throw new SplitError(`value "${name}" of element type ${vi.elemType} cannot be written as a constant`);
}
