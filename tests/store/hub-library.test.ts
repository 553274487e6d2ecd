/** The library slice's Hugging Face parts: the token's lifetime, the precision it picks, who may stand in for the Hub. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HUB_CUSTOM_JOB, HUB_TOKEN_KEY, createModelStore, hubEntryFacts, hubPrecision, hubUrlOverride } from '../../src/store/slices/library.ts';
import { HUB_CHECKPOINTS } from '../../src/models/registry.ts';

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
