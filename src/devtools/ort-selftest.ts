/** Runs a small ONNX model with onnxruntime-web (native WebGPU EP build) from our origin. Lib-neutral. */
import { base64ToBytes } from '../common/base64.ts';
import * as ort from 'onnxruntime-web/webgpu';
import { ortWasmPaths } from '../runtime/assets.ts';
import type { AdapterReport, OrtRunReport, OrtRunRequest } from './api.ts';
import { describeAdapter, requestAdapter, requestAppDevice } from './gpu.ts';

let configured = false;

function configure(numThreads?: number): void {
  if (configured) return;
  ort.env.wasm.wasmPaths = ortWasmPaths();
  if (numThreads) ort.env.wasm.numThreads = numThreads;
  ort.env.logLevel = 'warning';
  configured = true;
}


export async function runOrtSelfTest(req: OrtRunRequest, where: 'page' | 'worker'): Promise<OrtRunReport> {
  configure(req.numThreads);
  let adapter: AdapterReport | undefined;
  let executionProviders: ort.InferenceSession.ExecutionProviderConfig[];
  if (req.ep === 'webgpu') {
    const a = await requestAdapter();
    if (!a) throw new Error('WebGPU: requestAdapter() returned null');
    adapter = describeAdapter(a);
    const device = await requestAppDevice(a);
    executionProviders = [{ name: 'webgpu', device } as ort.InferenceSession.WebGpuExecutionProviderOption];
  } else {
    executionProviders = ['wasm'];
  }

  const t0 = performance.now();
  const model = req.modelUrl ? new Uint8Array(await (await fetch(req.modelUrl)).arrayBuffer()) : base64ToBytes(req.modelBase64 ?? '');
  const session = await ort.InferenceSession.create(model, {
    executionProviders,
    externalData: req.externalData?.map(({ path, url }) => ({ path, data: url })),
    // Fail loudly instead of silently running nodes on the CPU.
    extra: req.ep === 'webgpu' && !req.allowCpuFallback ? { session: { disable_cpu_ep_fallback: '1' } } : undefined,
    ...(req.graphOptimizationLevel ? { graphOptimizationLevel: req.graphOptimizationLevel } : {}),
  });
  const t1 = performance.now();
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, { dims, data }] of Object.entries(req.feeds)) {
      feeds[name] = new ort.Tensor('float32', Float32Array.from(data), dims);
    }
    const results = await session.run(feeds);
    const t2 = performance.now();
    const outputs: OrtRunReport['outputs'] = {};
    for (const [name, tensor] of Object.entries(results)) {
      const data = (await tensor.getData()) as Float32Array;
      outputs[name] = { dims: [...tensor.dims], data: Array.from(data) };
      tensor.dispose();
    }
    return {
      ep: req.ep,
      where,
      outputs,
      createMs: t1 - t0,
      runMs: t2 - t1,
      numThreads: ort.env.wasm.numThreads ?? 0,
      wasmPaths: ortWasmPaths(),
      adapter,
    };
  } finally {
    await session.release();
  }
}
