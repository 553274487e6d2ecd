/** One progress bar for a model job (download, import, or Hub download + conversion): bytes, speed, ETA, file. */
import type { ReactNode } from 'react';
import type { ModelJob } from '../../store/slices/library.ts';
import { formatBytes, formatEta } from '../../common/format.ts';

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

export function ProgressLine({ job, testId }: { job: ModelJob; testId: string }): ReactNode {
  const p = job.progress;
  if (!p) return <div className="model-progress" data-testid={testId}>Starting…</div>;
  const pct = p.totalBytes > 0 ? (100 * p.doneBytes) / p.totalBytes : 0;
  return (
    <div className="model-progress" data-testid={testId}>
      <progress max={p.totalBytes || 1} value={p.doneBytes} aria-label="download progress" style={{ width: '100%' }} />
      <div>
        {formatBytes(p.doneBytes)} of {formatBytes(p.totalBytes)} ({pct.toFixed(0)}%)
        {p.bytesPerSecond > 0 && <> · {formatBytes(p.bytesPerSecond)}/s</>}
        {(p.phase === 'downloading' || p.phase === 'converting') && <> · {formatEta(p.etaSeconds)} left</>}
        {p.file && (
          <>
            {' '}
            · {p.file.path} ({p.file.index + 1}/{p.file.count})
          </>
        )}
      </div>
      {p.message && <div className="model-progress-message">{p.message}</div>}
    </div>
  );
}

