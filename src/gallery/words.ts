/** The gallery's messages: each names what is wrong and what to do. Pure (no DOM). */
import { formatBytes } from '../common/format.ts';

const WHEN = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });

/** "7 Dec 2026, 14:02" (local time) */
export function describeWhen(time: number): string {
  return time > 0 ? WHEN.format(new Date(time)) : 'an unknown date';
}

/** A stored result that cannot be used: what is wrong with it, and that the others are fine. */
export function damagedWords(createdAt: number, what: string): string {
  return `The result of ${describeWhen(createdAt)} is damaged (${what}): delete it; the other results are fine.`;
}

export function missingWords(): string {
  return 'This result is no longer stored in this browser (it may have been deleted in another tab, or the browser cleared the site\'s storage); the list is refreshed.';
}

export interface QuotaNumbers {
  needed: number;
  margin: number;
  available: number;
  quota: number;
  usage: number;
  /** what the gallery already takes */
  gallery: number;
}

export function quotaWords(n: QuotaNumbers): string {
  return (
    `Not enough storage to keep this video: it needs ${formatBytes(n.needed)} and ${formatBytes(n.margin)} kept free, but this browser lets the site store only ` +
    `${formatBytes(n.available)} more (quota ${formatBytes(n.quota)}, ${formatBytes(n.usage)} used, ` +
    `${formatBytes(n.gallery)} of it by Your videos). Nothing was written and your other videos are kept. ` +
    `Delete older results in Your videos or a model you no longer use, or free disk space; the video stays on screen, so Download MP4 keeps it now.`
  );
}

export function writeFailedWords(quota: boolean, detail: string): string {
  return quota
    ? `The browser ran out of storage while keeping this video (${detail}). What was written of it was removed and your other videos are kept. ` +
      'Delete older results in Your videos or a model you no longer use, or free disk space; the video stays on screen, so Download MP4 keeps it now.'
    : `This video could not be kept in this browser (${detail}). What was written of it was removed and your other videos are kept; the video stays on screen, so Download MP4 keeps it now.`;
}

export function unavailableWords(): string {
  return 'Your videos cannot be kept in this browser: it has no Origin Private File System (navigator.storage.getDirectory). Download each video to keep it, or use a current Chrome, Edge, Firefox or Safari.';
}
