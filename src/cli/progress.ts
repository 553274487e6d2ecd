import { formatSeconds } from '../common/format.ts';

/** A one-line progress bar on stderr with rate and ETA; plain lines when stderr is not a terminal. */
export class ProgressBar {
  private readonly start = Date.now();
  private lastDraw = 0;
  private lastPlainPercent = -10;

  constructor(private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(done: number, total: number, detail = ''): void {
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < total) return;
    this.lastDraw = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const elapsed = (now - this.start) / 1000;
    const eta = fraction > 0 ? elapsed * (1 / fraction - 1) : NaN;
    const percent = Math.floor(fraction * 100);
    const text = `${this.label} ${percent.toString().padStart(3)}% ${detail}${Number.isFinite(eta) && fraction < 1 ? ` · ETA ${formatSeconds(eta)}` : ''}`;
    if (this.stream.isTTY) {
      const width = 24;
      const filled = Math.round(fraction * width);
      this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
    } else if (percent >= this.lastPlainPercent + 10 || fraction === 1) {
      this.lastPlainPercent = percent;
      this.stream.write(`${text}\n`);
    }
  }

  done(message: string): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.stream.write(`${message} (${formatSeconds((Date.now() - this.start) / 1000)})\n`);
  }
}


