/** Module worker for the harness: WebGPU adapter + ORT self-test inside a worker (how the app runs ORT). */
import type { OrtRunRequest } from './api.ts';
import { adapterReport } from './gpu.ts';
import { runOrtSelfTest } from './ort-selftest.ts';

type Msg = { id: number; kind: 'adapter' } | { id: number; kind: 'ort'; req: OrtRunRequest };

const scope = self as unknown as { onmessage: ((e: MessageEvent<Msg>) => void) | null; postMessage(m: unknown): void };

scope.onmessage = async (e: MessageEvent<Msg>) => {
  const msg = e.data;
  try {
    const result = msg.kind === 'adapter' ? await adapterReport() : await runOrtSelfTest(msg.req, 'worker');
    scope.postMessage({ id: msg.id, ok: true, result });
  } catch (err) {
    scope.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
};
