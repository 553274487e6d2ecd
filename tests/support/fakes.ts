/** Test doubles for the store: a scripted fake worker speaking the protocol, and a tiny loaded image. */
import type { FromGenerateWorker as FromWorker, ToGenerateWorker as ToWorker } from '../../src/protocol/generate.ts';
import type { WorkerLike } from '../../src/engine/worker-client.ts';
import type { LoadedImage } from '../../src/store/image-check.ts';
import type { ModelManifest } from '../../src/contract/manifest.ts';
import { defaultFramingManifest, type ModelChoice } from '../../src/store/models.ts';

export class FakeWorker implements WorkerLike {
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: { message?: string; preventDefault?: () => void }) => void) | null = null;
  onmessageerror: ((event: { data: unknown }) => void) | null = null;
  readonly sent: ToWorker[] = [];
  terminated = false;
  constructor(private readonly script: (m: ToWorker, w: FakeWorker) => void = () => undefined) {}
  postMessage(message: unknown): void {
    const m = message as ToWorker;
    this.sent.push(m);
    queueMicrotask(() => this.script(m, this));
  }
  terminate(): void {
    this.terminated = true;
  }
  reply(m: FromWorker): void {
    this.onmessage?.({ data: m });
  }
  crash(message: string): void {
    this.onerror?.({ message, preventDefault() {} });
  }
}

export function tinyImage(width = 32, height = 32): LoadedImage {
  return {
    input: { width, height, rgba: new Uint8ClampedArray(width * height * 4).fill(200) },
    previewUrl: 'blob:preview',
    name: 'test.png',
    file: new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }),
    format: 'png',
    animated: false,
  };
}

export const tick = () => new Promise((r) => setTimeout(r, 0));

/** The bundled demo model as the store tests see it: 64×64, 3 frames by default, a VAE factor of 2. */
export const demoManifest: ModelManifest = (() => {
  const m = defaultFramingManifest() as ModelManifest;
  m.pipeline = { ...m.pipeline, defaultWidth: 64, defaultHeight: 64, defaultFrames: 3, vaeScaleFactor: 2, sizeMultiple: 16 };
  return m;
})();
export const demoModel: ModelChoice = { id: 'tiny-random', label: 'Tiny demo model', source: { kind: 'url', baseUrl: 'http://app/models/tiny-random/' }, manifest: demoManifest, demo: true };
