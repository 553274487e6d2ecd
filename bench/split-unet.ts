/**
 * The UNet of a converted model cut into parts as the app cuts it at load time (src/compiler/onnx/split-graph.ts,
 * src/runtime/web.ts), written as a model folder of its own: `unet.part<k>.onnx` + `unet.part<k>.data` and a manifest
 * listing them as graphs, so bench/heap.ts measures each part's session creation like any graph's.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readPartWeights } from '../src/io/node-files.ts';
import { join } from 'node:path';
import onnxPkg from 'onnx-proto';
import { splitGraph } from '../src/compiler/onnx/split-graph.ts';
import { evaluateGraph } from '../src/compiler/onnx/shape-eval.ts';
import { decodeGraph } from '../src/plan/model.ts';
import { inputShapesFor } from '../src/plan/memory.ts';

const { onnx } = onnxPkg;

/** Symbols of the UNet call the parts are cut for (1024×576, 25 frames, guidance batch 2: the device loop's). */
export const SPLIT_SYMBOLS = { batch: 2, frames: 25, height: 72, width: 128 };

export function writeSplitUnet(modelDir: string, parts: number, log: (s: string) => void = console.log): { dir: string; graphs: string[] } {
  const dir = `${modelDir}-unet-${parts}-parts`;
  const graphs = Array.from({ length: parts }, (_, k) => `unet.part${k}`);
  // written afresh every time: the cut follows the splitter's code
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8'));
  const bytes = new Uint8Array(readFileSync(join(modelDir, manifest.graphs.unet.model)));
  const graph = decodeGraph(bytes);
  const t0 = performance.now();
  const split = splitGraph(onnx.ModelProto.decode(bytes), evaluateGraph(graph, inputShapesFor(graph, SPLIT_SYMBOLS, 'unet')), parts, 'unet');
  log(`split-unet: cut in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${split.map((p) => `${p.nodeCount} nodes / ${(p.dataBytes / 1e9).toFixed(2)} GB`).join(', ')}`);
  const entries: Record<string, { model: string; externalData: string[]; nodeCount: number }> = {};
  split.forEach((p, k) => {
    writeFileSync(join(dir, `${graphs[k]}.onnx`), p.model);
    writeFileSync(join(dir, p.dataPath), readPartWeights(modelDir, p));
    entries[graphs[k]] = { model: `${graphs[k]}.onnx`, externalData: [p.dataPath], nodeCount: p.nodeCount };
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ precision: manifest.precision, graphs: entries }));
  return { dir, graphs };
}
