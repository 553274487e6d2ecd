/**
 * A checkpoint whose UNet comes from a second repository (the fast model: AnimateLCM-SVD-xt's single fp32 file), against
 * the fake Hub over real HTTP: which files are selected from which listing, with which sha256, and what is refused in
 * words (the registry entry and what the Hub panel says of it: tests/store/hub-library.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type FakeHub } from '../../e2e/support/hub-server.ts';
import { fetchRepoListing, openHubFile, resolveUrl, type HubListing } from '../../src/hub/hub-api.ts';
import { replacementStorage, selectCheckpointFiles } from '../../src/hub/checkpoint-files.ts';
import { ModelDeliveryError } from '../../src/models/errors.ts';

const XT = 'stabilityai/stable-video-diffusion-img2vid-xt';
const LCM = 'wangfuyun/AnimateLCM-SVD-xt';
const LCM_FILE = 'AnimateLCM-SVD-xt.safetensors';
const GATED_UNET = 'someone/gated-unet';
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const rnd = (n: number) => new Uint8Array(randomBytes(n));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const base: Record<string, Uint8Array> = {
  'model_index.json': json({ _class_name: 'StableVideoDiffusionPipeline' }),
  'unet/config.json': json({ in_channels: 8 }),
  'vae/config.json': json({ latent_channels: 4 }),
  'image_encoder/config.json': json({ hidden_size: 1280 }),
  'scheduler/scheduler_config.json': json({ _class_name: 'EulerDiscreteScheduler' }),
  'unet/diffusion_pytorch_model.fp16.safetensors': rnd(48_000),
  'vae/diffusion_pytorch_model.fp16.safetensors': rnd(20_000),
  'image_encoder/model.fp16.safetensors': rnd(12_000),
};
const lcm: Record<string, Uint8Array> = {
  [LCM_FILE]: rnd(96_000),
  'AnimateLCM-SVD-xt-1.1.safetensors': rnd(96_000),
  'demo/01.gif': rnd(30_000),
  'README.md': new TextEncoder().encode('# AnimateLCM-SVD-xt\n'),
};

let hub: FakeHub;
let xt: HubListing;
let fast: HubListing;
beforeAll(async () => {
  hub = await startHubServer({
    repos: [
      { repo: XT, files: base },
      { repo: LCM, files: lcm },
      { repo: GATED_UNET, files: lcm, gated: 'manual' },
    ],
    tokens: { accepted: ['hf_t'] },
  });
  const opts = { hubUrl: hub.hubUrl, maxAttempts: 2, backoffBaseMs: 5, backoffCapMs: 20, timeoutMs: 5000 };
  xt = await fetchRepoListing({ repo: XT, revision: 'main' }, opts);
  fast = await fetchRepoListing({ repo: LCM, revision: 'main' }, opts);
});
afterAll(() => hub.close());

describe('a UNet from a second repository', () => {
  it('selects the base configs, image encoder and VAE, and the UNet file of the second listing with its LFS sha256', () => {
    const sel = selectCheckpointFiles(xt, { listing: fast, path: LCM_FILE });
    expect(sel.configs.map((f) => f.path)).toContain('unet/config.json');
    expect(sel.weights.unet).toEqual({ path: LCM_FILE, bytes: lcm[LCM_FILE].length, sha256: sha256(lcm[LCM_FILE]) });
    expect(sel.weights.vae.path).toBe('vae/diffusion_pytorch_model.fp16.safetensors');
    expect(sel.weights.image_encoder.path).toBe('image_encoder/model.fp16.safetensors');
    expect(sel.storage).toEqual({ unet: 'fp32', vae: 'fp16', image_encoder: 'fp16' });
    expect(sel.origins).toEqual({
      unet: { repo: LCM, commit: fast.commit },
      vae: { repo: XT, commit: xt.commit },
      image_encoder: { repo: XT, commit: xt.commit },
    });
    expect(fast.commit).not.toBe(xt.commit);
    // the base's own UNet weights are not selected, nor anything else of the second repository
    const chosen = [...sel.configs, ...Object.values(sel.weights)].map((f) => f.path);
    expect(chosen).not.toContain('unet/diffusion_pytorch_model.fp16.safetensors');
    for (const decoy of ['AnimateLCM-SVD-xt-1.1.safetensors', 'demo/01.gif', 'README.md']) expect(chosen).not.toContain(decoy);
    const configBytes = sel.configs.reduce((a, f) => a + f.bytes, 0);
    expect(sel.downloadBytes).toBe(configBytes + base['vae/diffusion_pytorch_model.fp16.safetensors'].length + base['image_encoder/model.fp16.safetensors'].length + lcm[LCM_FILE].length);
  });

  it('does not need the base repository’s UNet weights, but still its unet/config.json', () => {
    const noUnet = { ...xt, files: xt.files.filter((f) => !f.path.startsWith('unet/diffusion_pytorch_model')) };
    expect(() => selectCheckpointFiles(noUnet)).toThrow(/lacks unet\/diffusion_pytorch_model\.fp16\.safetensors/);
    expect(selectCheckpointFiles(noUnet, { listing: fast, path: LCM_FILE }).weights.unet.path).toBe(LCM_FILE);
    const noConfig = { ...xt, files: xt.files.filter((f) => f.path !== 'unet/config.json') };
    expect(() => selectCheckpointFiles(noConfig, { listing: fast, path: LCM_FILE })).toThrow(/lacks unet\/config\.json/);
  });

  it('names the repository and the file when the UNet file is missing or unverifiable, and what it holds instead', () => {
    const renamed = { ...fast, files: fast.files.filter((f) => f.path !== LCM_FILE) };
    let err: ModelDeliveryError | undefined;
    try {
      selectCheckpointFiles(xt, { listing: renamed, path: LCM_FILE });
    } catch (e) {
      err = e as ModelDeliveryError;
    }
    expect(err).toBeInstanceOf(ModelDeliveryError);
    expect(err!.code).toBe('not-found');
    expect(err!.message).toContain(`${LCM} (revision main) has no file ${LCM_FILE}`);
    expect(err!.message).toContain('it holds AnimateLCM-SVD-xt-1.1.safetensors');
    expect(err!.message).toContain(`https://huggingface.co/${LCM}`);
    const noSha = { ...fast, files: fast.files.map((f) => (f.path === LCM_FILE ? { path: f.path, bytes: f.bytes } : f)) };
    expect(() => selectCheckpointFiles(xt, { listing: noSha, path: LCM_FILE })).toThrow(`Hugging Face lists no sha256 for ${LCM_FILE} of ${LCM}`);
  });

  it('reads the UNet file through its own repository’s resolve URL at its commit, the token reaching the Hub only', async () => {
    const url = resolveUrl(hub.hubUrl, LCM, fast.commit, LCM_FILE);
    expect(url).toBe(`${hub.hubUrl}/${LCM}/resolve/${fast.commit}/${LCM_FILE}`);
    const open = openHubFile(url, { hubUrl: hub.hubUrl, repo: LCM, revision: fast.commit, path: LCM_FILE, token: 'hf_t', stallTimeoutMs: 5000 });
    const { start, body } = await open(1000, new AbortController().signal);
    expect(start).toBe(1000);
    const got = new Uint8Array(await new Response(body).arrayBuffer());
    expect(got).toEqual(lcm[LCM_FILE].subarray(1000));
    const mine = hub.log.filter((r) => r.path.includes(LCM_FILE) || r.origin === 'cdn');
    expect(mine.some((r) => r.origin === 'hub' && r.authorization === 'Bearer hf_t')).toBe(true);
    for (const r of mine) if (r.origin === 'cdn') expect(r.authorization).toBeUndefined();
    expect(hub.bytesServed('AnimateLCM-SVD-xt-1.1.safetensors')).toBe(0);
  });

  it('the second repository’s refusals name it (gated, no such repository, no such revision)', async () => {
    const opts = { hubUrl: hub.hubUrl, maxAttempts: 1, timeoutMs: 5000 };
    const gated = await fetchRepoListing({ repo: GATED_UNET, revision: 'main' }, opts); // listings of gated repositories are public
    const open = openHubFile(resolveUrl(hub.hubUrl, GATED_UNET, gated.commit, LCM_FILE), { hubUrl: hub.hubUrl, repo: GATED_UNET, revision: gated.commit, path: LCM_FILE, stallTimeoutMs: 5000 });
    const e = await open(0, new AbortController().signal).then(() => null, (x: unknown) => x as ModelDeliveryError);
    expect(e).toBeInstanceOf(ModelDeliveryError);
    expect(e!.message).toContain(`${GATED_UNET} is a gated repository`);
    await expect(fetchRepoListing({ repo: 'wangfuyun/No-Such-UNet', revision: 'main' }, opts)).rejects.toThrow('Hugging Face has no repository wangfuyun/No-Such-UNet');
    await expect(fetchRepoListing({ repo: LCM, revision: 'v9' }, opts)).rejects.toThrow(`${LCM} has no revision "v9"`);
  });

  it('tells an fp32 single file from an fp16 one by its name', () => {
    expect(replacementStorage(LCM_FILE)).toBe('fp32');
    expect(replacementStorage('unet/diffusion_pytorch_model.fp16.safetensors')).toBe('fp16');
    expect(replacementStorage('model-f16.safetensors')).toBe('fp16');
    expect(replacementStorage('unet_half.safetensors')).toBe('fp16');
    expect(replacementStorage('behalf.safetensors')).toBe('fp32');
  });
});
