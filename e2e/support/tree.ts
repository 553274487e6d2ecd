/** A folder on disk read whole (small test checkpoints and conversions), and sha256 in hex. */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every file under `root`, by its path relative to `root` ('/'-separated). */
export function readTree(root: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(root, p).split('\\').join('/'), new Uint8Array(readFileSync(p)));
    }
  };
  walk(root);
  return out;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
