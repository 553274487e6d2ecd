/** Running compiled graphs in onnxruntime-node for tests. */
import * as ort from 'onnxruntime-node';

/** qdq_matmulnbits_accuracy_level 0 keeps MatMulNBits exact (level 4 quantizes activations to int8). */
export const EXACT_SESSION_OPTIONS = { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } } as ort.InferenceSession.SessionOptions;

export async function runModel(
  modelPath: string,
  feeds: Record<string, { data: Float32Array; shape: number[] }>,
  options: ort.InferenceSession.SessionOptions = EXACT_SESSION_OPTIONS,
): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const session = await ort.InferenceSession.create(modelPath, options);
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', v.data, v.shape);
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, shape: [...t.dims] }]));
  } finally {
    await session.release();
  }
}
