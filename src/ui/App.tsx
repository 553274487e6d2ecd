/** The app: picture → settings → where it runs → video. Layout only; state lives in src/store. */
import { useEffect, useMemo, useRef, useState } from 'react';
import { actions, appStore, useApp, useView } from '../store/index.ts';
import { ModelManager } from './models/ModelManager.tsx';
import { HUB_HEADING_ID } from './models/HubPanel.tsx';
import { Tour } from './Tour.tsx';
import { UpdateBanner } from './UpdateBanner.tsx';
import { ImagePanel } from './ImagePanel.tsx';
import { SettingsPanel } from './SettingsPanel.tsx';
import { RunPanel } from './RunPanel.tsx';
import { ResultPanel } from './ResultPanel.tsx';
import { GalleryPanel } from './GalleryPanel.tsx';
import './styles.css';

export function App() {
  useEffect(() => {
    void appStore.getState().init();
  }, []);
  const view = useView();
  const modelsStatus = useApp((s) => s.modelsStatus);
  const models = useApp((s) => s.models);
  const appModels = useMemo(() => models.map((m) => ({ id: m.id, label: m.label, demo: m.demo, bundled: m.source.kind === 'url' })), [models]);
  // Open the model manager when there is no model to run locally; keep it compact otherwise.
  const [modelsOpen, setModelsOpen] = useState(false);
  useEffect(() => {
    if (modelsStatus === 'done' && !view.model) setModelsOpen(true);
  }, [modelsStatus, view.model]);
  // The tour's "Get the real model": the Models panel opens at "Get a real model from Hugging Face".
  const [goToHub, setGoToHub] = useState(0);
  const lastGoToHub = useRef(0);
  useEffect(() => {
    if (goToHub === lastGoToHub.current || !modelsOpen) return;
    lastGoToHub.current = goToHub;
    const heading = document.getElementById(HUB_HEADING_ID);
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus({ preventScroll: true });
  }, [goToHub, modelsOpen]);
  return (
    <div className="app" id="app" data-testid="app-root">
      <a className="skip-link" href="#run-heading">Skip to Generate</a>
      <UpdateBanner />
      <header className="app-header">
        <div className="brand">
          <svg aria-hidden="true" width="28" height="28" viewBox="0 0 24 24"><rect x="2" y="4" width="20" height="16" rx="4" fill="var(--accent)" /><path d="M10 9v6l5-3z" fill="var(--accent-ink)" /></svg>
          <h1>svd-web</h1>
        </div>
        <p className="tagline">Turn a picture into a short video with Stable Video Diffusion — on your GPU, in this tab.</p>
        <p className="status-chip" data-testid="status-chip" data-ready={view.decision.ready}>
          <span className="dot" aria-hidden="true" />{view.decision.label}
        </p>
      </header>
      <Tour onGetModel={() => { setModelsOpen(true); setGoToHub((n) => n + 1); }} />
      <main className="layout">
        <div className="col">
          <ImagePanel />
          <SettingsPanel />
        </div>
        <div className="col">
          <RunPanel />
          <ResultPanel />
          <GalleryPanel />
          <details className="card models-card" data-testid="models-slot" open={modelsOpen} onToggle={(e) => setModelsOpen(e.currentTarget.open)}>
            <summary>
              <h2>Models</h2>
              <span className="muted">{view.model ? `Using ${view.model.label}` : 'No model on this device yet'} · download, import or delete</span>
            </summary>
            {/* The model manager (issue 7) owns this content. */}
            <ModelManager onSelect={(id) => actions().setModel(id)} selectedId={view.model?.id} appModels={appModels} />
          </details>
        </div>
      </main>
      <footer className="app-footer muted">
        Runs locally with WebGPU; the Segmind API is used only when you choose it or this device cannot run the model.
      </footer>
    </div>
  );
}

export default App;
