/**
 * What an in-tab conversion has finished, models/<id>/conversion.json: the graphs written so far for one commit at one
 * precision. The converter writes it after every graph; the stager reads it to skip the weights of components
 * already converted. Removed when the model is complete.
 */
import type { CompiledGraph } from '../compiler/compile.ts';
import type { ConversionStep } from '../compiler/convert.ts';
import type { GraphName, Precision } from '../contract/manifest.ts';
import { fileSizeAt } from '../models/opfs.ts';

export const CONVERSION_RECORD = 'conversion.json';

export interface ConversionRecord {
  repo: string;
  commit: string;
  precision: Precision;
  graphs: Partial<Record<GraphName, CompiledGraph>>;
}

export function parseRecord(text: string | null): ConversionRecord | null {
  if (!text) return null;
  try {
    const r = JSON.parse(text) as ConversionRecord;
    return r && typeof r.commit === 'string' && r.graphs && typeof r.graphs === 'object' ? r : null;
  } catch {
    return null;
  }
}

/** The record's graphs, when it describes this conversion (same repository, commit and precision). */
export function recordFor(text: string | null, repo: string, commit: string, precision: Precision): ConversionRecord | null {
  const r = parseRecord(text);
  return r && r.repo === repo && r.commit === commit && r.precision === precision ? r : null;
}

export function filesOf(g: CompiledGraph) {
  return [g.model, ...g.externalData];
}

/** A step is done when the record lists its graph and every file of it is in the folder at its size. */
export async function isStepDone(record: ConversionRecord | null, dir: FileSystemDirectoryHandle, step: Pick<ConversionStep, 'graph'>): Promise<boolean> {
  const g = record?.graphs[step.graph];
  if (!g) return false;
  for (const f of filesOf(g)) if ((await fileSizeAt(dir, f.path)) !== f.bytes) return false;
  return true;
}

/** Polls until `check` holds (OPFS has no change events); rejects when `signal` aborts. */
export async function waitUntil(check: () => Promise<boolean>, signal: AbortSignal, onAbort: () => Error, everyMs = 200): Promise<void> {
  while (!(await check())) {
    if (signal.aborted) throw onAbort();
    await new Promise((r) => setTimeout(r, everyMs));
  }
  if (signal.aborted) throw onAbort();
}
