/**
 * The derived view of the app state (pure): which backend runs and why, the validated request, how the picture
 * will be framed, and why Generate is disabled. Components read it through `useView()`.
 */
import type { Backend, SvdRequest } from '../contract/request.ts';
import { contextForModel } from '../contract/request.ts';
import type { ModelManifest } from '../contract/manifest.ts';
import { FramingError, planFraming, type Framing } from '../pipeline/image.ts';
import { decideBackend, type BackendDecision } from './backend.ts';
import { checkDraft, type DraftCheck } from './draft.ts';
import { isRunning } from './format.ts';
import { defaultFramingManifest, type ModelChoice } from './models.ts';
import type { LoadedImage } from './image-check.ts';
import type { AppState } from './app-store.ts';

export interface AppView {
  model?: ModelChoice;
  decision: BackendDecision;
  check: DraftCheck;
  /** how the picture will be framed (output size + crop), when there is a picture and valid settings */
  framing?: Pick<Framing, 'width' | 'height' | 'crop'>;
  framingError?: string;
  canGenerate: boolean;
  /** why Generate is disabled, in words ('' when it is enabled) */
  blocker: string;
  running: boolean;
}

let framingCache: { key: string; value: AppView['framing']; error?: string } | undefined;

function framingFor(image: LoadedImage, request: SvdRequest, backend: Backend, manifest: ModelManifest | undefined) {
  const m = manifest ?? defaultFramingManifest();
  const size = backend === 'local' ? { width: request.width, height: request.height } : {};
  const key = [image.input.width, image.input.height, request.resize_method, size.width, size.height,
    m.pipeline.defaultWidth, m.pipeline.defaultHeight, m.pipeline.sizeMultiple].join('|');
  if (framingCache?.key === key) return framingCache;
  try {
    // Only the size matters for the plan: a pixel-less stand-in keeps this cheap for big pictures.
    const stub = { width: image.input.width, height: image.input.height, rgba: new Uint8ClampedArray(0) };
    const f = planFraming(stub, { resize_method: request.resize_method, ...size }, m);
    framingCache = { key, value: { width: f.width, height: f.height, crop: f.crop } };
  } catch (e) {
    framingCache = { key, value: undefined, error: e instanceof FramingError ? e.message : String((e as Error).message) };
  }
  return framingCache;
}

export function deriveView(s: AppState): AppView {
  const model = s.models.find((m) => m.id === s.modelId) ?? s.models[0];
  const decision = decideBackend({
    choice: s.backendChoice,
    probe: s.probe,
    model: model ? { label: model.label, requiredFeatures: model.manifest?.requiredFeatures ?? [] } : undefined,
    hasApiKey: s.apiKey.trim() !== '',
  });
  const manifest = decision.backend === 'local' ? model?.manifest : undefined;
  const check = checkDraft(s.draft, decision.backend === 'local' ? contextForModel(manifest?.pipeline) : { backend: 'segmind' });
  let framing: AppView['framing'];
  let framingError: string | undefined;
  if (s.image && check.request) {
    const f = framingFor(s.image, check.request, decision.backend, manifest);
    framing = f.value;
    framingError = f.error;
  }
  const running = isRunning(s.job.phase);
  let blocker = '';
  if (running) blocker = 'A video is being made.';
  else if (!s.image) blocker = 'Add a picture first.';
  else if (!check.request) blocker = 'Fix the settings marked in red.';
  else if (framingError) blocker = framingError;
  else if (!decision.ready) blocker = decision.reason;
  return { model, decision, check, framing, framingError, canGenerate: blocker === '', blocker, running };
}
