/**
 * How much work one UNet call is, as a function of the request, fitted from the compiled graph itself: the shape
 * evaluator (onnx/shape-eval.ts) counts the FLOPs of every node at a few small probe shapes, and since the UNet's
 * FLOPs are exactly a combination of UNET_WORK_BASIS (convolutions and linears ∝ B·F·hw, spatial attention ∝ B·F·hw²,
 * temporal attention ∝ B·F²·hw, embeddings ∝ 1, F, B, B·F), seven probes determine the coefficients. Two more probes
 * check the fit; a graph whose FLOPs are not of that form gets no work estimate rather than a wrong one.
 */
import { UNET_WORK_BASIS, unetWorkBasis, type PipelineFacts, type UnetWork } from '../contract/manifest.ts';
import { evaluateGraph, type GraphLike } from './onnx/shape-eval.ts';

/** [batch, frames, latent height multiple, latent width multiple]: seven to fit, two to check. */
const PROBES: readonly (readonly [number, number, number, number])[] = [
  [1, 1, 1, 1], [1, 2, 1, 1], [2, 1, 1, 1], [2, 2, 1, 1], [1, 1, 2, 1], [1, 1, 2, 2], [1, 3, 1, 1],
  [2, 3, 2, 1], [1, 2, 2, 2],
];
const FIT = UNET_WORK_BASIS.length;

/** FLOPs of one call of `graph` (the UNet) at a batch, frame count and latent size. */
export function unetGraphFlops(graph: GraphLike, facts: Pick<PipelineFacts, 'unetInChannels' | 'embeddingDim'>, batch: number, frames: number, h: number, w: number): number {
  return evaluateGraph(graph, {
    sample: [batch, frames, facts.unetInChannels, h, w],
    timestep: [1],
    encoder_hidden_states: [batch, 1, facts.embeddingDim],
    added_time_ids: [batch, 3],
  }).totalFlops;
}

export function fitUnetWork(graph: GraphLike, facts: Pick<PipelineFacts, 'unetInChannels' | 'embeddingDim' | 'sizeMultiple' | 'vaeScaleFactor'>): UnetWork | undefined {
  const m = facts.sizeMultiple / facts.vaeScaleFactor;
  const rows: number[][] = [];
  const flops: number[] = [];
  for (const [B, F, a, b] of PROBES) {
    rows.push(unetWorkBasis(B, F, m * a * m * b));
    flops.push(unetGraphFlops(graph, facts, B, F, m * a, m * b));
  }
  const coefficients = solve(rows.slice(0, FIT), flops.slice(0, FIT));
  if (!coefficients) return undefined;
  for (let i = FIT; i < rows.length; i++) {
    const predicted = rows[i].reduce((acc, x, k) => acc + x * coefficients[k], 0);
    if (Math.abs(predicted - flops[i]) > 1e-9 * Math.max(1, flops[i])) return undefined;
  }
  // Not rounded: the attention terms are fractional per latent pixel (a level's tokens are hw/4^level).
  return { coefficients };
}

/** Gaussian elimination with partial pivoting; null when singular. */
function solve(a: number[][], y: number[]): number[] | null {
  const n = y.length;
  const m = a.map((row, i) => [...row, y[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (m[pivot][col] === 0) return null;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let k = col; k <= n; k++) m[r][k] -= f * m[col][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}
