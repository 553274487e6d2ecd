/**
 * The attention self-test: which attention is right on THIS device. onnxruntime's fused MultiHeadAttention kernel
 * gives wrong self-attention on some WebGPU adapters (SwiftShader's subgroup path: max error 0.48 once the query
 * length is ≥ 32 and the key length ≥ 6; docs in the README), so before a model with fused attention runs on a GPU,
 * small problems are run through the fused kernel and through query-chunked attention
 * (src/compiler/onnx/chunked-attention.ts) and compared with attention computed here in double precision.
 * Fused is kept only where it passes; chunked is used where it alone passes; where neither does, the GPU is refused.
 */
import { Graph } from '../compiler/onnx/graph.ts';
import { chunkAttentionInModel } from '../compiler/onnx/chunked-attention.ts';

/** The problems: [batch, queries, keys, heads, hidden]; the first two are where the broken kernel goes wrong. */
export const CHECK_CASES: readonly (readonly [number, number, number, number, number])[] = [
  [2, 64, 64, 2, 32], // self-attention
  [1, 40, 9, 4, 32], // more queries than keys
  [3, 8, 8, 1, 8], // below the sizes where the broken kernel fails: a sanity case
];
/** Max |Δ| allowed against the double-precision reference: outputs are O(1); float32 kernels agree to ~1e-6. */
export const CHECK_TOLERANCE = 1e-3;
/** Chunks of the chunked form in the test (more than one, so the chunk seams are tested too). */
const CHECK_CHUNKS = 3;

export interface AttentionVerdict {
  kind: 'fused' | 'chunked';
  /** in words, for the device line */
  why: string;
  fusedError: number;
  chunkedError: number;
}

/** Runs a model's bytes on the device under test: inputs and outputs float32, by name. */
export type RunOnDevice = (model: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>) => Promise<Record<string, Float32Array>>;

export class AttentionCheckError extends Error {}

/** Runs the self-test through `run` (the device's EP) and says which attention to use. */
export async function checkAttention(run: RunOnDevice): Promise<AttentionVerdict> {
  const { model, feeds, expected } = checkProblem();
  const chunking = Object.fromEntries(CHECK_CASES.map(([, , , , hidden], i) => [`attention${i}`, { chunks: CHECK_CHUNKS, elemType: 1, hidden }]));
  const fusedError = worstError(await run(model, feeds), expected);
  const chunkedError = worstError(await run(chunkAttentionInModel(model, chunking), feeds), expected);
  const err = (e: number) => (Number.isFinite(e) ? e.toExponential(1) : String(e));
  if (fusedError <= CHECK_TOLERANCE) return { kind: 'fused', why: `the fused kernel passed this GPU's self-test (max error ${err(fusedError)})`, fusedError, chunkedError };
  if (chunkedError <= CHECK_TOLERANCE) {
    return { kind: 'chunked', why: `the fused kernel failed this GPU's self-test (max error ${err(fusedError)}); chunked attention passed (${err(chunkedError)})`, fusedError, chunkedError };
  }
  throw new AttentionCheckError(`attention computes wrong results on this GPU (self-test: fused max error ${err(fusedError)}, chunked ${err(chunkedError)}, allowed ${CHECK_TOLERANCE}); run on the CPU instead`);
}

/** The self-test's graph (one fused node per case), its inputs and the double-precision answers. */
export function checkProblem(): { model: Uint8Array; feeds: Record<string, { data: Float32Array; dims: number[] }>; expected: Record<string, Float64Array> } {
  const g = new Graph({ name: 'attention_check', opset: 21 });
  g.useDomain('com.microsoft', 1);
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  const expected: Record<string, Float64Array> = {};
  const random = lcg(20241207);
  CHECK_CASES.forEach(([batch, queries, keys, heads, hidden], i) => {
    const make = (name: string, length: number) => {
      const dims = [batch, length, hidden];
      const data = Float32Array.from({ length: batch * length * hidden }, () => 2 * (random() * 2 - 1));
      feeds[name] = { data, dims };
      return g.input(name, 'float32', dims);
    };
    const q = make(`q${i}`, queries);
    const k = make(`k${i}`, keys);
    const v = make(`v${i}`, keys);
    const out = g.op('MultiHeadAttention', [q, k, v], { num_heads: heads }, { domain: 'com.microsoft', name: `attention${i}` });
    g.output(out, `out${i}`, [batch, queries, hidden]);
    expected[`out${i}`] = referenceAttention(feeds[`q${i}`].data, feeds[`k${i}`].data, feeds[`v${i}`].data, batch, queries, keys, heads, hidden);
  });
  return { model: g.toBytes({ producer: 'svd-web attention check' }), feeds, expected };
}

/** softmax(Q·Kᵀ/√d)·V per head in double precision; Q [B, L, C], K and V [B, S, C]. */
export function referenceAttention(q: Float32Array, k: Float32Array, v: Float32Array, B: number, L: number, S: number, H: number, C: number): Float64Array {
  const d = C / H;
  const out = new Float64Array(B * L * C);
  const scores = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        let max = -Infinity;
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let j = 0; j < d; j++) dot += q[(b * L + l) * C + h * d + j] * k[(b * S + s) * C + h * d + j];
          scores[s] = dot / Math.sqrt(d);
          max = Math.max(max, scores[s]);
        }
        let sum = 0;
        for (let s = 0; s < S; s++) sum += (scores[s] = Math.exp(scores[s] - max));
        for (let j = 0; j < d; j++) {
          let acc = 0;
          for (let s = 0; s < S; s++) acc += scores[s] * v[(b * S + s) * C + h * d + j];
          out[(b * L + l) * C + h * d + j] = acc / sum;
        }
      }
    }
  }
  return out;
}

function worstError(got: Record<string, Float32Array>, expected: Record<string, Float64Array>): number {
  let worst = 0;
  for (const [name, ref] of Object.entries(expected)) {
    const out = got[name];
    if (!out || out.length !== ref.length) return Infinity;
    for (let i = 0; i < ref.length; i++) {
      const e = Math.abs(out[i] - ref[i]);
      if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
    }
  }
  return worst;
}

/** A small deterministic generator: the same problem on every device. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}
