/** "Your videos": every result kept in this browser, with open, download, re-run, continue and delete. */
import { useEffect, useRef, useState } from 'react';
import { formatBytes, formatDuration } from '../common/format.ts';
import { describeWhen } from '../gallery/words.ts';
import type { GalleryItem } from '../gallery/types.ts';
import { actions, useApp } from '../store/index.ts';

export function GalleryPanel() {
  const { items, usage, status, error, notice, busy } = useApp((s) => ({
    items: s.galleryItems, usage: s.galleryUsage, status: s.galleryStatus, error: s.galleryError, notice: s.galleryNotice, busy: s.galleryBusy,
  }));
  return (
    <section className="card gallery" aria-labelledby="gallery-heading" data-testid="gallery-panel" data-status={status}>
      <div className="card-head">
        <h2 id="gallery-heading">Your videos</h2>
        {status !== 'unavailable' && (
          <span className="gallery-usage muted" data-testid="gallery-usage" data-bytes={usage}>
            {items.length === 0 ? 'Nothing kept yet' : `${items.length} ${items.length === 1 ? 'video' : 'videos'}, ${formatBytes(usage)} of this browser's storage`}
          </span>
        )}
      </div>
      {status === 'unavailable' && (
        <p className="note" data-testid="gallery-unavailable">
          This browser cannot keep your videos (it has no Origin Private File System). Download each video to keep it.
        </p>
      )}
      {status === 'loading' && items.length === 0 && <p className="muted">Looking for the videos kept in this browser…</p>}
      {status === 'ready' && items.length === 0 && (
        <p className="muted" data-testid="gallery-empty">Every video you make is kept here, in this browser, and stays after a reload or offline.</p>
      )}
      {error && (
        <div className="error-box gallery-error" role="alert" data-testid="gallery-error" data-code={error.code}>
          <p>{error.message}</p>
          <button type="button" className="button small" onClick={() => actions().dismissGalleryError()}>Dismiss</button>
        </div>
      )}
      <p className="notice" aria-live="polite" data-testid="gallery-notice">{notice ?? ''}</p>
      {items.length > 0 && (
        <ul className="gallery-list" aria-label="Kept videos">
          {items.map((item) => <GalleryEntry key={item.id} item={item} busy={busy?.id === item.id ? busy.action : undefined} faulty={error?.id === item.id && error.code === 'corrupt'} />)}
        </ul>
      )}
    </section>
  );
}

function backendWords(item: GalleryItem): string {
  if (item.backend === 'segmind') return 'Segmind';
  const where = item.device === 'wasm' ? 'this device (CPU)' : 'this device (GPU)';
  return item.model ? `${where}, ${item.model.label}` : where;
}

function GalleryEntry({ item, busy, faulty }: { item: GalleryItem; busy?: string; faulty: boolean }) {
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);
  const when = describeWhen(item.createdAt);
  const titleId = `gallery-item-${item.id}`;
  const damaged = item.damaged !== undefined;

  async function download() {
    const blob = await actions().downloadItem(item.id);
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `svd-video-${item.seed ?? item.id}.mp4`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  return (
    <li className={`gallery-item${damaged || faulty ? ' damaged' : ''}`} data-testid="gallery-item" data-id={item.id} aria-labelledby={titleId}>
      {damaged ? <div className="gallery-poster empty" aria-hidden="true">!</div> : <Poster item={item} />}
      <div className="gallery-info">
        <h3 id={titleId} className="gallery-title">Video of {when}</h3>
        {damaged ? (
          <p className="field-error" data-testid="gallery-damaged">{item.damaged}</p>
        ) : (
          <p className="gallery-facts muted">
            <span data-testid="gallery-frames">{item.frameCount} frames</span>, {item.width}×{item.height}, {item.fps} fps ·{' '}
            <span data-testid="gallery-seed">seed {item.seed ?? 'unknown'}</span> · {backendWords(item)} in {formatDuration(item.elapsedMs)}
            {item.clips.length > 1 && <> · <span data-testid="gallery-clips">{item.clips.length} clips joined</span></>} · {formatBytes(item.bytes)}
          </p>
        )}
        {confirming ? (
          <div className="gallery-confirm" role="group" aria-label={`Delete the video of ${when}?`}>
            <span>Delete the video of {when} from this browser? This cannot be undone.</span>
            <button ref={confirmRef} type="button" className="button danger small" data-testid="gallery-delete-confirm"
              onClick={() => { setConfirming(false); void actions().deleteItem(item.id); }}>Delete</button>
            <button type="button" className="button small" onClick={() => { setConfirming(false); deleteRef.current?.focus(); }}>Keep it</button>
          </div>
        ) : (
          <div className="gallery-actions" role="group" aria-label={`Video of ${when}`}>
            {!damaged && (
              <>
                <button type="button" className="button small primary" data-testid="gallery-open" onClick={() => void actions().openItem(item.id)} aria-describedby={titleId}>
                  {busy === 'open' ? 'Opening…' : 'Open'}
                </button>
                <button type="button" className="button small" data-testid="gallery-download" onClick={() => void download()}>
                  {busy === 'download' ? 'Reading…' : 'Download MP4'}
                </button>
                <button type="button" className="button small" data-testid="gallery-rerun" onClick={() => void actions().rerunItem(item.id)}
                  title="Put this video's settings, seed and picture back in the form">Re-run</button>
                <button type="button" className="button small" data-testid="gallery-extend" onClick={() => void actions().extendItem(item.id)}
                  title="Open this video and continue it from its last frame">{busy === 'extend' ? 'Opening…' : 'Continue'}</button>
              </>
            )}
            <button ref={deleteRef} type="button" className="button small danger" data-testid="gallery-delete" onClick={() => setConfirming(true)}>
              {busy === 'delete' ? 'Deleting…' : 'Delete'}
            </button>
          </div>
        )}
      </div>
    </li>
  );
}

/** The first frame on a small canvas when the frames were kept, else the video's own first frame. */
function Poster({ item }: { item: GalleryItem }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [videoUrl, setVideoUrl] = useState<string>();
  const [hasFrame, setHasFrame] = useState(false);
  useEffect(() => {
    let live = true;
    let url: string | undefined;
    void actions().galleryPoster(item.id).then((p) => {
      if (!live || !p) return;
      if (p.frame && canvas.current) {
        const { width, height, rgba } = p.frame;
        canvas.current.width = width;
        canvas.current.height = height;
        canvas.current.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
        setHasFrame(true);
      } else if (p.video) {
        url = URL.createObjectURL(p.video);
        setVideoUrl(url);
      }
    });
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [item.id]);
  const label = `First frame of the video of ${describeWhen(item.createdAt)}`;
  return (
    <div className="gallery-poster" data-testid="gallery-poster" data-kind={hasFrame ? 'frame' : videoUrl ? 'video' : 'none'}>
      <canvas ref={canvas} role="img" aria-label={label} hidden={!hasFrame} />
      {videoUrl && <video src={videoUrl} muted playsInline preload="metadata" aria-label={label} />}
    </div>
  );
}
