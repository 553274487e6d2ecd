/**
 * The first-run tour, in the empty state while the demo model is the one in use: what the demo model is, and the way
 * to the real one (the Models panel, at "Get a real model from Hugging Face"). Dismissed once, it stays away
 * (the store remembers it); the store's view decides when it shows.
 */
import { actions, useView } from '../store/index.ts';

export function Tour({ onGetModel }: { onGetModel: () => void }) {
  const view = useView();
  if (!view.tour) return null;
  return (
    <aside className="tour" data-testid="tour" aria-label="First steps">
      <p className="tour-text" data-testid="tour-demo">
        <strong>You are using the demo model.</strong> Its weights are random, so its video is noise: it is here for
        trying the app. For real videos, get Stable Video Diffusion (a few GB from Hugging Face, converted in this tab).
      </p>
      <div className="tour-actions">
        <button type="button" className="button primary" onClick={onGetModel} data-testid="tour-get-model">Get the real model</button>
        <button type="button" className="button ghost" onClick={() => actions().dismissTour()} data-testid="tour-dismiss">Not now</button>
      </div>
    </aside>
  );
}
