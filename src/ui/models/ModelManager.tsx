/**
 * Model manager: the registry and the models cached in this browser, with sizes and status; download with one
 * progress bar (speed, ETA), cancel, resume, import a local folder, delete; every failure shown as a sentence.
 *
 * State lives in the store's model-library slice (src/store/slices/library.ts); pass your own with `store`, or the default
 * `modelStore` is used. `onSelect(id)` is offered for complete models when given.
 */
import { useEffect, useRef, type DragEvent, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { IMPORT_JOB, modelStore, type ModelStore } from '../../store/slices/library.ts';
import { formatBytes } from '../../common/format.ts';
import { describeModelRow, type AppModelFacts, type ModelRow, type ReadmeSection } from '../../store/model-rows.ts';
import { ProgressLine } from './ProgressLine.tsx';
import { HubPanel } from './HubPanel.tsx';

export interface ModelManagerProps {
  store?: ModelStore;
  onSelect?: (id: string) => void;
  selectedId?: string;
  /** the app's models (labels as the header shows them, which are bundled with the app) */
  appModels?: readonly AppModelFacts[];
}

type DirectoryPicker = (o?: { mode?: 'read' | 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;

/** Where README.md is published (a build setting, VITE_README_URL); without it the section is named, not linked. */
const README_URL = (import.meta.env.VITE_README_URL as string | undefined)?.trim() || undefined;

/** A README section: a link where the README is published, else its title to look up. */
export function ReadmeLink({ section }: { section: ReadmeSection }): ReactNode {
  const text = `README: ${section.title}`;
  return README_URL ? <a href={`${README_URL}#${section.anchor}`} target="_blank" rel="noreferrer">{text}</a> : <span>{text}</span>;
}

export function ModelManager({ store = modelStore, onSelect, selectedId, appModels }: ModelManagerProps): ReactNode {
  const records = useStore(store, (s) => s.records);
  const cached = useStore(store, (s) => s.cached);
  const jobs = useStore(store, (s) => s.jobs);
  const storage = useStore(store, (s) => s.storage);
  const actions = store.getState();
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    void store.getState().refresh();
  }, [store]);

  const rows: ModelRow[] = records.map((r) => ({ id: r.id, record: r, cached: cached.find((c) => c.id === r.id) }));
  for (const c of cached) if (!records.some((r) => r.id === c.id)) rows.push({ id: c.id, cached: c });

  const importJob = jobs[IMPORT_JOB];
  const picker = (globalThis as unknown as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;

  const pickFolder = async () => {
    if (picker) {
      try {
        const dir = await picker({ mode: 'read', id: 'svd-web-model' });
        await actions.importFolder(dir);
      } catch (e) {
        if ((e as DOMException).name !== 'AbortError') throw e; // the user closed the picker
      }
    } else fileInput.current?.click();
  };

  const onDrop = async (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    const item = [...e.dataTransfer.items].find((i) => i.kind === 'file');
    const getHandle = (item as unknown as { getAsFileSystemHandle?: () => Promise<FileSystemHandle | null> } | undefined)?.getAsFileSystemHandle;
    if (item && getHandle) {
      const h = await getHandle.call(item);
      if (h?.kind === 'directory') return actions.importFolder(h as FileSystemDirectoryHandle);
    }
    const files = [...e.dataTransfer.files];
    if (files.length > 1) return actions.importFolder(files);
    store.setState((s) => ({
      jobs: { ...s.jobs, [IMPORT_JOB]: { kind: 'import', running: false, error: { code: 'import', message: 'Drop the model folder itself (the folder that holds manifest.json), or use “Import folder…”.' } } },
    }));
  };

  return (
    <section className="model-manager" data-testid="model-manager">
      <h2>Models</h2>
      <p className="model-storage" data-testid="model-storage">
        Storage for this site: {storage.usage !== undefined ? formatBytes(storage.usage) : '?'} used
        {storage.quota !== undefined && <> of {formatBytes(storage.quota)} allowed</>}
        {storage.persisted === true && ' · persistent (the browser will not evict it)'}
        {storage.persisted === false && ' · not persistent (the browser may evict models when disk space runs low)'}
      </p>
      <h3 className="model-list-heading">Your models</h3>
      <table className="model-table">
        <thead>
          <tr>
            <th>Model</th>
            <th>Precision</th>
            <th>Frames</th>
            <th>Video size</th>
            <th>Storage</th>
            <th>Status</th>
            <th><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const r = row.record;
            const c = row.cached;
            const job = jobs[row.id];
            const m = c?.manifest;
            const words = describeModelRow(row, job, { selectedId, appModels });
            const size = m?.totalBytes ?? (c?.totalBytes || undefined) ?? r?.bytes;
            return (
              <tr key={row.id} data-testid={`model-row-${row.id}`} aria-selected={selectedId === row.id}>
                <td data-label="Model">
                  <strong data-testid={`model-label-${row.id}`}>{words.label}</strong>
                  {words.demo && <span className="badge"> demo</span>}
                  <div className="model-note" data-testid={`model-origin-${row.id}`}>
                    {words.origin}
                    {words.links.map((l) => (
                      <span key={l.href}>
                        {' · '}
                        <a href={l.href} target="_blank" rel="noreferrer">{l.text}</a>
                      </span>
                    ))}
                    {' · '}
                    <ReadmeLink section={words.readme} />
                  </div>
                  {r?.requiredFeatures.length ? <div className="model-note">needs GPU feature: {r.requiredFeatures.join(', ')}</div> : null}
                </td>
                <td data-label="Precision">{m?.precision ?? r?.precision ?? '?'}</td>
                <td data-label="Frames">{m?.pipeline.defaultFrames ?? r?.frames ?? '?'}</td>
                <td data-label="Video size">{m ? `${m.pipeline.defaultWidth}×${m.pipeline.defaultHeight}` : r ? `${r.resolution.width}×${r.resolution.height}` : '?'}</td>
                <td data-label="Storage" data-testid={`model-size-${row.id}`}>
                  {size !== undefined ? `${!m && r?.approximate && !c?.totalBytes ? '≈ ' : ''}${formatBytes(size)}` : '?'}
                  {c && !c.complete && c.bytes > 0 && <div className="model-note">{formatBytes(c.bytes)} stored</div>}
                </td>
                <td data-label="Status" data-testid={`model-status-${row.id}`}>
                  {words.status}
                  {job?.running && <ProgressLine job={job} testId={`model-progress-${row.id}`} />}
                  {job?.error && job.error.code !== 'cancelled' && (
                    <div role="alert" className="model-error" data-testid={`model-error-${row.id}`}>
                      {job.error.message}
                    </div>
                  )}
                  {job?.error?.code === 'cancelled' && <div className="model-note">{job.error.message}</div>}
                </td>
                <td className="model-actions">
                  {job?.running ? (
                    <button data-testid={`model-cancel-${row.id}`} onClick={() => actions.cancel(row.id)}>
                      Cancel
                    </button>
                  ) : (
                    <>
                      {words.use && onSelect && (
                        <button data-testid={`model-use-${row.id}`} onClick={() => onSelect(row.id)}>
                          Use
                        </button>
                      )}
                      {words.download && (
                        <button data-testid={`model-download-${row.id}`} onClick={() => void actions.download(row.id)}>
                          {words.download}
                        </button>
                      )}
                      {words.remove && (
                        <button data-testid={`model-delete-${row.id}`} onClick={() => void actions.remove(row.id)}>
                          Delete
                        </button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <HubPanel store={store} />

      <div className="model-import" data-testid="model-import" onDragOver={(e) => e.preventDefault()} onDrop={(e) => void onDrop(e)}>
        <button data-testid="model-import-button" disabled={importJob?.running} onClick={() => void pickFolder()}>
          Import folder…
        </button>{' '}
        or drop a model folder here (the output of <code>svd-web convert</code>: manifest.json, the .onnx files and their data shards).
        <input
          ref={fileInput}
          type="file"
          data-testid="model-import-input"
          multiple
          hidden
          {...({ webkitdirectory: '' } as Record<string, string>)}
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length) void actions.importFolder(files);
          }}
        />
        {importJob?.running && <ProgressLine job={importJob} testId="model-progress-import" />}
        {importJob?.error && importJob.error.code !== 'cancelled' && (
          <div role="alert" className="model-error" data-testid="model-error-import">
            {importJob.error.message}
          </div>
        )}
        {importJob?.result && !importJob.running && (
          <div data-testid="model-import-done">
            Imported {cached.find((c) => c.id === importJob.result!.id)?.source?.label ?? importJob.result.id}: every file verified.{importJob.result.stats.warnings.length ? ` (${importJob.result.stats.warnings.join('; ')})` : ''}
          </div>
        )}
      </div>
    </section>
  );
}

export default ModelManager;
