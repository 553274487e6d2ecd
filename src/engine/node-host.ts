/**
 * Node's ModelHost (the CLI, parity tests, benchmarks): a folder written by `svd-web convert`, run on
 * onnxruntime-node's CPU provider or its WebGPU EP (Dawn).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest, ManifestError, type ModelManifest } from '../contract/manifest.ts';
import { EngineError, type DeviceInfo, type DevicePreference, type ModelSource } from '../contract/job.ts';
import { NodeRuntime } from '../runtime/node.ts';
import type { ModelHost, OpenModel } from './in-process.ts';

export class NodeModelHost implements ModelHost {
  async probe(preference: DevicePreference): Promise<DeviceInfo> {
    const base = { crossOriginIsolated: false, features: [] as string[] };
    if (preference === 'webgpu') return { ...base, device: 'webgpu', reason: 'onnxruntime-node WebGPU EP (Dawn) was chosen' };
    return { ...base, device: 'wasm', reason: 'onnxruntime-node CPU provider' };
  }

  async open(source: ModelSource, device: DeviceInfo): Promise<OpenModel> {
    if (source.kind !== 'dir') throw new EngineError('model', `the command line reads models from a folder (got a ${source.kind} source)`);
    const manifest = readModelManifest(source.path);
    const runtime = new NodeRuntime(source.path, manifest, { device: device.device === 'webgpu' ? 'webgpu' : 'cpu' });
    return { manifest, runtime, dispose: async () => {} };
  }
}

/** The manifest of a model folder; a missing or broken one is an EngineError('model') naming the file. */
export function readModelManifest(dir: string): ModelManifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new EngineError('model', `${dir} has no manifest.json; convert a checkpoint first (svd-web convert --from <checkpoint> --out ${dir})`);
  try {
    return parseManifest(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (e) {
    if (e instanceof ManifestError || e instanceof SyntaxError) throw new EngineError('model', `${path}: ${(e as Error).message}`);
    throw e;
  }
}
