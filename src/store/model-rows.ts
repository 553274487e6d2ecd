/**
 * The model manager's rows in words (pure; unit-tested in Node): each model's name as the rest of the app shows it,
 * where it comes from (bundled with the app, imported from a folder, converted here from Hugging Face, downloaded from
 * a host) with its model page and the README section that explains it, its state, and only the actions that make
 * sense for it (no "Download" where nothing hosts the model). Also a model job's progress line, which says
 * "Connecting…" until the sizes are known instead of "0 B of 0 B".
 */
import { formatBytes, formatEta } from '../common/format.ts';
import type { CachedModel, ModelJob, ModelRecord } from './slices/library.ts';

/** A model as the app store knows it (its label in the header and the model list; bundled = served with the app). */
export interface AppModelFacts {
  id: string;
  label: string;
  demo?: boolean;
  bundled: boolean;
}

export interface ModelRow {
  id: string;
  record?: ModelRecord;
  cached?: CachedModel;
}

export interface RowContext {
  selectedId?: string;
  /** the app's models; absent (a page without the app store): the demo counts as bundled */
  appModels?: readonly AppModelFacts[];
}

/** A section of README.md, for "how to get one" links. */
export interface ReadmeSection {
  title: string;
  anchor: string;
}

export const README_SECTIONS = {
  quickStart: { title: 'Quick start', anchor: 'quick-start' },
  realModel: { title: 'Getting a real model', anchor: 'getting-a-real-model' },
} as const satisfies Record<string, ReadmeSection>;

export interface ModelRowWords {
  label: string;
  demo: boolean;
  /** where the model comes from, in words */
  origin: string;
  /** its page(s) on Hugging Face */
  links: { href: string; text: string }[];
  /** the README section that tells how to get (another) one */
  readme: ReadmeSection;
  status: string;
  inUse: boolean;
  /** offer "Use": it can run and is not the one in use */
  use: boolean;
  /** the download button's words; absent when nothing hosts the model or it is complete */
  download?: 'Download' | 'Resume';
  /** offer "Delete": a copy is stored in this browser */
  remove: boolean;
}

export const PHASE_LABEL: Record<string, string> = {
  manifest: 'Fetching the manifest…',
  checking: 'Checking files…',
  verifying: 'Verifying the bytes kept from before…',
  downloading: 'Downloading',
  retrying: 'Reconnecting',
  converting: 'Converting',
  finishing: 'Finishing…',
  done: 'Done',
};

const HF = 'https://huggingface.co';

function hostOf(url: string): string {
  try {
    return new URL(url, 'http://this-site/').host.replace('this-site', 'this site');
  } catch {
    return url;
  }
}

function origin(row: ModelRow, demo: boolean, bundled: boolean): Pick<ModelRowWords, 'origin' | 'links' | 'readme'> {
  const source = row.cached?.source;
  if (source?.kind === 'hub' && source.hub) {
    const { repo, precision, unet } = source.hub;
    const links = [{ href: `${HF}/${repo}`, text: repo }, ...(unet ? [{ href: `${HF}/${unet.repo}`, text: unet.repo }] : [])];
    return {
      origin: `Converted in this tab from Hugging Face (${repo}${unet ? `, its UNet from ${unet.repo}` : ''}), as ${precision}`,
      links,
      readme: README_SECTIONS.realModel,
    };
  }
  if (source?.kind === 'import') return { origin: 'Imported from a folder on this device (made by svd-web convert)', links: [], readme: README_SECTIONS.realModel };
  if (demo) {
    const where = source ? 'Bundled with the app; a copy is stored in this browser' : bundled ? 'Bundled with the app' : 'Not included in this copy of the app';
    return { origin: `${where}. Random weights: its video is noise, for trying the app`, links: [], readme: README_SECTIONS.quickStart };
  }
  const url = source?.baseUrl ?? row.record?.baseUrl;
  if (url) return { origin: `${source ? 'Downloaded' : 'Hosted'} at ${hostOf(url)}`, links: [], readme: README_SECTIONS.realModel };
  return { origin: 'Stored in this browser', links: [], readme: README_SECTIONS.realModel };
}

/** What the model manager shows for one row. */
export function describeModelRow(row: ModelRow, job: ModelJob | undefined, ctx: RowContext = {}): ModelRowWords {
  const { record: r, cached: c } = row;
  const app = ctx.appModels?.find((m) => m.id === row.id);
  const demo = !!(r?.demo || app?.demo);
  const bundled = app ? app.bundled : ctx.appModels ? false : !!r?.demo;
  const inUse = ctx.selectedId === row.id;
  const from = origin(row, demo, bundled);
  const hosted = c?.source?.kind === 'hub' || !!c?.source?.baseUrl || (!!r?.baseUrl && !demo);
  const runnable = !!c?.complete || (demo && bundled && !c);

  let status: string;
  if (job?.running) status = job.kind === 'import' ? 'Importing…' : PHASE_LABEL[job.progress?.phase ?? 'manifest'] ?? 'Working…';
  else if (c?.complete) status = `${inUse ? 'In use · ' : ''}Ready (verified, stored in this browser)`;
  else if (demo && !c) status = bundled ? `${inUse ? 'In use · ' : ''}Ready: comes with the app, nothing to download` : 'Not available: this copy of the app has no demo model';
  else if (c?.problem) status = `Damaged: ${c.problem}`;
  else if (c?.source?.kind === 'hub') status = `Paused while getting it from ${c.source.hub?.repo ?? 'Hugging Face'} — Resume continues where it stopped`;
  else if (c && c.totalBytes > 0) status = `Paused at ${formatBytes(Math.min(c.bytes, c.totalBytes))} of ${formatBytes(c.totalBytes)} — resume to continue`;
  else if (c) status = 'Incomplete';
  else status = 'Not downloaded';

  return {
    label: app?.label ?? r?.label ?? c?.source?.label ?? row.id,
    demo,
    ...from,
    status,
    inUse,
    use: runnable && !inUse,
    download: !c?.complete && hosted ? (c ? 'Resume' : 'Download') : undefined,
    remove: !!c,
  };
}

/**
 * A model job's progress in words: bytes, percentage, speed, time left and the file, once the sizes are known;
 * before that (the request is still connecting) "Connecting…", not "0 B of 0 B".
 */
export function progressWords(job: Pick<ModelJob, 'kind' | 'progress'>): { known: boolean; text: string } {
  const p = job.progress;
  if (!p || p.totalBytes <= 0) {
    if (p?.phase === 'retrying') return { known: false, text: 'Reconnecting…' };
    return { known: false, text: job.kind === 'import' ? 'Reading the folder…' : 'Connecting…' };
  }
  const pct = (100 * p.doneBytes) / p.totalBytes;
  let text = `${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)} (${pct.toFixed(0)}%)`;
  if (p.bytesPerSecond > 0) text += ` · ${formatBytes(p.bytesPerSecond)}/s`;
  if (p.phase === 'downloading' || p.phase === 'converting') text += ` · ${formatEta(p.etaSeconds)} left`;
  if (p.file) text += ` · ${p.file.path} (${p.file.index + 1}/${p.file.count})`;
  return { known: true, text };
}
