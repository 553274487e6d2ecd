/**
 * Query-chunked attention from standard ops, put in place of com.microsoft MultiHeadAttention when a model is
 * loaded on a device whose fused kernel failed the attention self-test (src/engine/attention-check.ts).
 *
 * Models are converted once with fused attention (full-size SVD needs it: unfused scores reach tens of GB), so the
 * choice is made at load time by rewriting the .onnx graph (a few MB; the weights are untouched). Each fused node
 * [B, L, C] × [B, S, C] × [B, S, Cv] becomes
 *
 *   Q·scale → [B, H, L, d];  K → [B, H, d, S];  V → [B, H, S, dv]
 *   for each of N query chunks (rows floor(i·L/N) … floor((i+1)·L/N)):  softmax_f32(Q_i·K) · V   → [B, H, L_i, dv]
 *   concat over the chunks → [B, L, H·dv]
 *
 * so no score buffer is larger than [B, H, ⌈L/N⌉, S] in float32. The chunk bounds are computed in the graph from
 * the query's length, so a session stays right for any length of at least N rows; onnxruntime folds them to
 * constants when the shapes are fixed at creation (the device loop). The chunks are consecutive in the node list,
 * so onnxruntime runs (and frees) one chunk's scores before the next. The arithmetic is the builder's plain
 * attention (src/compiler/onnx/nn.ts attention), so N = 1 gives the plain graph's numbers.
 */
import onnxProto from 'onnx-proto';
import type { onnx as proto } from 'onnx-proto';
import { toFloat16Bits } from '../../io/float16.ts';

const { onnx } = onnxProto;

const FLOAT = 1;
const FLOAT16 = 10;
const INT64 = 7;

/** One fused attention node as the memory plan sees it at a request's shapes. */
export interface AttentionSite {
  node: string;
  batch: number;
  heads: number;
  /** L: query tokens */
  queries: number;
  /** S: key tokens */
  keys: number;
  /** C: the query's hidden width (heads × head dim) */
  hidden: number;
  /** ONNX element type of Q (1 float32, 10 float16) */
  elemType: number;
}

/** How one fused node is chunked: its chunk count and Q's element type (both from the plan). */
export interface AttentionChunking {
  chunks: number;
  elemType: number;
  /** heads × head dim of the query (for the default scale 1/√d) */
  hidden: number;
}

/** node name → how it is chunked; a fused node not named here is refused (every node must be planned). */
export type GraphChunking = Record<string, AttentionChunking>;

/** The chunking of planned sites (the memory plan's `attentionSites` with their chunk counts; unchunked: 1). */
export function chunkingOf(sites: readonly (AttentionSite & { chunks?: number })[]): GraphChunking {
  return Object.fromEntries(sites.map((s) => [s.node, { chunks: s.chunks ?? 1, elemType: s.elemType, hidden: s.hidden }]));
}

/** Bytes of one float32 score row block [B, H, rows, S] (the softmax runs in float32). */
export function scoreBytes(site: Pick<AttentionSite, 'batch' | 'heads' | 'keys'>, rows: number): number {
  return 4 * site.batch * site.heads * rows * site.keys;
}

/**
 * The fewest query chunks that keep each chunk's float32 scores within `budgetBytes` (at least one query row per
 * chunk, so a budget below one row still gives L chunks: the plan then reports that buffer as too large).
 */
export function chunkCount(site: AttentionSite, budgetBytes: number): number {
  const rowsPerChunk = Math.max(1, Math.floor(budgetBytes / scoreBytes(site, 1)));
  return Math.max(1, Math.ceil(site.queries / rowsPerChunk));
}

/** Rows of the largest chunk when L rows are cut at floor(i·L/N). */
export function largestChunkRows(queries: number, chunks: number): number {
  return Math.ceil(queries / chunks);
}

export class AttentionRewriteError extends Error {}

/** The fused attention nodes of a decoded graph. */
export function fusedAttentionNodes(graph: proto.IGraphProto): proto.INodeProto[] {
  return (graph.node ?? []).filter((n) => n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft');
}

/** An .onnx file's bytes with every fused attention node replaced by its chunked form. */
export function chunkAttentionInModel(modelBytes: Uint8Array, chunking: GraphChunking): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  if (!model.graph) throw new AttentionRewriteError('the .onnx file holds no graph');
  chunkAttentionInGraph(model.graph, chunking);
  return onnx.ModelProto.encode(model).finish();
}

/** Rewrites a decoded graph in place; returns how many nodes were replaced. */
export function chunkAttentionInGraph(graph: proto.IGraphProto, chunking: GraphChunking): number {
  const nodes = graph.node ?? [];
  const out: proto.INodeProto[] = [];
  const initializers = (graph.initializer ??= []);
  const builder = new NodeWriter(out, initializers);
  let replaced = 0;
  for (const node of nodes) {
    if (node.opType !== 'MultiHeadAttention' || node.domain !== 'com.microsoft') {
      out.push(node);
      continue;
    }
    const plan = chunking[node.name ?? ''];
    if (!plan) throw new AttentionRewriteError(`attention node "${node.name}" has no chunk plan`);
    writeChunkedAttention(builder, node, plan);
    replaced++;
  }
  graph.node = out;
  return replaced;
}

function writeChunkedAttention(w: NodeWriter, node: proto.INodeProto, plan: AttentionChunking): void {
  const inputs = node.input ?? [];
  if (inputs.length < 3 || inputs.slice(3).some((x) => x)) {
    throw new AttentionRewriteError(`attention node "${node.name}" has inputs [${inputs.join(', ')}]: only separate Q, K, V (no bias, mask or past) can be chunked`);
  }
  const [q, k, v] = inputs;
  const heads = Number(attr(node, 'num_heads')?.i ?? 0);
  if (!heads) throw new AttentionRewriteError(`attention node "${node.name}" has no num_heads`);
  if (plan.elemType !== FLOAT && plan.elemType !== FLOAT16) throw new AttentionRewriteError(`attention node "${node.name}": element type ${plan.elemType} is not float32 or float16`);
  const scale = attr(node, 'scale')?.f || 1 / Math.sqrt(plan.hidden / heads);
  const p = `${node.name}/chunked`;
  w.prefix = p;

  const scaled = w.op('Mul', [q, w.scalar(scale, plan.elemType)], 'q_scale');
  const qh = w.op('Transpose', [w.op('Reshape', [scaled, w.int64([0, 0, heads, -1])], 'q_heads')], 'q_t', { perm: [0, 2, 1, 3] }); // [B,H,L,d]
  const kt = w.op('Transpose', [w.op('Reshape', [k, w.int64([0, 0, heads, -1])], 'k_heads')], 'k_t', { perm: [0, 2, 3, 1] }); // [B,H,d,S]
  const vh = w.op('Transpose', [w.op('Reshape', [v, w.int64([0, 0, heads, -1])], 'v_heads')], 'v_t', { perm: [0, 2, 1, 3] }); // [B,H,S,dv]

  const attend = (qi: string, tag: string): string => {
    const scores = w.op('MatMul', [qi, kt], `scores${tag}`);
    const wide = plan.elemType === FLOAT ? scores : w.op('Cast', [scores], `scores_f32${tag}`, { to: FLOAT });
    let probs = w.op('Softmax', [wide], `softmax${tag}`, { axis: -1 });
    if (plan.elemType !== FLOAT) probs = w.op('Cast', [probs], `probs${tag}`, { to: plan.elemType });
    return w.op('MatMul', [probs, vh], `context${tag}`);
  };

  let context: string;
  if (plan.chunks <= 1) {
    context = attend(qh, '');
  } else {
    const length = w.op('Shape', [q], 'length', { start: 1, end: 2 }); // [1] int64: L
    const axis = w.int64([2]);
    const bound = (i: number): string => (i === 0 ? w.int64([0]) : i === plan.chunks ? length : w.op('Div', [w.op('Mul', [length, w.int64([i])], `bound${i}_x`), w.int64([plan.chunks])], `bound${i}`));
    const parts: string[] = [];
    let start = bound(0);
    for (let i = 0; i < plan.chunks; i++) {
      const end = bound(i + 1);
      parts.push(attend(w.op('Slice', [qh, start, end, axis], `q${i}`), `${i}`));
      start = end;
    }
    context = w.op('Concat', parts, 'concat', { axis: 2 });
  }
  const merged = w.op('Transpose', [context], 'merge_t', { perm: [0, 2, 1, 3] }); // [B,L,H,dv]
  w.op('Reshape', [merged, w.int64([0, 0, -1])], 'merge', {}, node.output![0]);
}

function attr(node: proto.INodeProto, name: string): proto.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** Appends nodes and small initializers with names unique under the current prefix. */
class NodeWriter {
  prefix = '';
  private readonly constants = new Map<string, string>();

  constructor(
    private readonly nodes: proto.INodeProto[],
    private readonly initializers: proto.ITensorProto[],
  ) {}

  op(opType: string, inputs: string[], tag: string, attrs: Record<string, number | number[]> = {}, output = `${this.prefix}/${tag}`): string {
    const attribute = Object.entries(attrs).map(([name, value]) =>
      Array.isArray(value)
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: value })
        : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value }),
    );
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [output], name: `${this.prefix}/${tag}`, attribute }));
    return output;
  }

  /** An int64 initializer of shape [n], shared within the graph. */
  int64(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    return this.constant(key, () => {
      const data = new BigInt64Array(values.map((x) => BigInt(x)));
      return { dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) };
    });
  }

  /** A scalar float initializer of the element type (float32 or float16). */
  scalar(value: number, elemType: number): string {
    const key = `f${elemType}:${value}`;
    return this.constant(key, () => {
      const raw = elemType === FLOAT ? new Uint8Array(new Float32Array([value]).buffer) : new Uint8Array(toFloat16Bits([value]).buffer);
      return { dataType: elemType, dims: [], rawData: raw };
    });
  }

  private constant(key: string, make: () => { dataType: number; dims: number[]; rawData: Uint8Array }): string {
    let name = this.constants.get(key);
    if (!name) {
      name = `chunked_attention_const/${this.constants.size}`;
      this.initializers.push(onnx.TensorProto.create({ name, ...make() }));
      this.constants.set(key, name);
    }
    return name;
  }
}
