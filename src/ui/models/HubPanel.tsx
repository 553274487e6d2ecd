/**
 * "Get a real model": the official SVD checkpoints on the Hugging Face Hub (and any diffusers-layout repository),
 * downloaded and converted in this tab. Each entry says what it downloads, what it becomes, its licence and the
 * precision that fits this GPU; one progress bar covers download, conversion and verification. The access token for
 * gated repositories is kept in this browser only and sent to the Hub only. State: the library slice.
 */
import { useEffect, useId, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { HUB_CUSTOM_JOB, TOKENS_PAGE, hubEntryFacts, hubPrecision, type HubCheckpoint, type ModelJob, type ModelStore } from '../../store/slices/library.ts';
import { formatBytes } from '../../common/format.ts';
import { ProgressLine } from './ProgressLine.tsx';

/** The id of the panel's heading: the first-run tour's "Get the real model" brings the focus here. */
export const HUB_HEADING_ID = 'get-a-real-model';

function JobLine({ job, testId }: { job: ModelJob | undefined; testId: string }): ReactNode {
  if (!job) return null;
  return (
    <>
      {job.running && <ProgressLine job={job} testId={`hub-progress-${testId}`} />}
      {job.error && job.error.code !== 'cancelled' && (
        <div role="alert" className="model-error" data-testid={`hub-error-${testId}`}>
          {job.error.message}
        </div>
      )}
      {job.error?.code === 'cancelled' && <div className="model-note">{job.error.message}</div>}
      {!job.running && job.result && (
        <div className="model-note" data-testid={`hub-done-${testId}`}>
          Ready: downloaded, converted and verified ({formatBytes(job.result.stats.networkBytes)} downloaded in this run). Pick it in the model list.
        </div>
      )}
    </>
  );
}

export function HubPanel({ store }: { store: ModelStore }): ReactNode {
  const hub = useStore(store, (s) => s.hub);
  const jobs = useStore(store, (s) => s.jobs);
  const cached = useStore(store, (s) => s.cached);
  const actions = store.getState();
  const ids = { token: useId(), repo: useId(), precision: useId() };
  const precision = hubPrecision(hub);

  useEffect(() => {
    void store.getState().detectGpu();
  }, [store]);

  const entry = (c: HubCheckpoint) => {
    const { modelId: id, convertedBytes: converted, peakBytes, pageUrl, unet } = hubEntryFacts(c, precision);
    const job = jobs[id];
    const have = cached.find((m) => m.id === id);
    const link = (href: string, text: string) => (
      <a href={href} target="_blank" rel="noreferrer">
        {text}
      </a>
    );
    return (
      <li key={c.id} className="hub-entry" data-testid={`hub-entry-${c.id}`}>
        <strong>{c.label}</strong> · {link(pageUrl, c.repo)}
        {c.unet && unet && <> + UNet from {link(unet.pageUrl, c.unet.repo)}</>}
        <div className="model-note" data-testid={`hub-facts-${c.id}`}>
          Download ≈ {formatBytes(c.downloadBytes)} ({c.unet && unet ? `fp16 image encoder and VAE + the UNet, ${c.unet.path}, in ${unet.storage}; not ${c.repo}'s own UNet` : 'fp16 weights'}) · becomes ≈ {formatBytes(converted)} as {precision} · needs ≈ {formatBytes(peakBytes)} free while converting · {c.frames} frames at {c.resolution.width}×{c.resolution.height} ·{' '}
          {c.unet ? (
            <>
              licence: UNet: {c.unet.licence.name} ({link(c.unet.licence.url, c.unet.licence.url)}); image encoder and VAE ({c.repo}): {link(c.licence.url, c.licence.name)}
            </>
          ) : (
            <>licence: {link(c.licence.url, c.licence.name)}</>
          )}
        </div>
        {c.note && <div className="model-note">{c.note}</div>}
        {job?.running ? (
          <button data-testid={`hub-cancel-${c.id}`} onClick={() => actions.cancel(id)}>Cancel</button>
        ) : have?.complete ? (
          <span className="model-note">Stored in this browser.</span>
        ) : (
          <button data-testid={`hub-get-${c.id}`} onClick={() => void actions.getFromHub(c.id)}>
            {have ? 'Resume' : 'Get'}
          </button>
        )}
        <JobLine job={job} testId={c.id} />
      </li>
    );
  };

  const custom = jobs[HUB_CUSTOM_JOB];
  return (
    <div className="hub-panel" data-testid="hub-panel">
      <h3 id={HUB_HEADING_ID} tabIndex={-1}>Get a real model from Hugging Face</h3>
      <p className="model-note">
        The app downloads the official checkpoint's fp16 weights from the Hugging Face Hub and converts them here, in this tab (nothing is uploaded).
        The downloaded weights are deleted as each part is converted; a reload or a cut connection resumes where it stopped.
      </p>
      <label htmlFor={ids.precision}>Precision </label>
      <select id={ids.precision} data-testid="hub-precision" value={hub.precision} onChange={(e) => actions.setHubPrecision(e.target.value as typeof hub.precision)}>
        <option value="auto">Automatic ({hub.gpuF16 ? 'q4f16: this GPU has shader-f16' : hub.gpuF16 === false ? 'q4f32: this GPU has no shader-f16' : 'q4f32'})</option>
        <option value="q4f16">q4f16 (needs shader-f16)</option>
        <option value="q4f32">q4f32</option>
      </select>
      <ul className="hub-entries">{hub.checkpoints.map(entry)}</ul>
      <div className="hub-custom">
        <label htmlFor={ids.repo}>Another repository (diffusers layout) </label>
        <input id={ids.repo} data-testid="hub-repo" placeholder="owner/name or https://huggingface.co/owner/name" value={hub.repoInput} onChange={(e) => actions.setHubRepoInput(e.target.value)} />
        {custom?.running ? (
          <button data-testid="hub-cancel-custom" onClick={() => actions.cancel(HUB_CUSTOM_JOB)}>Cancel</button>
        ) : (
          <button data-testid="hub-get-custom" onClick={() => void actions.getFromHub()}>Get</button>
        )}
        <JobLine job={custom} testId="custom" />
      </div>
      <div className="hub-token">
        <label htmlFor={ids.token}>Hugging Face access token (for gated repositories) </label>
        <input id={ids.token} data-testid="hub-token" type="password" autoComplete="off" placeholder="hf_…" value={hub.token} onChange={(e) => actions.setHubToken(e.target.value)} />
        {hub.token && <button data-testid="hub-token-forget" onClick={() => actions.forgetHubToken()}>Forget</button>}
        <div className="model-note">
          Kept in this browser only and sent only to the Hub. Create a read token at <a href={TOKENS_PAGE} target="_blank" rel="noreferrer">{TOKENS_PAGE}</a>.
          {hub.notice && <> {hub.notice}</>}
        </div>
      </div>
    </div>
  );
}
