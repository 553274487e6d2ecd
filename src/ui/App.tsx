/** The app: picture → settings → where it runs → video. Layout only; state lives in src/store. */
import { useEffect } from 'react';
import { actions, appStore, useView } from '../store/index.ts';
import { ModelManager } from './models/ModelManager.tsx';
import { ImagePanel } from './ImagePanel.tsx';
import { SettingsPanel } from './SettingsPanel.tsx';
import { RunPanel } from './RunPanel.tsx';
import { ResultPanel } from './ResultPanel.tsx';
import './styles.css';

export function App() {
  useEffect(() => {
    void appStore.getState().init();
  }, []);
  const view = useView();
  return (
    <div className="app" id="app" data-testid="app-root">
      <a className="skip-link" href="#run-heading">Skip to Generate</a>
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
      <main className="layout">
        <div className="col">
          <ImagePanel />
          <SettingsPanel />
        </div>
        <div className="col">
          <RunPanel />
          <ResultPanel />
          <div className="card models-card" data-testid="models-slot">
            {/* The model manager (issue 7) owns its content; it brings its own "Models" heading. */}
            <ModelManager onSelect={(id) => actions().setModel(id)} selectedId={view.model?.id} />
          </div>
        </div>
      </main>
      <footer className="app-footer muted">
        Runs locally with WebGPU; the Segmind API is used only when you choose it or this device cannot run the model.
      </footer>
    </div>
  );
}

export default App;
