/**
 * Pure decisions about a model folder: what changed between two manifests, what is still missing, whether the
 * storage quota allows it, and what an imported folder lacks. Unit-tested in Node (tests/models/plan.test.ts).
 */
import type { ManifestFile, ModelManifest } from '../contract/manifest.ts';
import { formatGB } from '../common/format.ts';

export const MANIFEST_NAME = 'manifest.json';
/** the manifest of a download in progress; replaced by manifest.json once every file verified */
export const PENDING_MANIFEST_NAME = 'manifest.pending.json';
export const PART_SUFFIX = '.part';

/** Files of `next` whose bytes on disk (written for `prev`) cannot be kept, and files `prev` had that `next` drops. */
export function diffManifests(prev: Pick<ModelManifest, 'files'> | null, next: Pick<ModelManifest, 'files'>): { changed: string[]; removed: string[]; kept: string[] } {
  if (!prev) return { changed: [], removed: [], kept: [] };
  const old = new Map(prev.files.map((f) => [f.path, f]));
  const now = new Set(next.files.map((f) => f.path));
  const changed: string[] = [];
  const kept: string[] = [];
  for (const f of next.files) {
    const o = old.get(f.path);
    if (!o) continue;
    if (o.sha256 !== f.sha256 || o.bytes !== f.bytes) changed.push(f.path);
    else kept.push(f.path);
  }
  const removed = prev.files.map((f) => f.path).filter((p) => !now.has(p));
  return { changed, removed, kept };
}

/** What is on disk for one file: the size of the verified file (-1: none) and of its `.part` (-1: none). */
export interface FileOnDisk {
  finalBytes: number;
  partBytes: number;
}

export interface DownloadPlan {
  totalBytes: number;
  /** verified files kept */
  completeFiles: string[];
  /** bytes already present (verified files + partial prefixes, which are re-hashed before use) */
  presentBytes: number;
  /** bytes still to fetch */
  missingBytes: number;
  files: { file: ManifestFile; state: 'complete' | 'partial' | 'missing'; presentBytes: number }[];
}

/** `changed` files (see diffManifests) count as missing whatever is on disk. */
export function planDownload(manifest: Pick<ModelManifest, 'files'>, onDisk: Map<string, FileOnDisk>, changed: Iterable<string> = []): DownloadPlan {
  const invalid = new Set(changed);
  const files: DownloadPlan['files'] = [];
  let present = 0;
  let total = 0;
  for (const file of manifest.files) {
    total += file.bytes;
    const d = invalid.has(file.path) ? undefined : onDisk.get(file.path);
    if (d && d.finalBytes === file.bytes) {
      files.push({ file, state: 'complete', presentBytes: file.bytes });
      present += file.bytes;
    } else if (d && d.partBytes > 0 && d.partBytes <= file.bytes) {
      files.push({ file, state: 'partial', presentBytes: d.partBytes });
      present += d.partBytes;
    } else files.push({ file, state: 'missing', presentBytes: 0 });
  }
  return {
    totalBytes: total,
    completeFiles: files.filter((f) => f.state === 'complete').map((f) => f.file.path),
    presentBytes: present,
    missingBytes: total - present,
    files,
  };
}

export interface StorageEstimateLike {
  quota?: number;
  usage?: number;
}

/** Room to leave free beyond the model's bytes (OPFS bookkeeping, the manifest, rounding of quota estimates). */
export const QUOTA_MARGIN_BYTES = 16 * 1024 * 1024;

/** null when the model fits, else a message that names what is needed and what is available, in GB. */
export function quotaShortfall(neededBytes: number, estimate: StorageEstimateLike | undefined, what = 'this model'): string | null {
  if (!estimate || typeof estimate.quota !== 'number' || neededBytes <= 0) return null;
  const available = Math.max(0, estimate.quota - (estimate.usage ?? 0));
  if (neededBytes + QUOTA_MARGIN_BYTES <= available) return null;
  return (
    `Not enough storage for ${what}: it needs ${formatGB(neededBytes)} more, but the browser lets this site store only ` +
    `${formatGB(available)} more, ${formatGB(neededBytes + QUOTA_MARGIN_BYTES - available)} short (quota ${formatGB(estimate.quota)}, ${formatGB(estimate.usage ?? 0)} already used). ` +
    `Free disk space, delete a cached model or older videos under "Your videos", then try again.`
  );
}

/** An imported folder checked against its manifest: files the manifest names that are absent or of the wrong size, and files it does not name. */
export function diffFolder(manifest: Pick<ModelManifest, 'files'>, present: Map<string, number>): { missing: string[]; wrongSize: { path: string; expected: number; actual: number }[]; extra: string[] } {
  const named = new Set(manifest.files.map((f) => f.path));
  const missing: string[] = [];
  const wrongSize: { path: string; expected: number; actual: number }[] = [];
  for (const f of manifest.files) {
    const size = present.get(f.path);
    if (size === undefined) missing.push(f.path);
    else if (size !== f.bytes) wrongSize.push({ path: f.path, expected: f.bytes, actual: size });
  }
  const extra = [...present.keys()].filter((p) => p !== MANIFEST_NAME && !named.has(p)).sort();
  return { missing, wrongSize, extra };
}

/**
 * Paths of a picked/dropped folder relative to the folder: `webkitRelativePath` starts with the folder's own name
 * ("svd-q4f16/unet.onnx"); strip the common first segment when every path has it.
 */
export function relativePaths(paths: string[]): string[] {
  const split = paths.map((p) => p.replace(/^\/+/, '').split('/'));
  if (split.length > 0 && split.every((s) => s.length > 1 && s[0] === split[0][0])) return split.map((s) => s.slice(1).join('/'));
  return split.map((s) => s.join('/'));
}

/** The backoff before retry `n` (1-based): base·2^(n−1), capped, with ±20% jitter from `rand`. */
export function backoffMs(n: number, baseMs: number, capMs: number, rand: () => number = Math.random): number {
  const d = Math.min(capMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(d * (0.8 + 0.4 * rand()));
}

/** A model id usable as an OPFS directory name. */
export function sanitizeModelId(id: string): string {
  const s = id
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 80);
  if (!s) throw new Error(`"${id}" is not usable as a model id`);
  return s;
}
