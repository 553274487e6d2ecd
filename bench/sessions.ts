/**
 * Session creation time of the demo model's graphs in onnxruntime-node (CPU EP), with the named intermediate shapes
 * the compiler writes (src/compiler/onnx/value-info.ts) and with them stripped — what onnxruntime's allocation
 * planner costs without them:
 *   npx tsx bench/sessions.ts        (npm run bench -- --only sessions)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxPkg from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { ROOT } from '../e2e/harness.ts';

const { onnx } = onnxPkg;
const GRAPHS = ['image_encoder', 'vae_encoder', 'unet', 'vae_decoder'] as const;
const RUNS = 3;

async function createMs(model: Uint8Array, dir: string): Promise<number> {
  // the external data sits next to the graph: a path-less buffer needs it handed over (read once, outside the timing)
  const externalData = externalDataOf(model, dir);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3, externalData } as ort.InferenceSession.SessionOptions);
    times.push(performance.now() - t0);
    await session.release();
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

function externalDataOf(model: Uint8Array, dir: string): { path: string; data: Uint8Array }[] {
  const files = new Set<string>();
  for (const t of onnx.ModelProto.decode(model).graph!.initializer!) {
    const location = t.externalData?.find((e) => e.key === 'location')?.value;
    if (location) files.add(location);
  }
  return [...files].map((path) => ({ path, data: readFileSync(join(dir, path)) }));
}

export async function runSessionsBench(modelDir = join(ROOT, 'public', 'models', 'tiny-random')): Promise<string> {
  const rows = ['| graph | nodes | named shapes | creation, with them | creation, stripped |', '|---|---|---|---|---|'];
  for (const name of GRAPHS) {
    const bytes = readFileSync(join(modelDir, `${name}.onnx`));
    const model = onnx.ModelProto.decode(bytes);
    const named = model.graph!.valueInfo?.length ?? 0;
    model.graph!.valueInfo = [];
    const stripped = onnx.ModelProto.encode(model).finish();
    const withInfo = await createMs(bytes, modelDir);
    const without = await createMs(stripped, modelDir);
    rows.push(`| ${name} | ${model.graph!.node!.length} | ${named} | ${withInfo.toFixed(0)} ms | ${without.toFixed(0)} ms |`);
  }
  return [
    '### Session creation (bench/sessions.ts)',
    '',
    `Demo model (${modelDir.split('/').slice(-2).join('/')}), onnxruntime-node ${ort.env.versions?.common ?? ''} CPU EP, graph optimisation 'all', median of ${RUNS}.`,
    '',
    ...rows,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await runSessionsBench());
