/**
 * What chunked attention costs at full size (issue 14): the synthetic SVD-XT q4f16 UNet (bench/convert.ts's cache),
 * its fused attention rewritten to query-chunked attention as the memory plan chunks it (float32 scores of a chunk
 * up to the graph's largest other buffer, at least 512 MiB; no buffer limit), at 1024×576 with 14 and 25 frames (guidance batch 2): chunks, nodes, the rewrite's time in JS, and
 * onnxruntime-node's session creation (CPU EP, shapes fixed as the device loop fixes them) fused vs chunked.
 *   npx tsx bench/attention.ts [--model <dir>]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { chunkAttentionInModel, chunkingOf } from '../src/compiler/onnx/chunked-attention.ts';
import { decodeGraph, planModelFromManifest } from '../src/plan/model.ts';
import { MemoryPlanner } from '../src/plan/request-plan.ts';
import { formatBytes } from '../src/common/format.ts';
import { parseManifest } from '../src/contract/manifest.ts';

const DEFAULT_MODEL = join(tmpdir(), 'svd-web-bench', 'model-svd-xt-q4f16');

export async function runAttentionBench(modelDir = DEFAULT_MODEL): Promise<string> {
  if (!existsSync(join(modelDir, 'manifest.json'))) return `attention: no model at ${modelDir} (run bench/convert.ts first)`;
  const manifest = parseManifest(JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')));
  const planner = new MemoryPlanner(planModelFromManifest(manifest, (p) => new Uint8Array(readFileSync(join(modelDir, p)))));
  const unetPath = join(modelDir, manifest.graphs.unet.model);
  const bytes = new Uint8Array(readFileSync(unetPath));
  const externalData = manifest.graphs.unet.externalData.map((path) => ({ path, data: readFileSync(join(modelDir, path)) }));
  const rows = ['| request | attention nodes | score budget | chunks | nodes fused → chunked | rewrite | session creation fused | chunked |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const frames of [14, 25]) {
    const [height, width] = [576 / 8, 1024 / 8];
    const symbols = { batch: 2, frames, height, width };
    const m = planner.memory('unet', symbols, { kind: 'webgpu', attention: { kind: 'chunked' } });
    const chunking = chunkingOf(m.attentionSites);
    const t0 = performance.now();
    const chunked = chunkAttentionInModel(bytes, chunking);
    const rewriteMs = performance.now() - t0;
    const overrides = { batch: 2, frames, height, width };
    const create = async (model: Uint8Array) => {
      const t = performance.now();
      const s = await ort.InferenceSession.create(model, { logSeverityLevel: 3, externalData, freeDimensionOverrides: overrides } as ort.InferenceSession.SessionOptions);
      const ms = performance.now() - t;
      await s.release();
      return ms;
    };
    const fusedMs = await create(bytes);
    const chunkedMs = await create(chunked);
    const total = m.attentionSites.reduce((a, s) => a + s.chunks!, 0);
    const nodes = (b: Uint8Array) => decodeGraph(b).nodes.length;
    rows.push(`| 1024×576, ${frames} frames | ${m.attentionSites.length} | ${formatBytes(m.attentionScoreBytes ?? 0)} | ${total} | ${nodes(bytes)} → ${nodes(chunked)} | ${(rewriteMs / 1000).toFixed(2)} s | ${(fusedMs / 1000).toFixed(1)} s | ${(chunkedMs / 1000).toFixed(1)} s |`);
  }
  return ["chunked attention at full size (synthetic SVD-XT q4f16 UNet, the plan's score budget; onnxruntime-node CPU EP):", ...rows].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { model: { type: 'string' } } });
  console.log(await runAttentionBench(values.model));
}
