/**
 * The memory one graph needs at given input shapes, from the graph itself: the shape evaluator
 * (src/compiler/onnx/shape-eval.ts) gives every value's shape and element type, and a walk over the nodes in their
 * order (the order the builder appended them, which is a topological order) gives each value's lifetime:
 *
 * - a value is live from the node that makes it to the last node that reads it; graph inputs are live from the
 *   start, graph outputs to the end; a value nobody reads lives only at the node that makes it;
 * - the ACTIVATION PEAK is the largest sum of live values at any node (the node's inputs and outputs both count);
 * - view ops that onnxruntime registers as aliases of their input (Reshape, Squeeze, Unsqueeze, Flatten, Identity)
 *   share their input's buffer: no new bytes, and the input lives as long as its views;
 * - initializers, and Constant nodes (onnxruntime turns them into initializers), are WEIGHTS, counted apart by
 *   their element type (int4/uint4 packed two to a byte);
 * - the LARGEST single tensor (bytes, name, the op that makes it) is what must fit WebGPU's maxBufferSize and
 *   maxStorageBufferBindingSize.
 *
 * What the estimate leaves out (so a real device needs somewhat more; measure it on a GPU, see the README):
 * - onnxruntime's allocator: WebGPU buffers rounded up (16 bytes, or size buckets for small ones) and released buffers
 *   kept in a cache for reuse, so fragmentation can hold more than the liveness peak; CPU/wasm arenas grow in chunks;
 * - in-place reuse beyond the aliases above (an elementwise op writing into its dying input): that makes the real
 *   peak SMALLER, not larger;
 * - kernel scratch that is not a graph value: im2col/packing buffers, MatMulNBits dequantisation tiles, and above all
 *   a fused attention's workspace. com.microsoft MultiHeadAttention is counted as its output only when the kernel
 *   streams (flash attention); `attentionScratch: 'scores'` adds the [batch, heads, L, S] score matrix the unfused
 *   path of the kernel materialises, and `attentionScores` always reports the largest such matrix;
 * - the weights' transient copies while a session is created (prepacking, constant folding), and the browser's own
 *   use of the GPU (the page, the video elements).
 * No safety factor is applied here: these are the raw numbers; the request plan (./request-plan.ts) states the margin
 * it keeps.
 */
import type { onnx as proto } from 'onnx-proto';
import { evaluateGraph, numel, type GraphLike, type ValueInfo } from '../compiler/onnx/shape-eval.ts';
import { chunkCount, largestChunkRows, scoreBytes, type AttentionSite } from '../compiler/onnx/chunked-attention.ts';

/** A graph as the shape evaluator reads it, with its outputs (our builder's Graph, or a decoded .onnx). */
export interface MemoryGraph extends GraphLike {
  outputs: proto.IValueInfoProto[];
}

/** Bytes per element of each ONNX element type (int4/uint4: half a byte, packed). */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 0.5, 22: 0.5,
};
const TYPE_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 21: 'uint4', 22: 'int4',
};

export function tensorBytes(shape: readonly number[], elemType: number): number {
  const per = ELEMENT_BYTES[elemType];
  if (per === undefined) throw new Error(`no byte size for ONNX element type ${elemType}`);
  return Math.ceil(numel(shape) * per);
}

export function elementTypeName(elemType: number): string {
  return TYPE_NAMES[elemType] ?? `type ${elemType}`;
}

/** Ops whose output onnxruntime lets share the input's buffer (Alias(0, 0) in its kernel registrations). */
const VIEW_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

export interface TensorRecord {
  name: string;
  /** the op that makes it ('input' for a graph input, 'initializer' for a weight) */
  op: string;
  shape: number[];
  elemType: number;
  bytes: number;
}

export interface GraphMemory {
  weights: {
    bytes: number;
    count: number;
    /** bytes by element type name */
    byType: Record<string, number>;
    largest?: TensorRecord;
  };
  /** the largest sum of live activations at any node, and the node where it is reached */
  activationPeak: number;
  peakAt: { node: string; op: string };
  inputBytes: number;
  outputBytes: number;
  /** the largest single activation tensor (graph inputs and outputs included; with `attentionScratch: 'scores'`, the score matrices too) */
  largest: TensorRecord;
  /** the largest score matrix [batch, heads, L, S] of a fused attention node, in its query's type (absent: none) */
  attentionScores?: TensorRecord;
  /** every fused attention node at these shapes, and (with `attentionScratch: 'chunked'`) its chunk count */
  attentionSites: (AttentionSite & { chunks?: number })[];
  /** with `attentionScratch: 'chunked'`: the score budget of one chunk */
  attentionScoreBytes?: number;
  nodeCount: number;
}

export interface MemoryOptions {
  /**
   * 'streamed' (default): fused attention is counted as its output only (a flash-attention kernel).
   * 'scores': the kernel materialises the score matrix; it is live at that node and counts as a buffer.
   * 'chunked': the node is replaced by query-chunked attention (src/compiler/onnx/chunked-attention.ts) whose float32
   *   scores per chunk stay within `attentionScoreBytes`: at that node the softmax's input and output of one chunk
   *   are live, and one of them counts as a buffer.
   */
  attentionScratch?: 'streamed' | 'scores' | 'chunked';
  /** with 'chunked': the most bytes one chunk's float32 scores may take */
  attentionScoreBytes?: number;
  /** values of small shape-arithmetic inputs, passed on to the shape evaluator */
  inputValues?: Record<string, number[]>;
}

/** Memory of one run of `graph` at `inputShapes` (see the header for what is counted and what is not). */
export function graphMemory(graph: MemoryGraph, inputShapes: Record<string, number[]>, options: MemoryOptions = {}): GraphMemory {
  const evaluation = evaluateGraph(graph, inputShapes, options.inputValues);
  const info = (name: string): ValueInfo => {
    const v = evaluation.values.get(name);
    if (!v) throw new Error(`value "${name}" has no shape`);
    return v;
  };

  // weights: initializers and Constant outputs
  const weights: GraphMemory['weights'] = { bytes: 0, count: 0, byType: {} };
  const weightNames = new Set<string>();
  const addWeight = (name: string, op: string, shape: number[], elemType: number) => {
    weightNames.add(name);
    const bytes = tensorBytes(shape, elemType);
    weights.bytes += bytes;
    weights.count++;
    const t = elementTypeName(elemType);
    weights.byType[t] = (weights.byType[t] ?? 0) + bytes;
    if (!weights.largest || bytes > weights.largest.bytes) weights.largest = { name, op, shape, elemType, bytes };
  };
  for (const t of graph.initializers) addWeight(t.name!, 'initializer', (t.dims ?? []).map(Number), t.dataType ?? 1);
  for (const n of graph.nodes) if (n.opType === 'Constant') for (const o of n.output ?? []) if (o) addWeight(o, 'Constant', info(o).shape, info(o).elemType);

  // lifetimes: [first, last] node index of every activation's buffer
  const N = graph.nodes.length;
  const end = Math.max(N - 1, 0);
  const root = new Map<string, string>(); // value → the buffer it lives in
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const made = new Map<string, { op: string }>();
  const bufferOf = (name: string) => root.get(name) ?? name;
  const touch = (buffer: string, i: number) => last.set(buffer, Math.max(last.get(buffer) ?? i, i));
  for (const i of graph.inputs) {
    first.set(i.name!, 0);
    touch(i.name!, 0);
    made.set(i.name!, { op: 'input' });
  }
  graph.nodes.forEach((node, i) => {
    if (node.opType === 'Constant') return;
    for (const x of node.input ?? []) if (x && !weightNames.has(x)) touch(bufferOf(x), i);
    const outs = node.output ?? [];
    const x0 = node.input?.[0];
    if (VIEW_OPS.has(node.opType ?? '') && x0 && outs[0]) {
      // a view of a weight is that weight; a view of an activation shares its buffer
      if (weightNames.has(x0)) weightNames.add(outs[0]);
      else root.set(outs[0], bufferOf(x0));
      return;
    }
    for (const o of outs) {
      if (!o) continue;
      first.set(o, i);
      touch(o, i);
      made.set(o, { op: node.opType ?? '' });
    }
  });
  let outputBytes = 0;
  for (const o of graph.outputs) {
    const b = bufferOf(o.name!);
    if (weightNames.has(b)) continue;
    touch(b, end);
    outputBytes += tensorBytes(info(o.name!).shape, info(o.name!).elemType);
  }

  // the live sum at each node: +bytes where a buffer starts, −bytes after its last use
  const delta = new Float64Array(N + 2);
  let largest: TensorRecord | undefined;
  let inputBytes = 0;
  const consider = (t: TensorRecord) => {
    if (!largest || t.bytes > largest.bytes) largest = t;
  };
  for (const [name, start] of first) {
    const v = info(name);
    const bytes = tensorBytes(v.shape, v.elemType);
    delta[start] += bytes;
    delta[(last.get(name) ?? start) + 1] -= bytes;
    const op = made.get(name)!.op;
    if (op === 'input') inputBytes += bytes;
    consider({ name, op, shape: v.shape, elemType: v.elemType, bytes });
  }
  // fused attention: the score matrix its kernel may hold, or the chunk of it that chunked attention holds
  let attentionScores: TensorRecord | undefined;
  const attentionSites: GraphMemory['attentionSites'] = [];
  graph.nodes.forEach((node, i) => {
    if (node.opType !== 'MultiHeadAttention') return;
    const q = info(node.input![0]);
    const k = info(node.input![1]);
    const heads = Number(node.attribute?.find((a) => a.name === 'num_heads')?.i ?? 1);
    const S = k.shape.length === 4 ? k.shape[2] : k.shape[1];
    const shape = [q.shape[0], heads, q.shape[1], S];
    const t: TensorRecord = { name: `${node.name} (scores)`, op: 'MultiHeadAttention', shape, elemType: q.elemType, bytes: tensorBytes(shape, q.elemType) };
    if (!attentionScores || t.bytes > attentionScores.bytes) attentionScores = t;
    const site: AttentionSite = { node: node.name ?? '', batch: q.shape[0], heads, queries: q.shape[1], keys: S, hidden: q.shape[2], elemType: q.elemType };
    let scratch: TensorRecord | undefined;
    let live = 0;
    let chunks: number | undefined;
    if (options.attentionScratch === 'scores') {
      scratch = t;
      live = t.bytes;
    } else if (options.attentionScratch === 'chunked') {
      if (!options.attentionScoreBytes) throw new Error('chunked attention needs attentionScoreBytes');
      chunks = chunkCount(site, options.attentionScoreBytes);
      const rows = largestChunkRows(site.queries, chunks);
      scratch = { name: `${node.name} (float32 scores of one chunk of ${chunks})`, op: 'Softmax', shape: [site.batch, heads, rows, S], elemType: 1, bytes: scoreBytes(site, rows) };
      live = 2 * scratch.bytes; // the softmax's input and output
    }
    if (scratch) {
      delta[i] += live;
      delta[i + 1] -= live;
      consider(scratch);
    }
    attentionSites.push(chunks === undefined ? site : { ...site, chunks });
  });

  let live = 0;
  let peak = 0;
  let peakIndex = 0;
  for (let i = 0; i < Math.max(N, 1); i++) {
    live += delta[i];
    if (live > peak) {
      peak = live;
      peakIndex = i;
    }
  }
  const peakNode = graph.nodes[peakIndex];
  return {
    weights,
    activationPeak: peak,
    peakAt: { node: peakNode?.name ?? '', op: peakNode?.opType ?? '' },
    inputBytes,
    outputBytes,
    largest: largest ?? { name: '', op: '', shape: [], elemType: 1, bytes: 0 },
    ...(attentionScores ? { attentionScores } : {}),
    attentionSites,
    ...(options.attentionScratch === 'chunked' ? { attentionScoreBytes: options.attentionScoreBytes } : {}),
    nodeCount: N,
  };
}

/** The shapes of a graph's inputs from their declared dimensions: fixed numbers kept, symbolic names looked up. */
export function inputShapesFor(graph: Pick<GraphLike, 'inputs'>, symbols: Record<string, number>, where = 'graph'): Record<string, number[]> {
  return Object.fromEntries(
    graph.inputs.map((i) => {
      const dims = i.type?.tensorType?.shape?.dim ?? [];
      return [
        i.name!,
        dims.map((d, k) => {
          if (d.dimParam) {
            const v = symbols[d.dimParam];
            if (v === undefined) throw new Error(`${where}: input "${i.name}" dimension ${k} is "${d.dimParam}", which the plan does not know`);
            return v;
          }
          return Number(d.dimValue ?? 0);
        }),
      ];
    }),
  );
}
