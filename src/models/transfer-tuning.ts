/**
 * The transfer engine's knobs and report: TransferTuning with its defaults (timeouts, retries, flush and progress
 * intervals) and TransferStats, what a download or import did. Plain data shared by the engine, the download
 * worker's protocol and the UI-thread drivers.
 */
export interface TransferTuning {
  /** abort and resume a response that delivers no bytes for this long */
  stallTimeoutMs: number;
  /** failed attempts in a row (without progress) before giving up on a file */
  maxAttempts: number;
  /** re-fetches of a file whose sha256 did not match */
  maxCorruptRefetches: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** OPFS flush interval, bytes */
  flushEveryBytes: number;
  progressIntervalMs: number;
}

export const DEFAULT_TUNING: TransferTuning = {
  stallTimeoutMs: 20_000,
  maxAttempts: 6,
  maxCorruptRefetches: 2,
  backoffBaseMs: 1000,
  backoffCapMs: 15_000,
  flushEveryBytes: 16 << 20,
  progressIntervalMs: 100,
};

export interface TransferStats {
  /** bytes received over the network in this run */
  networkBytes: number;
  /** bytes found on disk at the start and kept (verified files + verified `.part` prefixes) */
  keptBytes: number;
  /** received bytes thrown away: corrupt files, or a server that ignored a Range request */
  discardedBytes: number;
  /** bytes re-read from `.part` files to restore the hash state after a reload */
  rehashedBytes: number;
  /** resumed requests (Range) after a cut or stall */
  resumes: number;
  /** files fetched again because their sha256 did not match */
  corruptRefetches: Record<string, number>;
  /** warnings for the user (e.g. extra files in an imported folder) */
  warnings: string[];
  files: number;
  ms: number;
}

/** Zeroed stats for a new run. */
export function newStats(): TransferStats {
  return { networkBytes: 0, keptBytes: 0, discardedBytes: 0, rehashedBytes: 0, resumes: 0, corruptRefetches: {}, warnings: [], files: 0, ms: 0 };
}
