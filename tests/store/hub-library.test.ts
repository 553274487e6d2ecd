/**
 * The library slice's Hugging Face parts: the token's lifetime, the precision it picks, who may stand in for the Hub;
 * the fast entry (a UNet from a second repository): what it downloads, what it becomes, what the panel says of it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HUB_CUSTOM_JOB, HUB_TOKEN_KEY, createModelStore, hubEntryFacts, hubPrecision, hubUrlOverride } from '../../src/store/slices/library.ts';
import { HUB_CHECKPOINTS, hubEntryModelId, hubModelId } from '../../src/models/registry.ts';
import { estimateOutputBytes } from '../../src/convert/storage-plan.ts';
import type { HubDownloadRequest } from '../../src/models/model-delivery.ts';

// The download itself needs workers and OPFS: here only what the slice asks for is recorded.
const hubRequests = vi.hoisted(() => [] as unknown[]);
vi.mock('../../src/models/model-delivery.ts', async (original) => ({
  ...(await original<typeof import('../../src/models/model-delivery.ts')>()),
  downloadFromHub: async (req: unknown) => {
    hubRequests.push(req);
    throw new Error('recorded, not downloaded');
  },
}));

const XT = 'stabilityai/stable-video-diffusion-img2vid-xt';
const LCM = 'wangfuyun/AnimateLCM-SVD-xt';
const LCM_FILE = 'AnimateLCM-SVD-xt.safetensors';

class MemoryLocalStorage {
  private readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

const g = globalThis as unknown as { localStorage?: MemoryLocalStorage };

describe('library slice: Hugging Face', () => {
  beforeEach(() => {
    g.localStorage = new MemoryLocalStorage();
  });
  afterEach(() => {
    delete g.localStorage;
  });

  it('keeps the token in this origin’s storage, trims it, and forgets it', () => {
    const store = createModelStore();
    store.getState().setHubToken('  hf_abc  ');
    expect(store.getState().hub.token).toBe('hf_abc');
    expect(g.localStorage!.getItem(HUB_TOKEN_KEY)).toBe('hf_abc');
    expect(createModelStore().getState().hub.token).toBe('hf_abc'); // a reload reads it back
    store.getState().forgetHubToken();
    expect(store.getState().hub.token).toBe('');
    expect(g.localStorage!.getItem(HUB_TOKEN_KEY)).toBeNull();
    expect(store.getState().hub.notice).toMatch(/removed from this browser/);
  });

  it('picks q4f16 only where the GPU has shader-f16, unless the user chose', () => {
    expect(hubPrecision({ precision: 'auto', gpuF16: true })).toBe('q4f16');
    expect(hubPrecision({ precision: 'auto', gpuF16: false })).toBe('q4f32');
    expect(hubPrecision({ precision: 'auto', gpuF16: null })).toBe('q4f32');
    expect(hubPrecision({ precision: 'q4f16', gpuF16: false })).toBe('q4f16');
  });

  it('lets only a local http server stand in for the Hub (a crafted link cannot redirect the token)', () => {
    expect(hubUrlOverride('?hubUrl=http://127.0.0.1:4567/x')).toBe('http://127.0.0.1:4567');
    expect(hubUrlOverride('?hubUrl=http://localhost:80')).toBe('http://localhost');
    expect(hubUrlOverride('?hubUrl=https://evil.example')).toBeUndefined();
    expect(hubUrlOverride('?hubUrl=http://192.168.1.2:80')).toBeUndefined();
    expect(hubUrlOverride('')).toBeUndefined();
  });

  it('names each official entry’s model and estimate; refuses a malformed repository id without any request', async () => {
    const xt = HUB_CHECKPOINTS.find((c) => c.id === 'svd-xt')!;
    const facts = hubEntryFacts(xt, 'q4f16');
    expect(facts.modelId).toBe('svd-xt-q4f16');
    expect(facts.pageUrl).toBe('https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt');
    expect(facts.convertedBytes / 1e9).toBeGreaterThan(1.5); // ≈ 0.36 × 4.51 GB × 1.1 margin
    expect(facts.convertedBytes / 1e9).toBeLessThan(1.9);
    const store = createModelStore(undefined, undefined, 'http://127.0.0.1:1');
    store.getState().setHubRepoInput('not a repo');
    await store.getState().getFromHub();
    expect(store.getState().jobs[HUB_CUSTOM_JOB].error?.message).toMatch(/is not a Hugging Face repository id/);
  });
});

describe('the registry’s fast entry', () => {
  const entry = HUB_CHECKPOINTS.find((c) => c.id === 'svd-xt-fast')!;

  it('takes SVD-XT’s configs, image encoder and VAE and AnimateLCM’s fp32 UNet; says there is no licence tag', () => {
    expect(entry.label).toBe('SVD-XT fast (AnimateLCM, 4 steps)');
    expect(entry.repo).toBe(XT);
    expect(entry.unet).toMatchObject({ repo: LCM, revision: 'main', path: LCM_FILE, bytes: 6_098_682_464, sampler: 'animatelcm' });
    expect(entry.unet!.licence).toEqual({ name: 'the AnimateLCM-SVD-xt model card has no licence tag', url: `https://huggingface.co/${LCM}` });
    expect(entry).toMatchObject({ frames: 25, resolution: { width: 1024, height: 576 } });
    expect(entry.downloadBytes).toBe(1_264_217_240 + 195_531_910 + 6_098_682_464);
    expect(entry.note).toContain('4 steps, no guidance: about 12× less work than 25 guided steps');
  });

  it('becomes its own model (not SVD-XT’s), and a typed SVD-XT repository still means SVD-XT', () => {
    expect(hubEntryModelId(entry, 'q4f32')).toBe('svd-xt-fast-q4f32');
    expect(hubModelId(XT, 'q4f32')).toBe('svd-xt-q4f32');
    const facts = hubEntryFacts(entry, 'q4f16');
    expect(facts.modelId).toBe('svd-xt-fast-q4f16');
    expect(facts.unet).toEqual({ pageUrl: `https://huggingface.co/${LCM}`, storage: 'fp32' });
  });

  it('estimates the converted size and the peak from an fp32 UNet (half its bytes as fp16)', () => {
    const fastFacts = hubEntryFacts(entry, 'q4f16');
    const xtFacts = hubEntryFacts(HUB_CHECKPOINTS.find((c) => c.id === 'svd-xt')!, 'q4f16');
    // the same networks: the fp32 UNet (6.10 GB) converts to about what the fp16 one (3.05 GB) does
    expect(Math.abs(fastFacts.convertedBytes - xtFacts.convertedBytes) / xtFacts.convertedBytes).toBeLessThan(0.001);
    // the peak: image encoder and VAE outputs + the fp32 UNet source + its output, while it converts
    const out = (bytes: number, storage: 'fp16' | 'fp32') => estimateOutputBytes({ bytes, storage }, 'q4f16');
    expect(fastFacts.peakBytes).toBe(out(1_264_217_240, 'fp16') + out(195_531_910, 'fp16') + 6_098_682_464 + out(6_098_682_464, 'fp32'));
    expect(fastFacts.peakBytes - xtFacts.peakBytes).toBeGreaterThan(3e9);
  });

  it('asks for SVD-XT with the UNet from AnimateLCM-SVD-xt, as its own model; the other entries and a typed repository as before', async () => {
    hubRequests.length = 0;
    const store = createModelStore(undefined, undefined, 'http://127.0.0.1:1');
    await store.getState().getFromHub('svd-xt-fast');
    await store.getState().getFromHub('svd-xt');
    store.getState().setHubRepoInput(XT);
    await store.getState().getFromHub();
    const [fastReq, xtReq, typedReq] = hubRequests as HubDownloadRequest[];
    expect(fastReq).toMatchObject({ id: 'svd-xt-fast-q4f32', repo: XT, revision: 'main', precision: 'q4f32', unet: { repo: LCM, revision: 'main', path: LCM_FILE, sampler: 'animatelcm' } });
    expect(fastReq.label).toBe('SVD-XT fast (AnimateLCM, 4 steps) — q4f32');
    expect(xtReq).toMatchObject({ id: 'svd-xt-q4f32', repo: XT });
    expect(xtReq.unet).toBeUndefined();
    expect(typedReq).toMatchObject({ id: 'svd-xt-q4f32', repo: XT });
    expect(typedReq.unet).toBeUndefined();
    expect(store.getState().jobs['svd-xt-fast-q4f32'].error?.message).toBe('recorded, not downloaded');
  });
});
