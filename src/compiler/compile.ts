/** Compiles one network: architecture code → graph → `<name>.onnx` + external-data shards, all hashed. */
import { Graph } from './onnx/graph.ts';
import { BuildContext, type BuildOptions } from './onnx/nn.ts';
import { symbolicValueInfo } from './onnx/value-info.ts';
import type { WeightStore } from './weights.ts';
import { ShardedDataSink, writeHashedFile, DEFAULT_SHARD_BYTES, type WrittenFile } from './writer.ts';
import type { OutputFolder } from '../io/files.ts';
import type { UnetWork } from '../contract/manifest.ts';

/** Opset 21: DequantizeLinear with int4/blocked scales, Gelu, LayerNormalization, Shape start/end. */
export const OPSET = 21;

export interface CompiledGraph {
  name: string;
  model: WrittenFile;
  externalData: WrittenFile[];
  nodeCount: number;
  /** each input's dimensions (numbers or symbolic names), for the manifest */
  inputs: Record<string, (number | string)[]>;
  /** the UNet's FLOPs per call as a function of the request (src/compiler/work.ts) */
  work?: UnetWork;
}

export interface CompileGraphOptions extends BuildOptions {
  output: OutputFolder;
  shardBytes?: number;
}

/** `inspect` reads the finished graph (before it is serialised) for facts the manifest records. */
export function compileGraph(
  name: string,
  weights: WeightStore,
  options: CompileGraphOptions,
  build: (ctx: BuildContext) => void,
  inspect?: (graph: Graph) => Pick<CompiledGraph, 'work'>,
): CompiledGraph {
  const sink = new ShardedDataSink(options.output, name, options.shardBytes ?? DEFAULT_SHARD_BYTES);
  const graph = new Graph({ name, opset: OPSET, sink });
  const ctx = new BuildContext(graph, weights, options);
  build(ctx);
  weights.assertAllTaken();
  const facts = inspect?.(graph) ?? {};
  // Named intermediate shapes: onnxruntime's session creation is quadratic in the node count without them.
  graph.valueInfo = symbolicValueInfo(graph);
  const externalData = sink.finish();
  const model = writeHashedFile(options.output, `${name}.onnx`, graph.toBytes({ docString: `svd-web ${name} (${options.precision.name})` }));
  return { name, model, externalData, nodeCount: graph.nodeCount, inputs: graph.inputDims(), ...facts };
}
