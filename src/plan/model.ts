/**
 * The plan's view of a converted model: its manifest's facts and file sizes, and each graph decoded from its .onnx
 * (the graph only: weights live in external-data files the plan never reads; their sizes come from the manifest).
 * Pure: the caller reads the bytes (from disk in the CLI, from OPFS in the tab).
 */
import onnxProto from 'onnx-proto';
import type { GraphName, ModelManifest, NetworkName } from '../contract/manifest.ts';
import type { MemoryGraph } from './memory.ts';
import type { PlanGraph, PlanModel } from './request-plan.ts';

// onnx-proto is CommonJS; its namespace is the default export under Node's ESM loader (as in src/compiler/onnx/graph.ts).
const { onnx } = onnxProto;

/** The graph of an .onnx file's bytes. */
export function decodeGraph(bytes: Uint8Array): MemoryGraph {
  const model = onnx.ModelProto.decode(bytes);
  const g = model.graph;
  if (!g) throw new Error('the .onnx file holds no graph');
  return { nodes: g.node ?? [], initializers: g.initializer ?? [], inputs: g.input ?? [], outputs: g.output ?? [] };
}

/** A PlanModel from a manifest and a reader of the model's .onnx files (external data is never read). */
export function planModelFromManifest(manifest: ModelManifest, readModel: (path: string) => Uint8Array): PlanModel {
  const size = new Map(manifest.files.map((f) => [f.path, f.bytes]));
  const graphs: Partial<Record<GraphName, PlanGraph>> = {};
  for (const [name, entry] of Object.entries(manifest.graphs) as [GraphName, ModelManifest['graphs'][NetworkName]][]) {
    if (!entry) continue;
    graphs[name] = {
      graph: decodeGraph(readModel(entry.model)),
      modelBytes: size.get(entry.model) ?? 0,
      externalDataBytes: entry.externalData.reduce((a, p) => a + (size.get(p) ?? 0), 0),
    };
  }
  return { facts: manifest.pipeline, sampler: manifest.sampler, totalBytes: manifest.totalBytes, graphs: graphs as PlanModel['graphs'] };
}

