/** ModelRuntime on onnxruntime-node: the CLI's and the parity tests' way to run a converted model. */
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { graphEntry, type GraphName, type ModelManifest } from '../contract/manifest.ts';
import { newStats, type GraphSession, type ModelRuntime, type Tensor32 } from './types.ts';

export interface NodeRuntimeOptions {
  device: 'cpu' | 'webgpu';
  /** MatMulNBits with float activations (exact); the default level 4 quantizes activations to int8 on CPU */
  exactQuantizedMatMul?: boolean;
}

export class NodeRuntime implements ModelRuntime {
  readonly stats = newStats();
  readonly device: 'cpu' | 'webgpu';

  constructor(private readonly modelDir: string, private readonly manifest: ModelManifest, private readonly options: NodeRuntimeOptions) {
    this.device = options.device;
  }

  async open(graph: GraphName): Promise<GraphSession> {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(join(this.modelDir, graphEntry(this.manifest, graph).model), {
      executionProviders: [this.device],
      // errors only: ORT's notes that shape ops run on the CPU (by design) are not the user's concern
      logSeverityLevel: 3,
      extra: { session: { qdq_matmulnbits_accuracy_level: this.options.exactQuantizedMatMul === false ? '4' : '0' } },
    } as ort.InferenceSession.SessionOptions);
    this.stats.createMs += performance.now() - t0;
    const stats = this.stats;
    return {
      async run(feeds: Record<string, Tensor32>) {
        const inputs: Record<string, ort.Tensor> = {};
        for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
        // onnxruntime-node returns outputs on the CPU: the run is over when the call returns
        const span = stats.begin();
        let out: ort.InferenceSession.OnnxValueMapType;
        try {
          out = await session.run(inputs);
        } finally {
          stats.returned(span);
          stats.finish(span);
        }
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: [...v.dims] }]));
      },
      release: () => session.release(),
    };
  }
}
