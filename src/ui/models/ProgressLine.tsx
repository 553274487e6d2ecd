/**
 * One progress bar for a model job (download, import, or Hub download + conversion): bytes, speed, ETA, file; while
 * the sizes are not known yet (still connecting), a bar without a value and "Connecting…".
 */
import type { ReactNode } from 'react';
import type { ModelJob } from '../../store/slices/library.ts';
import { progressWords } from '../../store/model-rows.ts';

export function ProgressLine({ job, testId }: { job: ModelJob; testId: string }): ReactNode {
  const p = job.progress;
  const words = progressWords(job);
  return (
    <div className="model-progress" data-testid={testId} data-known={words.known}>
      {words.known && p ? (
        <progress max={p.totalBytes || 1} value={p.doneBytes} aria-label="download progress" style={{ width: '100%' }} />
      ) : (
        <progress aria-label="download progress" style={{ width: '100%' }} />
      )}
      <div>{words.text}</div>
      {p?.message && <div className="model-progress-message">{p.message}</div>}
    </div>
  );
}
