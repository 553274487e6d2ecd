/**
 * What an in-tab conversion has finished, models/<id>/conversion.json: the graphs written so far for one commit at one
 * precision (and, for a model whose UNet comes from a second repository, that repository's commit and file: a new
 * commit of either makes the record stale, and the conversion starts over). The converter writes it after every graph;
 * the stager reads it to skip the weights of components already converted. Removed when the model is complete.
 */
import type { CompiledGraph } from '../compiler/compile.ts';
import type { ConversionStep } from '../compiler/convert.ts';
import type { GraphName, Precision, SamplerName } from '../contract/manifest.ts';
import type { HubListing } from '../hub/hub-api.ts';
import type { UnetReplacement } from '../hub/checkpoint-files.ts';
import type { FolderStore } from '../models/folder-store.ts';

export const CONVERSION_RECORD = 'conversion.json';

/** What a conversion converts: the base repository at a commit, at a precision, and where its UNet comes from. */
export interface ConversionKey {
  repo: string;
  commit: string;
  precision: Precision;
  /** a UNet from another repository: its id, the commit listed and the file's path */
  unet?: { repo: string; commit: string; path: string };
}

export interface ConversionRecord extends ConversionKey {
  graphs: Partial<Record<GraphName, CompiledGraph>>;
}

/** What both download workers of a Hub conversion are told: the base listing, the precision, the UNet's own source. */
export interface HubJobSource {
  listing: HubListing;
  precision: Precision;
  /** the UNet from a second repository (its listing and file) and the sampler it was trained for */
  unet?: UnetReplacement & { sampler: SamplerName };
}

export function conversionKey(job: HubJobSource): ConversionKey {
  const { listing, precision, unet } = job;
  return { repo: listing.repo, commit: listing.commit, precision, ...(unet ? { unet: { repo: unet.listing.repo, commit: unet.listing.commit, path: unet.path } } : {}) };
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

/** The record's graphs, when it describes this conversion (same repositories, commits, UNet file and precision). */
export function recordFor(text: string | null, key: ConversionKey): ConversionRecord | null {
  const r = parseRecord(text);
  if (!r || r.repo !== key.repo || r.commit !== key.commit || r.precision !== key.precision) return null;
  const [a, b] = [r.unet, key.unet];
  const sameUnet = a === undefined || b === undefined ? a === b : a.repo === b.repo && a.commit === b.commit && a.path === b.path;
  return sameUnet ? r : null;
}

export function filesOf(g: CompiledGraph) {
  return [g.model, ...g.externalData];
}

/** A step is done when the record lists its graph and every file of it is in the model's folder at its size. */
export async function isStepDone(record: ConversionRecord | null, folder: Pick<FolderStore, 'finalSize'>, step: Pick<ConversionStep, 'graph'>): Promise<boolean> {
  const g = record?.graphs[step.graph];
  if (!g) return false;
  for (const f of filesOf(g)) if ((await folder.finalSize(f.path)) !== f.bytes) return false;
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
