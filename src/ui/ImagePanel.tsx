/** Picture input: drop, paste, file picker, web address; refusals explained next to the drop zone; framing preview. */
import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { actions, loadImageBlob, loadImageUrl, useApp, useView } from '../store/index.ts';

function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'range', 'file', 'submit'].includes((el as HTMLInputElement).type));
}

function firstImageFile(list: DataTransferItemList | FileList | null | undefined): File | undefined {
  if (!list) return undefined;
  const files: File[] = [];
  if ('length' in list) {
    for (let i = 0; i < list.length; i++) {
      const item = list[i] as DataTransferItem | File;
      if (item instanceof File) files.push(item);
      else if (item.kind === 'file') {
        const f = item.getAsFile();
        if (f) files.push(f);
      }
    }
  }
  return files.find((f) => f.type.startsWith('image/')) ?? files[0];
}

export function ImagePanel() {
  const { image, imageError, imageBusy, running } = useApp((s) => ({
    image: s.image, imageError: s.imageError, imageBusy: s.imageBusy, running: s.job.phase !== 'idle' && !['done', 'error', 'cancelled'].includes(s.job.phase),
  }));
  const fileInput = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const [url, setUrl] = useState('');
  const ids = { status: useId(), url: useId(), hint: useId() };

  // Ctrl+V / Cmd+V anywhere: a picture from the clipboard, or a picture address when not typing in a field.
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const file = firstImageFile(e.clipboardData?.items);
      if (file) {
        e.preventDefault();
        void loadImageBlob(file, file.name && file.name !== 'image.png' ? file.name : 'pasted image');
        return;
      }
      if (isEditable(e.target)) return;
      const text = e.clipboardData?.getData('text/plain')?.trim() ?? '';
      if (/^https?:\/\/\S+$/i.test(text)) {
        e.preventDefault();
        setUrl(text);
        void loadImageUrl(text);
      }
    };
    document.addEventListener('paste', onPaste);
    return () => document.removeEventListener('paste', onPaste);
  }, []);

  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setDragging(false);
    const file = firstImageFile(e.dataTransfer?.files?.length ? e.dataTransfer.files : e.dataTransfer?.items);
    if (file) {
      void loadImageBlob(file, file.name);
      return;
    }
    const text = e.dataTransfer?.getData('text/uri-list') || e.dataTransfer?.getData('text/plain');
    if (text && /^https?:\/\//i.test(text.trim())) {
      setUrl(text.trim());
      void loadImageUrl(text.trim().split('\n')[0]);
    } else actions().setImageError('Nothing usable was dropped: drop a picture file (PNG, JPEG, WebP, GIF…).');
  };

  const onUrl = (e: FormEvent) => {
    e.preventDefault();
    if (url.trim()) void loadImageUrl(url.trim());
  };

  return (
    <section className="card" aria-labelledby="picture-heading">
      <h2 id="picture-heading"><span className="step" aria-hidden="true">1</span>Picture</h2>
      <div
        className={`dropzone${dragging ? ' dragging' : ''}${image ? ' has-image' : ''}`}
        data-testid="drop-zone"
        onDragEnter={(e) => { e.preventDefault(); setDragging(true); }}
        onDragOver={(e) => { e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; }}
        onDragLeave={(e) => { if (e.currentTarget === e.target) setDragging(false); }}
        onDrop={onDrop}
      >
        {image ? <FramingPreview /> : (
          <div className="dropzone-empty">
            <svg aria-hidden="true" width="40" height="40" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.5"><rect x="3" y="3" width="18" height="18" rx="3" /><circle cx="9" cy="9" r="2" /><path d="m21 15-5-5L5 21" /></svg>
            <p className="dropzone-title">Drop a picture here</p>
            <p className="muted" id={ids.hint}>or paste it (Ctrl+V), choose a file, or give its web address</p>
          </div>
        )}
        <div className="dropzone-actions">
          <button type="button" className="button" onClick={() => fileInput.current?.click()} disabled={running} aria-describedby={ids.hint}>
            {image ? 'Choose another picture…' : 'Choose a picture…'}
          </button>
          {image && <button type="button" className="button ghost" onClick={() => actions().clearImage()} disabled={running}>Remove</button>}
        </div>
        <input
          ref={fileInput}
          className="visually-hidden"
          type="file"
          accept="image/*"
          tabIndex={-1}
          aria-label="Picture file"
          data-testid="file-input"
          onChange={(e) => {
            const f = e.currentTarget.files?.[0];
            if (f) void loadImageBlob(f, f.name);
            e.currentTarget.value = '';
          }}
        />
      </div>
      <div id={ids.status} className="image-status" aria-live="polite">
        {imageBusy && <p className="muted">Reading the picture…</p>}
        {imageError && <p className="field-error image-error" role="alert" data-testid="image-error">{imageError}</p>}
        {image && !imageBusy && (
          <p className="muted" data-testid="image-info">
            <strong>{image.name}</strong> · {image.input.width}×{image.input.height} px
          </p>
        )}
        {image?.note && !imageBusy && <p className="note" data-testid="image-note">{image.note}</p>}
      </div>
      <form className="url-form" onSubmit={onUrl}>
        <label htmlFor={ids.url}>Picture address</label>
        <div className="row">
          <input id={ids.url} type="url" inputMode="url" placeholder="https://example.com/picture.jpg" value={url} onChange={(e) => setUrl(e.target.value)} disabled={running} />
          <button type="submit" className="button" disabled={running || !url.trim()}>Load</button>
        </div>
      </form>
    </section>
  );
}

/** The picture as the video will frame it: the crop kept, the rest dimmed, and the output size. */
function FramingPreview() {
  const image = useApp((s) => s.image);
  const view = useView();
  if (!image) return null;
  const f = view.framing;
  const { width: W, height: H } = image.input;
  const crop = f?.crop;
  const pct = (v: number, of: number) => `${(100 * v) / of}%`;
  const kept = crop ? Math.round((100 * crop.width * crop.height) / (W * H)) : 100;
  return (
    <figure className="framing" data-testid="framing-preview">
      <div className="framing-frame" style={{ aspectRatio: `${W} / ${H}`, ['--ar' as string]: String(W / H) }}>
        <img src={image.previewUrl} alt={`The picture ${image.name}`} />
        {crop && kept < 100 && (
          <div
            className="crop-box"
            data-testid="crop-box"
            style={{ left: pct(crop.left, W), top: pct(crop.top, H), width: pct(crop.width, W), height: pct(crop.height, H) }}
          />
        )}
      </div>
      <figcaption className="muted">
        {f ? (
          <>Video {f.width}×{f.height}{kept < 100 ? ` · the outlined ${kept}% of the picture is used` : ' · the whole picture is used'}</>
        ) : view.framingError ? <span className="field-error">{view.framingError}</span> : 'Fix the settings to see the framing'}
      </figcaption>
    </figure>
  );
}
