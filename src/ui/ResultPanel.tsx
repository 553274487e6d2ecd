/** Frames as they are decoded, the looping video, the seed used, downloads (MP4/GIF/WebM) and copy as base64. */
import { memo, useEffect, useRef, useState } from 'react';
import { formatBytes, formatDuration } from '../common/format.ts';
import { actions, useApp, useView } from '../store/index.ts';
import type { ExportFormat, FrameSlot, ResultState } from '../store/app-store.ts';
import { LOOP_MODES, loopLabel, type LoopMode } from '../video/clips.ts';

export function ResultPanel() {
  const { frames, result, job, exports, notice, fallback, loopMode, loopPreview, extending } = useApp((s) => ({
    frames: s.frames, result: s.result, job: s.job, exports: s.exports, notice: s.notice, fallback: s.base64Fallback,
    loopMode: s.loopMode, loopPreview: s.loopPreview, extending: s.extending,
  }));
  const looped = loopMode !== 'none' && loopPreview?.status === 'done' && loopPreview.url ? loopPreview : undefined;
  const playing = looped ? { url: looped.url!, frames: looped.frameCount!, size: looped.blob!.size } : result && { url: result.url, frames: result.frameCount, size: result.blob.size };
  const suffix = looped ? `-${loopMode}` : '';
  const show = frames.length > 0 || result !== undefined;
  return (
    <section className="card result" aria-labelledby="result-heading" data-testid="result-panel">
      <h2 id="result-heading"><span className="step" aria-hidden="true">4</span>Video</h2>
      {!show && <p className="muted empty-result">Your video appears here. Frames fill in as they are decoded.</p>}
      {extending && <p className="muted" data-testid="extending">Continuing the {extending.videoFrames}-frame video from frame {extending.fromFrame + 1}: the new clip joins it when it is done.</p>}
      {frames.length > 0 && <FrameStrip frames={frames} />}
      {result && playing && (
        <>
          <video
            key={playing.url}
            className="video"
            data-testid="result-video"
            data-loop-mode={looped ? loopMode : 'none'}
            src={playing.url}
            loop
            autoPlay
            muted
            playsInline
            controls
            aria-label={`Generated video, ${playing.frames} frames at ${result.fps} fps${looped ? `, ${loopMode}` : ''}`}
          />
          <LoopChoice result={result} mode={loopMode} status={loopPreview?.status} error={loopPreview?.error} />
          <dl className="facts">
            <div><dt>Made on</dt><dd>{result.backend === 'segmind' ? 'Segmind' : result.device === 'wasm' ? 'this device (CPU)' : 'this device (GPU)'} in {formatDuration(result.elapsedMs)}</dd></div>
            <div><dt>Size</dt><dd data-testid="result-size">{result.width ? `${result.width}×${result.height}, ` : ''}{playing.frames} frames at {result.fps} fps ({(playing.frames / result.fps).toFixed(2)} s), {formatBytes(playing.size)}</dd></div>
            {result.clips.length > 1 && (
              <div><dt>Clips</dt><dd data-testid="result-clips">{result.clips.length} joined ({result.clips.map((c) => c.seed ?? '?').join(', ')} as seeds); each continues from a frame of the one before, which it does not repeat</dd></div>
            )}
            {result.seed !== undefined && (
              <div>
                <dt>Seed used</dt>
                <dd>
                  <span data-testid="seed-used">{result.seed}</span>{' '}
                  <button type="button" className="button ghost small" onClick={() => actions().reuseSeed()} data-testid="reuse-seed">Reuse this seed</button>
                </dd>
              </div>
            )}
            {result.cost !== undefined && <div><dt>Cost</dt><dd>{result.cost} credits</dd></div>}
          </dl>
          <div className="downloads" role="group" aria-label="Download and copy">
            <a className="button primary" href={playing.url} download={`svd-video-${result.seed ?? 'result'}${suffix}.mp4`} data-testid="download-mp4">Download MP4</a>
            {(['gif', 'webm'] as ExportFormat[]).map((f) => <ExportButton key={f} format={f} state={exports[f]} seed={result.seed} framesReady={frames.length > 0 && frames.every(Boolean)} />)}
            <button type="button" className="button" onClick={() => void actions().copyBase64()} data-testid="copy-base64">Copy as base64</button>
          </div>
          <ContinueVideo result={result} busy={job.phase !== 'done' && job.phase !== 'idle' && job.phase !== 'error' && job.phase !== 'cancelled'} />
        </>
      )}
      <p className="notice" aria-live="polite" data-testid="notice">{notice ?? ''}</p>
      {fallback && (
        <label className="fallback">
          <span>Base64 of the video (select all and copy)</span>
          <textarea readOnly value={fallback} rows={4} onFocus={(e) => e.currentTarget.select()} />
        </label>
      )}
      {job.phase === 'done' && result?.timings && (
        <details className="timings">
          <summary>Timings</summary>
          <p className="muted">
            load {formatDuration(result.timings.load)}, encode {formatDuration(result.timings.encode)}, denoise {formatDuration(result.timings.denoise)}, decode {formatDuration(result.timings.decode)}; sessions created in {formatDuration(result.timings.ortCreate)}
          </p>
          <p className="muted" data-testid="engine">
            {result.loop === 'device'
              ? `Denoising loop on the GPU, nothing read back between steps; UNet commands ${result.graphCapture?.on ? 'recorded once and replayed (graph capture)' : `encoded at every step (graph capture off: ${result.graphCapture?.reason ?? 'unknown'})`}.`
              : 'Denoising loop on the CPU side: each UNet output is read back for guidance and the scheduler step.'}{' '}
            onnxruntime was busy {formatDuration(result.timings.ortRun)} of {formatDuration(result.timings.total)}.
          </p>
        </details>
      )}
    </section>
  );
}

/** Play and export the video as made, as a ping-pong or as a cross-faded loop. */
function LoopChoice({ result, mode, status, error }: { result: ResultState; mode: LoopMode; status?: string; error?: string }) {
  return (
    <fieldset className="loop-choice" data-testid="loop-choice">
      <legend>Play and export as</legend>
      {LOOP_MODES.map((m) => (
        <label key={m} className="radio">
          <input type="radio" name="loop-mode" value={m} checked={mode === m} onChange={() => void actions().setLoopMode(m)} data-testid={`loop-${m}`} />
          {loopLabel(m, result.frameCount)}
        </label>
      ))}
      {status === 'busy' && <span className="muted" role="status">Making the loop…</span>}
      {status === 'error' && <span className="field-error" role="alert" data-testid="loop-error">{error}</span>}
    </fieldset>
  );
}

/** "Continue from here": a new clip from any frame (the last by default), joined into one video. */
function ContinueVideo({ result, busy }: { result: ResultState; busy: boolean }) {
  const seed = useApp((s) => s.draft.seed);
  const view = useView();
  const last = result.frameCount - 1;
  const [chosen, setChosen] = useState<number | undefined>(undefined);
  const from = chosen !== undefined && chosen <= last ? chosen : last;
  const seedWords = typeof seed === 'string' && seed.trim() !== '' && seed.trim() !== '-1' ? `seed ${seed.trim()}` : 'a random seed';
  return (
    <div className="continue" role="group" aria-labelledby="continue-heading" data-testid="continue-video">
      <h3 id="continue-heading">Continue this video</h3>
      <p className="muted">
        A new clip starts from the chosen frame with the settings above ({seedWords}; change it there) and is joined to this
        video up to that frame. Its first frame, a copy of the chosen one, is left out, so the seam neither repeats nor jumps.
      </p>
      <label>
        From frame{' '}
        <select value={from} onChange={(e) => setChosen(Number(e.target.value))} data-testid="continue-frame" disabled={busy}>
          {Array.from({ length: result.frameCount }, (_, i) => <option key={i} value={i}>{i + 1}{i === last ? ' (the last)' : ''}</option>)}
        </select>
      </label>{' '}
      <button type="button" className="button" onClick={() => void actions().extendFrom(from)} aria-disabled={busy || !view.decision.ready} data-testid="continue-button">
        Continue from frame {from + 1}
      </button>
    </div>
  );
}

function ExportButton({ format, state, seed, framesReady }: { format: ExportFormat; state?: { status: string; fraction: number; url?: string; error?: string }; seed?: number; framesReady: boolean }) {
  const name = format.toUpperCase();
  if (state?.status === 'done' && state.url) {
    return <a className="button" href={state.url} download={`svd-video-${seed ?? 'result'}.${format}`} data-testid={`download-${format}`}>Download {name}</a>;
  }
  const busy = state?.status === 'busy';
  return (
    <>
      <button
        type="button" className="button" data-testid={`export-${format}`}
        onClick={() => void actions().exportAs(format)} aria-disabled={!framesReady || busy}
        title={framesReady ? `Make a ${name} of the same frames` : `${name} is made from the frames, available for videos made on this device`}
      >
        {busy ? `Making ${name}… ${Math.round(state!.fraction * 100)}%` : `Make ${name}`}
      </button>
      {state?.status === 'error' && <span className="field-error" role="alert">{state.error}</span>}
    </>
  );
}

function FrameStrip({ frames }: { frames: (FrameSlot | undefined)[] }) {
  const done = frames.filter(Boolean).length;
  return (
    <div className="strip-wrap">
      <p className="muted strip-caption" data-testid="frames-count">{done} of {frames.length} frames decoded</p>
      <ol className="strip" aria-label="Frames">
        {frames.map((f, i) => <FrameCell key={i} index={i} total={frames.length} frame={f} />)}
      </ol>
    </div>
  );
}

const FrameCell = memo(function FrameCell({ index, total, frame }: { index: number; total: number; frame?: FrameSlot }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvas.current;
    if (!c || !frame) return;
    c.width = frame.width;
    c.height = frame.height;
    c.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), frame.width, frame.height), 0, 0);
  }, [frame]);
  return (
    <li className={`frame${frame ? ' ready' : ''}`} data-testid={frame ? 'frame-ready' : 'frame-pending'}>
      {frame ? <canvas ref={canvas} aria-label={`Frame ${index + 1} of ${total}`} role="img" /> : <span className="frame-placeholder" aria-label={`Frame ${index + 1} of ${total}, not decoded yet`}>{index + 1}</span>}
    </li>
  );
});
