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
import { defaultFramingManifest, selectedModel, type ModelChoice } from './models.ts';
import { estimateWork, speedKey, type WorkEstimate } from './estimate.ts';
import { modelDefaultsNote, type ModelDefaultsNote } from './model-defaults.ts';
import type { LoadedImage } from './image-check.ts';
import type { AppState } from './app-store.ts';

export interface AppView {
  model?: ModelChoice;
  decision: BackendDecision;
  check: DraftCheck;
  /** how the picture will be framed (output size + crop), when there is a picture and valid settings */
  framing?: Pick<Framing, 'width' | 'height' | 'crop'>;
  framingError?: string;
  /**
   * local runs: the denoising work of the request at the framed size (the request's or the model's own size before
   * there is a picture), and the time where this device has been measured
   */
  estimate?: WorkEstimate;
  /** the selected local model's recommended steps and guidance in words, when it has its own (the fast model) */
  modelDefaults?: ModelDefaultsNote;
  canGenerate: boolean;
  /** why Generate is disabled, in words ('' when it is enabled) */
  blocker: string;
  running: boolean;
  /**
   * the first-run tour: shown in the empty state (no picture yet) while the bundled demo model runs here and no real
   * model is stored, until dismissed
   */
  tour: boolean;
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
  const model = selectedModel(s);
  const decision = decideBackend({
    choice: s.backendChoice,
    probe: s.probe,
    model: model ? { label: model.label, requiredFeatures: model.manifest?.requiredFeatures ?? [] } : undefined,
    hasApiKey: s.apiKey.trim() !== '',
    // what runs of this model measured here, so a GPU slower than the CPU is not the automatic pick
    measured: model ? {
      gpu: s.speeds[speedKey('webgpu', s.probe.info?.adapter, model.id)]?.secondsPerTflop,
      cpu: s.speeds[speedKey('wasm', undefined, model.id)]?.secondsPerTflop,
    } : undefined,
  });
  const manifest = decision.backend === 'local' ? model?.manifest : undefined;
  const check = checkDraft(s.draft, decision.backend === 'local' ? contextForModel(manifest?.pipeline, manifest?.requestDefaults) : { backend: 'segmind' });
  let framing: AppView['framing'];
  let framingError: string | undefined;
  if (s.image && check.request) {
    const f = framingFor(s.image, check.request, decision.backend, manifest);
    framing = f.value;
    framingError = f.error;
  }
  let estimate: WorkEstimate | undefined;
  if (manifest && check.request && decision.device && s.probe.status !== 'pending' && !framingError) {
    const r = check.request;
    const size = framing ?? (r.width !== undefined && r.height !== undefined
      ? { width: r.width, height: r.height } : { width: manifest.pipeline.defaultWidth, height: manifest.pipeline.defaultHeight });
    estimate = estimateWork(manifest, r, size, decision.device, s.probe.info?.adapter, s.speeds, model?.id ?? manifest.precision);
  }
  const modelDefaults = decision.backend === 'local' ? modelDefaultsNote(manifest, s.draft) : undefined;
  const running = isRunning(s.job.phase);
  let blocker = '';
  if (running) blocker = 'A video is being made.';
  else if (!s.image) blocker = 'Add a picture first.';
  else if (!check.request) blocker = 'Fix the settings marked in red.';
  else if (framingError) blocker = framingError;
  else if (!decision.ready) blocker = decision.reason;
  const tour = !s.tourDismissed && !s.image && !running && decision.backend === 'local' && model?.demo === true && !s.models.some((m) => !m.demo);
  return { model, decision, check, framing, framingError, estimate, modelDefaults, canGenerate: blocker === '', blocker, running, tour };
}
