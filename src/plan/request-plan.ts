/**
 * A memory plan for a (model, request, device): what each stage of the pipeline needs, computed from the model's
 * graphs (./memory.ts), and the settings that fit the device: the guidance batch of 2 in one UNet call or split in
 * two batch-1 calls, and the decode chunk. Where nothing fits it says so in words, with what would fit (fewer frames,
 * a smaller size, the CPU), found by planning those requests too.
 *
 * What is resident when (src/pipeline + src/runtime + src/engine/web-host.ts):
 * - a model over KEEP_SESSIONS_BYTES loads stage by stage: each stage opens its graph's session, runs it and
 *   releases it, so a stage holds ITS graph's weights only: image encoder → VAE encoder → UNet (+ the weightless step
 *   graph) → VAE decoder;
 * - a model up to KEEP_SESSIONS_BYTES keeps every session open between generations: every stage then holds the
 *   weights of all graphs;
 * - the denoising loop with the guidance batch in one call runs on the device (WebGPU): its buffers (sample,
 *   noise_pred, image latents, two latents, embeddings, ids, guidance scales, the sampler's noise: float32) stay on the
 *   GPU for the whole loop, beside the captured UNet's own copies of its inputs and output (which the UNet's graph
 *   inputs/outputs already count). With split halves the loop runs on the CPU side: the GPU holds one batch-1 UNet run;
 * - the VAE decoder runs on `decode_chunk` frames at a time.
 * Session creation: onnxruntime-web 1.30 reads a graph's external data whole into the JS heap (the .onnx too), one
 * graph at a time.
 *
 * Margin: a stage fits when its raw peak is at most (1 − margin) of the GPU memory given (default margin 10%, for what
 * ./memory.ts leaves out: allocator rounding and caching, kernel scratch, the page's own GPU use). The 10% is a stated
 * guess, not a measurement: calibrate it on real GPUs (README, "Memory plan"). Buffer limits are hard limits: no
 * margin.
 */
import type { NetworkName, PipelineFacts, SamplerName, StepGraphName } from '../contract/manifest.ts';
import { stepGraphsOf } from '../contract/manifest.ts';
import { formatBytes } from '../common/format.ts';
import { graphMemory, inputShapesFor, type GraphMemory, type MemoryGraph, type MemoryOptions, type TensorRecord } from './memory.ts';
import { chunkingOf, type GraphChunking } from '../compiler/onnx/chunked-attention.ts';
import { chooseCuts } from '../compiler/onnx/split-graph.ts';
import { evaluateGraph } from '../compiler/onnx/shape-eval.ts';
import { suggestAlternatives } from './suggest.ts';
import { refusalMessage } from './refusal.ts';
export { refusalMessage, type Alternatives } from './refusal.ts';

/** Models up to this size keep every session open between generations (src/engine/web-host.ts uses this one). */
export const KEEP_SESSIONS_BYTES = 512 * 1024 * 1024;
/** wasm32 memory: everything the CPU (wasm) backend holds at once. */
export const WASM_MEMORY_BYTES = 4 * 1024 ** 3;
export const DEFAULT_MARGIN = 0.1;

export interface PlanGraph {
  graph: MemoryGraph;
  /** bytes of the .onnx file */
  modelBytes: number;
  /** bytes of its external-data files together */
  externalDataBytes: number;
}

export interface PlanModel {
  facts: Pick<PipelineFacts, 'latentChannels' | 'unetInChannels' | 'vaeScaleFactor' | 'sizeMultiple' | 'embeddingDim' | 'clip'>;
  sampler: SamplerName;
  /** all of the model's files: decides whether sessions stay open between stages */
  totalBytes: number;
  graphs: Record<NetworkName, PlanGraph> & Partial<Record<StepGraphName, PlanGraph>>;
}

export interface PlanRequest {
  frames: number;
  width: number;
  height: number;
  /** classifier-free guidance (max guidance above 1): the UNet sees a batch of 2 */
  guidance: boolean;
  decodeChunk: number;
}

export interface DeviceLimits {
  kind: 'webgpu' | 'wasm';
  /** GPU memory the model may use (WebGPU does not tell; the user or a probe does) */
  gpuBytes?: number;
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
  /** JS heap available while a session is created (a hard limit: a request over it is refused) */
  jsHeapBytes?: number;
  /**
   * The JS heap one session's creation should stay within where the session can be made in parts (the UNet on the
   * device loop): the plan cuts it into as many parts as that takes (default SESSION_PART_BYTES)
   */
  sessionPartBytes?: number;
  /**
   * How fused attention runs: absent, the device's own kernel (flash attention, counted as its output only);
   * 'chunked', replaced at load time by query-chunked attention (src/compiler/onnx/chunked-attention.ts; chosen where
   * the fused kernel failed the device self-test) whose float32 scores per chunk take at most `scoreBytes`, or, when
   * not given, the plan's own budget per graph (attentionScoreBudget).
   */
  attention?: { kind: 'chunked'; scoreBytes?: number };
}

/**
 * The JS heap one session's creation should stay within (the goal of issue 14): onnxruntime-web 1.30 holds a
 * session's external data whole while it creates it, so the UNet (1.1 GB for SVD-XT q4f16) is created in parts.
 */
export const SESSION_PART_BYTES = 0.6e9;
/** How far a part may be from an equal share (src/compiler/onnx/split-graph.ts cuts within an eighth of a share): the
 * part count is chosen with it, before the cuts are made. */
const PART_IMBALANCE = 1 + 1 / 8;

/** Chunked attention's least score budget per chunk: big chunks mean fewer nodes (faster session creation). */
export const DEFAULT_ATTENTION_SCORE_BYTES = 512 * 1024 * 1024;

/**
 * The score budget of one chunk in a graph: half the graph's largest other buffer (a chunk's softmax holds its input
 * and output, so the scratch is about that buffer's size and the peak barely moves), at least
 * DEFAULT_ATTENTION_SCORE_BYTES (fewer chunks: each adds nodes, and session creation time grows with them), and
 * within the device's buffer limit (one chunk's scores are one buffer).
 */
export function attentionScoreBudget(largestOtherBuffer: number, limit: number | undefined): number {
  return Math.min(Math.max(DEFAULT_ATTENTION_SCORE_BYTES, largestOtherBuffer / 2), limit ?? Infinity);
}

export interface PlanOptions extends Pick<MemoryOptions, 'attentionScratch'> {
  margin?: number;
}

export type StageName = 'image_encoder' | 'vae_encoder' | 'denoise' | 'vae_decoder';

export interface StagePlan {
  stage: StageName;
  /** what the stage runs, in words ("UNet, batch 2 × 25 frames, 72×128 latents") */
  setting: string;
  weightBytes: number;
  activationPeak: number;
  /** buffers the pipeline holds beside the graph's own values (the device loop's) */
  loopBytes: number;
  peakBytes: number;
  largest: TensorRecord;
  attentionScores?: TensorRecord;
  /** with chunked attention: how each fused node of the stage's graph is chunked at these shapes, and the budget */
  attentionChunking?: GraphChunking;
  attentionScoreBytes?: number;
  /** JS heap while the stage's session is created: the .onnx + its external data */
  sessionJsBytes: number;
  fits: boolean;
}

export interface PlanChange {
  field: 'decode_chunk';
  from: number;
  to: number;
  why: string;
}

export interface RequestPlan {
  request: PlanRequest;
  device: DeviceLimits;
  margin: number;
  /** the UNet's batch per call and whether the guidance halves run as two calls */
  guidanceBatch: 1 | 2;
  splitGuidance: boolean;
  decodeChunk: number;
  /** settings the plan changed that change the video (the app asks or says so before running) */
  changes: PlanChange[];
  stages: StagePlan[];
  peakBytes: number;
  largestBuffer: TensorRecord;
  /** session creation's largest JS heap need */
  sessionJsBytes: number;
  /** with chunked attention: each graph's chunking, for the runtime to apply when it creates the session */
  attentionChunking?: Partial<Record<NetworkName, GraphChunking>>;
  /** graphs whose (device) session is created in parts, and how many (the UNet on the device loop, when over sessionPartBytes) */
  sessionParts?: Partial<Record<NetworkName, number>>;
  fits: boolean;
  /** when it does not fit: the sentence for the user */
  refusal?: string;
  notes: string[];
}

/** Plans requests on one model; graph evaluations are cached, so alternatives are cheap to try. */
export class MemoryPlanner {
  private readonly cache = new Map<string, GraphMemory>();
  readonly keepsAllSessions: boolean;

  constructor(readonly model: PlanModel, readonly options: PlanOptions = {}) {
    this.keepsAllSessions = model.totalBytes <= KEEP_SESSIONS_BYTES;
  }

  /** Memory of one graph at the given symbolic dimensions (cached), with fused attention as the device runs it. */
  memory(name: NetworkName | StepGraphName, symbols: Record<string, number>, device?: DeviceLimits): GraphMemory {
    const entry = this.model.graphs[name];
    if (!entry) throw new Error(`the model has no ${name} graph`);
    let scratch: MemoryOptions = { attentionScratch: this.options.attentionScratch };
    if (device?.attention) {
      const budget = device.attention.scoreBytes ?? attentionScoreBudget(this.memory(name, symbols).largest.bytes, bufferLimit(device));
      scratch = { attentionScratch: 'chunked', attentionScoreBytes: budget };
    }
    const key = `${name}|${JSON.stringify(symbols)}|${scratch.attentionScoreBytes ?? ''}`;
    let m = this.cache.get(key);
    if (!m) {
      m = graphMemory(entry.graph, inputShapesFor(entry.graph, symbols, name), scratch);
      this.cache.set(key, m);
    }
    return m;
  }

  private residentWeights(own: number): number {
    if (!this.keepsAllSessions) return own;
    return Object.keys(this.model.graphs).reduce((a, g) => a + this.memory(g as NetworkName, this.symbolsAtRest(g)).weights.bytes, 0);
  }

  /** Weights do not depend on shapes: any symbols that evaluate will do (the smallest request). */
  private symbolsAtRest(graph: string): Record<string, number> {
    const m = this.model.facts.sizeMultiple / this.model.facts.vaeScaleFactor;
    const s = this.model.facts.sizeMultiple;
    return graph === 'vae_encoder' ? { batch: 1, height: s, width: s } : { batch: 1, frames: 1, height: m, width: m, latent_height: m, latent_width: m };
  }

  private sessionJs(name: NetworkName | StepGraphName): number {
    const g = this.model.graphs[name]!;
    return g.modelBytes + g.externalDataBytes;
  }

  private stage(stage: StageName, setting: string, graph: NetworkName, m: GraphMemory, device: DeviceLimits, extra: { loop?: number; also?: GraphMemory } = {}): StagePlan {
    const weightBytes = this.residentWeights(m.weights.bytes);
    const activationPeak = Math.max(m.activationPeak, extra.also?.activationPeak ?? 0);
    const loopBytes = extra.loop ?? 0;
    const candidates = [m.largest, m.weights.largest, extra.also?.largest].filter((t): t is TensorRecord => !!t);
    const largest = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const peakBytes = weightBytes + activationPeak + loopBytes;
    const sessionJsBytes = this.sessionJs(graph);
    const plan: StagePlan = { stage, setting, weightBytes, activationPeak, loopBytes, peakBytes, largest, sessionJsBytes, fits: true, ...(m.attentionScores ? { attentionScores: m.attentionScores } : {}) };
    if (device.attention && m.attentionSites.length) {
      plan.attentionChunking = chunkingOf(m.attentionSites);
      plan.attentionScoreBytes = m.attentionScoreBytes;
    }
    plan.fits = stageFits(plan, device, this.margin);
    return plan;
  }

  get margin(): number {
    return this.options.margin ?? DEFAULT_MARGIN;
  }

  imageEncoder(device: DeviceLimits): StagePlan {
    const s = this.model.facts.clip.imageSize;
    return this.stage('image_encoder', `image encoder, 1 image ${s}×${s}`, 'image_encoder', this.memory('image_encoder', { batch: 1 }, device), device);
  }

  vaeEncoder(r: Pick<PlanRequest, 'width' | 'height'>, device: DeviceLimits): StagePlan {
    return this.stage('vae_encoder', `VAE encoder, 1 image ${r.width}×${r.height}`, 'vae_encoder', this.memory('vae_encoder', { batch: 1, height: r.height, width: r.width }, device), device);
  }

  /** The denoising loop with `batch` rows per UNet call; `split` = the guidance halves as two batch-1 calls. */
  denoise(r: PlanRequest, batch: 1 | 2, split: boolean, device: DeviceLimits): StagePlan {
    const f = this.model.facts.vaeScaleFactor;
    const [h, w] = [r.height / f, r.width / f];
    const callBatch = split ? 1 : batch;
    const unet = this.memory('unet', { batch: callBatch, frames: r.frames, height: h, width: w }, device);
    let loop = 0;
    let also: GraphMemory | undefined;
    const onDevice = device.kind === 'webgpu' && !split;
    const stepName = stepGraphsOf(this.model.sampler)[batch - 1];
    if (onDevice && this.model.graphs[stepName]) {
      // the device loop's own buffers (float32), and the step graph's intermediates (its inputs/outputs ARE those buffers)
      const C = this.model.facts.latentChannels;
      const latent = r.frames * C * h * w;
      loop = 4 * (batch * latent * 2 /* sample: 2C channels */ + batch * latent /* noise_pred */ + batch * latent /* image latents */ + 2 * latent /* latents ×2 */ +
        (this.model.sampler === 'animatelcm' ? latent : 0) + batch * this.model.facts.embeddingDim + batch * 3 + (batch === 2 ? r.frames : 0) + 1);
      const step = this.memory(stepName, { frames: r.frames, height: h, width: w });
      also = { ...step, activationPeak: Math.max(0, step.activationPeak - step.inputBytes - step.outputBytes) };
    }
    const how = batch === 2 ? (split ? 'guidance split: 2 calls of batch 1' : 'guidance batch 2 in one call') : 'batch 1 (no guidance)';
    return this.stage('denoise', `UNet, ${how}, ${r.frames} frames, ${h}×${w} latents`, 'unet', unet, device, { loop, also });
  }

  /** How many parts the UNet's session on the device loop is made in, for the session budget (1: whole; off the loop). */
  private unetParts(stage: StagePlan, batch: 1 | 2, device: DeviceLimits): number {
    if (device.kind !== 'webgpu' || !this.model.graphs[stepGraphsOf(this.model.sampler)[batch - 1]]) return 1;
    return Math.max(1, Math.ceil((stage.sessionJsBytes * PART_IMBALANCE) / (device.sessionPartBytes ?? SESSION_PART_BYTES)));
  }

  /**
   * The denoise stage with the UNet in `parts` (src/compiler/onnx/split-graph.ts cuts the same way at load time): each
   * part's session reads its own weights (+ its share of the .onnx), and the values crossing the cuts sit in buffers
   * of the chain's own for the whole loop.
   */
  private inParts(stage: StagePlan, r: PlanRequest, batch: 1 | 2, parts: number, device: DeviceLimits): StagePlan {
    const entry = this.model.graphs.unet;
    const f = this.model.facts.vaeScaleFactor;
    const shapes = inputShapesFor(entry.graph, { batch, frames: r.frames, height: r.height / f, width: r.width / f }, 'unet');
    const cuts = chooseCuts(entry.graph, evaluateGraph(entry.graph, shapes), parts, 'unet');
    const crossing = cuts.crossingBytes.reduce((a, b) => a + b, 0);
    const sessionJsBytes = Math.max(...cuts.partWeightBytes) + Math.ceil(entry.modelBytes / parts);
    const planned: StagePlan = { ...stage, loopBytes: stage.loopBytes + crossing, peakBytes: stage.peakBytes + crossing, sessionJsBytes };
    planned.fits = stageFits(planned, device, this.margin);
    return planned;
  }

  vaeDecoder(r: PlanRequest, chunk: number, device: DeviceLimits): StagePlan {
    const f = this.model.facts.vaeScaleFactor;
    const n = Math.min(chunk, r.frames);
    const m = this.memory('vae_decoder', { frames: n, latent_height: r.height / f, latent_width: r.width / f }, device);
    return this.stage('vae_decoder', `VAE decoder, ${n} frame${n === 1 ? '' : 's'} a chunk, ${r.width}×${r.height}`, 'vae_decoder', m, device);
  }

  /** The plan for one request on one device. */
  plan(request: PlanRequest, device: DeviceLimits, withSuggestions = true): RequestPlan {
    const multiple = this.model.facts.sizeMultiple;
    for (const [side, v] of [['width', request.width], ['height', request.height]] as const) {
      if (v % multiple !== 0) throw new Error(`${side} must be a multiple of ${multiple} for this model (got ${v})`);
    }
    const notes: string[] = [];
    const image = this.imageEncoder(device);
    const vae = this.vaeEncoder(request, device);

    const batch: 1 | 2 = request.guidance ? 2 : 1;
    let split = false;
    // on the device loop the UNet's session may be made in parts (for the JS heap); its buffers count in the fit
    const sessionParts: Partial<Record<NetworkName, number>> = {};
    let denoise = this.denoise(request, batch, false, device);
    const parts = this.unetParts(denoise, batch, device);
    if (parts > 1) denoise = this.inParts(denoise, request, batch, parts, device);
    if (!denoise.fits && batch === 2) {
      const halves = this.denoise(request, 2, true, device);
      if (halves.fits) notes.push(`the guidance batch of 2 needs ${formatBytes(denoise.peakBytes)}: the two halves run as separate UNet calls (same video, a little slower)`);
      split = true;
      denoise = halves;
    }

    const requested = Math.min(request.decodeChunk, request.frames);
    let chunk = requested;
    let decoder = this.vaeDecoder(request, chunk, device);
    while (!decoder.fits && chunk > 1) decoder = this.vaeDecoder(request, --chunk, device);
    const changes: PlanChange[] = [];
    if (chunk !== requested && decoder.fits) {
      changes.push({
        field: 'decode_chunk', from: requested, to: chunk,
        why: `decoding ${requested} frames at once needs ${formatBytes(this.vaeDecoder(request, requested, device).peakBytes)}; ${chunk} at a time fits. The decode chunk changes the video (the decoder sees fewer frames together), so it is a change to the request, not a detail`,
      });
    }

    if (!split && parts > 1) {
      sessionParts.unet = parts;
      notes.push(`the UNet's session is created in ${parts} parts, the largest reading ${formatBytes(denoise.sessionJsBytes)} (the JS heap holds one part's weights at a time); ${formatBytes(denoise.loopBytes)} of loop buffers include the values passed between parts`);
    }

    const stages = [image, vae, denoise, decoder];
    const sessionJsBytes = Math.max(...stages.map((s) => s.sessionJsBytes));
    const jsFits = device.jsHeapBytes === undefined || sessionJsBytes <= device.jsHeapBytes;
    const fits = stages.every((s) => s.fits) && jsFits;
    const largestBuffer = stages.map((s) => s.largest).reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const plan: RequestPlan = {
      request, device, margin: this.margin, guidanceBatch: split ? 1 : batch, splitGuidance: split, decodeChunk: chunk, changes, stages,
      peakBytes: Math.max(...stages.map((s) => s.peakBytes)), largestBuffer, sessionJsBytes, fits, notes,
      ...(Object.keys(sessionParts).length ? { sessionParts } : {}),
    };
    if (device.attention) {
      const graphOf: Record<StageName, NetworkName> = { image_encoder: 'image_encoder', vae_encoder: 'vae_encoder', denoise: 'unet', vae_decoder: 'vae_decoder' };
      plan.attentionChunking = Object.fromEntries(stages.filter((s) => s.attentionChunking).map((s) => [graphOf[s.stage], s.attentionChunking!]));
    }
    if (!jsFits) notes.push(`creating the ${stages.find((s) => s.sessionJsBytes === sessionJsBytes)!.stage} session reads ${formatBytes(sessionJsBytes)} into the JS heap (onnxruntime-web 1.30 reads external data whole); ${formatBytes(device.jsHeapBytes!)} is available`);
    if (!fits) plan.refusal = refusalMessage(plan, withSuggestions ? suggestAlternatives(this, request, device) : undefined);
    return plan;
  }
}

/** Whether a stage fits the device: its peak within (1 − margin) of the memory, its largest buffer within the limits. */
export function stageFits(s: Pick<StagePlan, 'peakBytes' | 'largest'>, device: DeviceLimits, margin: number): boolean {
  const memory = device.kind === 'wasm' ? WASM_MEMORY_BYTES : device.gpuBytes;
  if (memory !== undefined && s.peakBytes > memory * (1 - margin)) return false;
  const limit = bufferLimit(device);
  return limit === undefined || s.largest.bytes <= limit;
}

/** The largest buffer a kernel can bind: the smaller of maxBufferSize and maxStorageBufferBindingSize (WebGPU only). */
export function bufferLimit(device: DeviceLimits): number | undefined {
  if (device.kind !== 'webgpu') return undefined;
  const limits = [device.maxBufferSize, device.maxStorageBufferBindingSize].filter((x): x is number => x !== undefined);
  return limits.length ? Math.min(...limits) : undefined;
}
