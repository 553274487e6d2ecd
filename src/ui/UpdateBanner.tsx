/** "A new version is ready" (from the service worker, src/pwa/register.ts), never applied during a generation. */
import { useEffect, useState } from 'react';
import { applyUpdate, onUpdateReady, setUpdateGuard } from '../pwa/register.ts';
import { appStore, useView } from '../store/index.ts';
import { isRunning } from '../store/format.ts';

export function UpdateBanner() {
  const [state, setState] = useState<'waiting' | 'activated' | undefined>();
  const running = useView().running;
  useEffect(() => {
    setUpdateGuard(() => (isRunning(appStore.getState().job.phase) ? 'A video is being made; reloading now would stop it.' : null));
    const off = onUpdateReady((s) => setState(s));
    return () => {
      off();
      setUpdateGuard(undefined);
    };
  }, []);
  if (!state) return null;
  return (
    <div className="update-banner" role="status" data-testid="update-banner">
      <span>A new version of svd-web is ready.{running ? ' It will be offered again when this video is done.' : ''}</span>
      <button type="button" className="button small" onClick={() => applyUpdate()} disabled={running}>Reload to update</button>
      <button type="button" className="button ghost small" onClick={() => setState(undefined)}>Later</button>
    </div>
  );
}
