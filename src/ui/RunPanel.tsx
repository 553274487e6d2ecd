/**
 * Where the video is made (and why), the Segmind key, Generate/Cancel, one progress bar, errors in plain words.
 * Generate, the work/time line and the progress form the action bar: in the card on wide screens, pinned to the
 * bottom of the window on narrow ones (styles.css), so they stay in reach without scrolling past every setting.
 */
import { useEffect, useId, useRef, useState, type RefObject } from 'react';
import { BACKEND_CHOICES, type BackendChoice } from '../store/backend.ts';
import { formatBytes, formatDuration, formatTimeLeft } from '../common/format.ts';
import { actions, useApp, useView } from '../store/index.ts';
import { workWords } from '../store/estimate.ts';

export function RunPanel() {
  const view = useView();
  const { job, error } = useApp((s) => ({ job: s.job, error: s.error }));
  const generateRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const barRef = useRef<HTMLDivElement>(null);
  const blockerId = useId();
  useBarHeight(barRef);

  // Keep keyboard focus sensible: on Cancel while running, back on Generate afterwards.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (view.running && !wasRunning.current && document.activeElement === generateRef.current) cancelRef.current?.focus();
    if (!view.running && wasRunning.current && document.activeElement === cancelRef.current) generateRef.current?.focus();
    wasRunning.current = view.running;
  }, [view.running]);

  return (
    <section className="card run" aria-labelledby="run-heading">
      <h2 id="run-heading"><span className="step" aria-hidden="true">3</span>Make the video</h2>
      <BackendPicker />
      <div className="action-bar" data-testid="action-bar" ref={barRef}>
        <div className="actions">
          <button
            ref={generateRef}
            type="button"
            className="button primary big"
            data-testid="generate"
            onClick={() => void actions().generate()}
            aria-disabled={!view.canGenerate}
            aria-describedby={view.canGenerate ? undefined : blockerId}
          >
            {view.running ? 'Generating…' : 'Generate video'}
          </button>
          {view.running && (
            <button ref={cancelRef} type="button" className="button danger" data-testid="cancel" onClick={() => actions().cancel()}>Cancel</button>
          )}
        </div>
        <WorkLine />
        {!view.canGenerate && !view.running && <p id={blockerId} className="blocker" data-testid="blocker">{view.blocker}</p>}
        <Progress />
        {error && (
          <p className="bar-error">
            {error.title}. <a href={`#${ERROR_ID}`}>What happened</a>
          </p>
        )}
      </div>
      <div aria-live="assertive" className="error-slot">
        {error && (
          <div className="error-box" role="alert" data-testid="error" id={ERROR_ID}>
            <p className="error-title">{error.title}{error.status ? <span className="muted"> · HTTP {error.status}</span> : null}</p>
            <p>{error.message}</p>
            <div className="row">
              {error.kind === 'unauthorized' && (
                <button type="button" className="button small" onClick={() => document.getElementById('segmind-key')?.focus()}>Edit the key</button>
              )}
              <button type="button" className="button ghost small" onClick={() => actions().dismissError()}>Dismiss</button>
            </div>
          </div>
        )}
      </div>
      {job.phase === 'cancelled' && <p className="muted" data-testid="cancelled">Cancelled. Nothing was saved; change the settings or press Generate again.</p>}
    </section>
  );
}

const ERROR_ID = 'run-error';

/**
 * The action bar's height in --action-bar-height on the document, so that where the bar is pinned to the bottom of
 * the window (narrow screens) the page leaves room for it below the last card.
 */
function useBarHeight(ref: RefObject<HTMLElement | null>) {
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const root = document.documentElement;
    const update = () => root.style.setProperty('--action-bar-height', `${Math.ceil(el.getBoundingClientRect().height)}px`);
    const observer = new ResizeObserver(update);
    observer.observe(el);
    update();
    return () => {
      observer.disconnect();
      root.style.removeProperty('--action-bar-height');
    };
  }, [ref]);
}

/** What a local run will do (steps × UNet calls, FLOPs) and, once this device is measured, how long it will take. */
function WorkLine() {
  const estimate = useView().estimate;
  if (!estimate) return null;
  const words = workWords(estimate);
  return (
    <p className="work-line" data-testid="work-line">
      <span data-testid="work">{words.work}</span>
      <span className="muted" data-testid="work-time">{words.time}</span>
    </p>
  );
}

function BackendPicker() {
  const view = useView();
  const { choice, models, modelId, modelsStatus, apiKey, credits, endpoint, gpu } = useApp((s) => ({
    choice: s.backendChoice, models: s.models, modelId: s.modelId, modelsStatus: s.modelsStatus,
    apiKey: s.apiKey, credits: s.remainingCredits, endpoint: s.segmindEndpoint, gpu: s.probe.info?.device === 'webgpu' ? s.probe.info : undefined,
  }));
  const [showKey, setShowKey] = useState(false);
  const ids = { backend: useId(), model: useId(), reason: useId(), keyHelp: useId() };
  const d = view.decision;
  const needsKey = d.backend === 'segmind' || choice === 'segmind';
  return (
    <div className="backend">
      <div className="field">
        <label htmlFor={ids.backend} className="field-label">Run on</label>
        <select id={ids.backend} value={choice} onChange={(e) => actions().setBackendChoice(e.target.value as BackendChoice)} disabled={view.running} aria-describedby={ids.reason} data-testid="backend-select">
          {BACKEND_CHOICES.map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
        </select>
      </div>
      <div className={`decision${d.ready ? ' ready' : ''}${d.slow ? ' slow' : ''}`} id={ids.reason} data-testid="backend-decision">
        <p className="decision-label"><span className="dot" aria-hidden="true" />{d.label}{d.slow && <span className="badge warn">slow</span>}</p>
        <p className="muted">{d.reason}</p>
      </div>
      {gpu?.maxBufferSize !== undefined && (
        <p className="help" data-testid="device-limits">
          {gpu.adapter && <>GPU: {[gpu.adapter.vendor, gpu.adapter.architecture].filter(Boolean).join(' ') || 'unnamed adapter'}{gpu.adapter.isFallbackAdapter ? ' (software)' : ''}; </>}
          {gpu.features.includes('shader-f16') ? 'runs fp16 and fp32 models' : 'no shader-f16, so fp32 (q4f32) models only'}; takes buffers up to{' '}
          {formatBytes(Math.min(gpu.maxBufferSize, gpu.maxStorageBufferBindingSize ?? Infinity))} (each request is checked against it before it runs);
          browsers do not tell a GPU&apos;s memory.
          {gpu.attention && <span data-testid="device-attention"> Attention: {gpu.attention.kind === 'fused' ? 'the fused kernel' : 'chunked'}, because {gpu.attention.why}.</span>}
        </p>
      )}
      {(d.backend === 'local' || choice === 'auto') && (
        <div className="field">
          <label htmlFor={ids.model} className="field-label">Model</label>
          {models.length > 0 ? (
            <select id={ids.model} value={view.model?.id ?? ''} onChange={(e) => actions().setModel(e.target.value)} disabled={view.running} data-testid="model-select">
              {models.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
            </select>
          ) : (
            <p className="muted" id={ids.model}>{modelsStatus === 'pending' ? 'Looking for models…' : 'No model on this device yet: add one under Models.'}</p>
          )}
          {view.model?.note && <p className="help">{view.model.note}</p>}
          {modelId && !models.some((m) => m.id === modelId) && models.length > 0 && <p className="help">Your last model is not available; using {view.model?.label}.</p>}
        </div>
      )}
      {needsKey && (
        <div className="field">
          <label htmlFor="segmind-key" className="field-label">Segmind API key</label>
          <div className="row">
            <input
              id="segmind-key" type={showKey ? 'text' : 'password'} value={apiKey} autoComplete="off" spellCheck={false}
              placeholder="SG_…" onChange={(e) => actions().setApiKey(e.target.value)} aria-describedby={ids.keyHelp} disabled={view.running}
              data-testid="api-key"
            />
            <button type="button" className="button ghost small" onClick={() => setShowKey((v) => !v)} aria-pressed={showKey}>{showKey ? 'Hide' : 'Show'}</button>
            <button type="button" className="button ghost small" onClick={() => actions().forgetApiKey()} disabled={!apiKey || view.running} data-testid="forget-key">Forget key</button>
          </div>
          <p id={ids.keyHelp} className="help">
            Kept only in this browser (this site's local storage) and sent only to Segmind{endpoint ? ` (test endpoint ${endpoint})` : ''}. Each video is billed to your Segmind account.
          </p>
          {credits !== undefined && <p className="credits" data-testid="credits">Segmind credits left: <strong>{credits}</strong></p>}
        </div>
      )}
    </div>
  );
}

function Progress() {
  const job = useApp((s) => s.job);
  const running = useView().running;
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [running]);
  void tick;
  // Announce stage changes (not every step) to screen readers.
  const [announce, setAnnounce] = useState('');
  const lastPhase = useRef(job.phase);
  useEffect(() => {
    if (job.phase !== lastPhase.current) {
      lastPhase.current = job.phase;
      setAnnounce(job.phase === 'done' ? 'The video is ready.' : job.label);
    }
  }, [job.phase, job.label]);

  const show = running || job.phase === 'done';
  const elapsed = job.startedAt ? (job.finishedAt ?? Date.now()) - job.startedAt : 0;
  const indeterminate = job.fraction < 0;
  const pct = Math.round(Math.max(0, job.fraction) * 100);
  const eta = formatTimeLeft(job.etaSeconds);
  const facts = running
    ? [indeterminate ? '' : `${pct}%`, eta, elapsed > 0 ? `${formatDuration(elapsed)} so far` : '']
    : [elapsed > 0 ? `in ${formatDuration(elapsed)}` : ''];
  return (
    <div className="progress" data-testid="progress" data-phase={job.phase} hidden={!show}>
      <div className="progress-head">
        <span className="progress-label" data-testid="progress-label">{job.label}</span>
        <span className="muted">{facts.filter(Boolean).join(' · ')}</span>
      </div>
      <div
        className={`bar${indeterminate ? ' indeterminate' : ''}`}
        role="progressbar"
        aria-label="Progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={indeterminate ? undefined : pct}
        aria-valuetext={`${job.label}${eta ? `, ${eta}` : ''}`}
      >
        <div className="bar-fill" style={{ width: indeterminate ? undefined : `${pct}%` }} />
      </div>
      <p className="visually-hidden" aria-live="polite">{announce}</p>
    </div>
  );
}
