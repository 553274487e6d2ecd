/**
 * The FLOP split of our UNet graph by category (conv kinds, attention, feed-forward, projections, …), on top of the
 * shape evaluator in src/compiler/onnx/shape-eval.ts (which gives every node's shapes and FLOPs: one multiply-add =
 * 2 FLOPs, Conv/ConvTranspose/MatMul/MatMulNBits/Gemm/Einsum/MultiHeadAttention only).
 */
import { numel, type Evaluation, type GraphLike, type NodeCost } from '../src/compiler/onnx/shape-eval.ts';

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
