/**
 * The models cached in this browser: every OPFS models/<id>/ folder listed with its size and state (complete,
 * interrupted, broken), the source.json that says where each came from, deleting one, and the reader the
 * generation worker opens sessions through.
 */
import { parseManifest, type ModelManifest, type Precision, type SamplerName } from '../contract/manifest.ts';
import { listFiles, listModelIds, modelDirectory, opfsFileReader, readModelText, removeModelDirectory, removeStagingDirectory } from './opfs.ts';
import { MANIFEST_NAME, PART_SUFFIX, PENDING_MANIFEST_NAME, sanitizeModelId } from './plan.ts';

/** Where a cached model came from (source.json in its folder), so a download can be resumed after a reload. */
export interface ModelSource {
  id: string;
  label: string;
  kind: 'url' | 'import' | 'hub';
  baseUrl?: string;
  /** kind 'hub': the Hugging Face repository, revision and precision it was converted from, and the repository its
   * UNet came from when not that one (the fast model: repository, revision, file, sampler) */
  hub?: { repo: string; revision: string; precision: Precision; unet?: { repo: string; revision: string; path: string; sampler: SamplerName } };
}

export const SOURCE_NAME = 'source.json';

export interface CachedModel {
  id: string;
  /** present when the model is complete (every file verified) */
  manifest?: ModelManifest;
  source?: ModelSource;
  /** bytes in OPFS for this model, partial files included */
  bytes: number;
  /** bytes of the model's files per its manifest (pending one for an unfinished download); 0 when unknown */
  totalBytes: number;
  complete: boolean;
  /** bytes held in `.part` files (an interrupted download) */
  partialBytes: number;
  /** why a folder with a manifest.json is not complete (files missing or resized since) */
  problem?: string;
}

/** Records where a model came from (models/<id>/source.json). */
export async function writeSource(source: ModelSource): Promise<void> {
  const dir = await modelDirectory(source.id, true);
  const w = await (await dir.getFileHandle(SOURCE_NAME, { create: true })).createWritable();
  await w.write(JSON.stringify(source, null, 2));
  await w.close();
}

/** Every model folder in OPFS: complete ones (manifest.json, every file present at its size) and interrupted ones. */
export async function listCachedModels(): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const id of await listModelIds()) {
    let files: Map<string, number>;
    try {
      files = await listFiles(await modelDirectory(id));
    } catch {
      continue;
    }
    let bytes = 0;
    let partialBytes = 0;
    for (const [p, s] of files) {
      bytes += s;
      if (p.endsWith(PART_SUFFIX)) partialBytes += s;
    }
    let source: ModelSource | undefined;
    try {
      source = JSON.parse((await readModelText(id, SOURCE_NAME)) ?? 'null') ?? undefined;
    } catch {
      source = undefined;
    }
    const entry: CachedModel = { id, source, bytes, totalBytes: 0, complete: false, partialBytes };
    const finalText = await readModelText(id, MANIFEST_NAME);
    const pendingText = finalText ? null : await readModelText(id, PENDING_MANIFEST_NAME);
    try {
      if (finalText) {
        const manifest = parseManifest(JSON.parse(finalText));
        entry.totalBytes = manifest.totalBytes ?? manifest.files.reduce((a, f) => a + f.bytes, 0);
        const bad = manifest.files.filter((f) => files.get(f.path) !== f.bytes).map((f) => f.path);
        if (bad.length) entry.problem = `files missing or changed since download: ${bad.join(', ')}; download or import it again`;
        else {
          entry.manifest = manifest;
          entry.complete = true;
        }
      } else if (pendingText) {
        const pending = JSON.parse(pendingText) as ModelManifest;
        entry.totalBytes = pending.files.reduce((a, f) => a + f.bytes, 0);
      }
    } catch (e) {
      entry.problem = `unreadable manifest: ${(e as Error).message}`;
    }
    out.push(entry);
  }
  return out;
}

/** Deletes a model's folder and any sources staged for converting it (cancel its download first). */
export async function deleteModel(id: string): Promise<void> {
  await removeModelDirectory(sanitizeModelId(id));
  await removeStagingDirectory(sanitizeModelId(id));
}

/** What the generation worker reads a cached model through (`{kind:'opfs', modelId}`). */
export const modelFileReader = opfsFileReader;
