/**
 * One progress bar for a Hub download: the stager's bytes (download) and the converter's (convert + verify) added,
 * with one speed and one ETA over their sum, so the bar moves steadily while both work at once. Pure.
 */
import { RateMeter, etaSeconds, type DownloadProgress } from '../models/progress.ts';

export class ProgressMerge {
  private stage?: DownloadProgress;
  private convert?: DownloadProgress;
  private readonly meter = new RateMeter(8000);
  private lastDone = 0;

  constructor(private readonly out: (p: DownloadProgress) => void, private readonly now: () => number = () => Date.now()) {}

  fromStager(p: DownloadProgress): void {
    this.stage = p;
    this.emit();
  }

  fromConverter(p: DownloadProgress): void {
    this.convert = p;
    this.emit();
  }

  snapshot(): DownloadProgress {
    const s = this.stage;
    const c = this.convert;
    const doneBytes = (s?.doneBytes ?? 0) + (c?.doneBytes ?? 0);
    const totalBytes = (s?.totalBytes ?? 0) + (c?.totalBytes ?? 0);
    const t = this.now();
    if (doneBytes > this.lastDone) this.meter.add(doneBytes - this.lastDone, t);
    this.lastDone = Math.max(this.lastDone, doneBytes);
    const rate = this.meter.rate(t);
    // the converter's phase once it works (converting, verifying, finishing); the stager's while the converter waits
    const converting = c && c.phase !== 'downloading' && c.phase !== 'checking' && c.phase !== 'manifest';
    const stagerBusy = s && s.phase !== 'done';
    const lead = converting ? c : stagerBusy ? s : c ?? s;
    return {
      phase: lead?.phase ?? 'manifest',
      doneBytes,
      totalBytes,
      bytesPerSecond: rate,
      etaSeconds: etaSeconds(totalBytes - doneBytes, rate),
      file: (stagerBusy ? s?.file : c?.file) ?? lead?.file,
      networkBytes: s?.networkBytes ?? 0,
      message: [c?.message && converting ? c.message : undefined, stagerBusy ? s?.message : undefined].filter(Boolean).join(' · ') || undefined,
    };
  }

  private emit(): void {
    this.out(this.snapshot());
  }
}
