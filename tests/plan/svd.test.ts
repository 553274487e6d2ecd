/**
 * The memory plan on the REAL SVD-XT / SVD configs (graphs built without weights, tests/plan/weightless.ts): peak
 * memory and largest buffer per stage at 14 and 25 frames and three sizes, printed as the README's table; sanity
 * relations between them; the unfused attention's score tensor (the README's 23.8 GB); and the plan's choices for
 * given budgets — batch 2, split halves, a smaller decode chunk — and its refusal, word for word.
 *
 * SVD and SVD-XT share every graph: their configs differ only in num_frames (the default frame count), which the
 * builders do not read, so one build serves both (checked below).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { presetConfigs } from '../../src/compiler/synthetic/configs.ts';
import { formatBytes } from '../../src/common/format.ts';
import { DEFAULT_ATTENTION_SCORE_BYTES, MemoryPlanner, type DeviceLimits, type PlanModel, type PlanRequest } from '../../src/plan/request-plan.ts';
import { formatPlan } from '../../src/plan/format.ts';
import { buildWeightless, weightlessModel } from './weightless.ts';

const GB = 1e9;
const SIZES: [number, number][] = [[1024, 576], [576, 1024], [576, 320]];
const FRAMES = [14, 25];
const request = (frames: number, width: number, height: number, decodeChunk = 8): PlanRequest => ({ frames, width, height, guidance: true, decodeChunk });
const NO_LIMITS: DeviceLimits = { kind: 'webgpu' };

let model: PlanModel;
let planner: MemoryPlanner;

beforeAll(() => {
  const t0 = performance.now();
  model = weightlessModel('svd-xt', 'q4f16', 'fused');
  planner = new MemoryPlanner(model);
  console.log(`built the SVD-XT q4f16 graphs without weights in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}, 300_000);

describe('memory plan, real SVD-XT / SVD configs (q4f16, fused attention as `svd-web convert` picks for them)', () => {
  it('SVD and SVD-XT differ only in the default frame count', () => {
    const [xt, svd] = [presetConfigs('svd-xt'), presetConfigs('svd')];
    expect({ ...svd.unet, num_frames: 25 }).toEqual(xt.unet);
    expect(svd.vae).toEqual(xt.vae);
    expect(svd.imageEncoder).toEqual(xt.imageEncoder);
  });

  it('peak and largest buffer per stage: the table, and the relations between its rows', () => {
    const rows: string[] = [];
    rows.push('| size (W×H) | frames | image encoder | VAE encoder | UNet loop, guidance batch 2 | UNet, split halves (batch 1) | VAE decoder, 8 frames a chunk | VAE decoder, 1 frame |');
    rows.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    const cell = (s: { peakBytes: number; largest: { bytes: number } }) => `${formatBytes(s.peakBytes)} / ${formatBytes(s.largest.bytes)}`;
    const at = new Map<string, ReturnType<MemoryPlanner['plan']>>();
    for (const [w, h] of SIZES) {
      for (const F of FRAMES) {
        const r = request(F, w, h);
        const plan = planner.plan(r, NO_LIMITS);
        at.set(`${w}x${h}x${F}`, plan);
        const [image, vae, unet, dec] = plan.stages;
        const split = planner.denoise(r, 2, true, NO_LIMITS);
        const one = planner.vaeDecoder(r, 1, NO_LIMITS);
        rows.push(`| ${w}×${h} | ${F} | ${cell(image)} | ${cell(vae)} | ${cell(unet)} | ${cell(split)} | ${cell(dec)} | ${cell(one)} |`);
        // split halves need less than the batch of 2; one frame a chunk less than 8
        expect(split.peakBytes).toBeLessThan(unet.peakBytes);
        expect(one.peakBytes).toBeLessThan(dec.peakBytes);
        // weights: the UNet's q4f16 weights are ~1.1 GB whatever the request
        expect(unet.weightBytes / GB).toBeGreaterThan(1.0);
        expect(unet.weightBytes / GB).toBeLessThan(1.3);
      }
    }
    console.log(['', 'peak / largest buffer, SVD-XT (= SVD) q4f16, fused attention, no limits:', ...rows].join('\n'));
    const unet = (w: number, h: number, F: number) => at.get(`${w}x${h}x${F}`)!.stages[2];
    for (const [w, h] of SIZES) {
      // 25 frames need more than 14
      expect(unet(w, h, 25).peakBytes).toBeGreaterThan(unet(w, h, 14).peakBytes);
      expect(unet(w, h, 25).largest.bytes).toBeGreaterThan(unet(w, h, 14).largest.bytes);
    }
    // monotone in size: 576×320 < 1024×576; the two orientations of the same pixels need the same
    for (const F of FRAMES) {
      expect(unet(576, 320, F).peakBytes).toBeLessThan(unet(1024, 576, F).peakBytes);
      expect(unet(576, 1024, F).peakBytes).toBeCloseTo(unet(1024, 576, F).peakBytes, -6);
      const dec = (w: number, h: number) => at.get(`${w}x${h}x${F}`)!.stages[3].peakBytes;
      expect(dec(576, 320)).toBeLessThan(dec(1024, 576));
    }
    console.log(`\n${formatPlan(at.get('1024x576x25')!)}`);
  });

  it('512×288 is no SVD size: sides must be multiples of 64 (the UNet halves the latents three times)', () => {
    expect(() => planner.plan(request(14, 512, 288), NO_LIMITS)).toThrow('height must be a multiple of 64 for this model (got 288)');
  });

  it('plain attention at 1024×576: the largest buffer is the spatial score tensor (23.8 GB in fp16 at 14 frames, batch 2); fused: far smaller', () => {
    const plain = buildWeightless('unet', 'svd-xt', 'q4f16', 'plain');
    const plainPlanner = new MemoryPlanner({ ...model, graphs: { ...model.graphs, unet: plain } });
    const r = request(14, 1024, 576);
    const p = plainPlanner.denoise(r, 2, false, NO_LIMITS);
    const f = planner.denoise(r, 2, false, NO_LIMITS);
    // scores [B·F, heads, L, L] = [28, 5, 9216, 9216] in fp16 = 23.78 GB; softmax reads them cast to float32: twice that
    const scores = 28 * 5 * 9216 * 9216 * 2;
    expect(scores / GB).toBeCloseTo(23.78, 2);
    expect(p.largest.bytes === scores || p.largest.bytes === 2 * scores).toBe(true);
    console.log(`plain attention, 14 frames 1024×576 batch 2: largest buffer ${formatBytes(p.largest.bytes)} (${p.largest.op} ${p.largest.name} [${p.largest.shape}]), peak ${formatBytes(p.peakBytes)}; fused: ${formatBytes(f.largest.bytes)} (${f.largest.op} [${f.largest.shape}]), peak ${formatBytes(f.peakBytes)}`);
    expect(f.largest.bytes).toBeLessThan(scores / 10);
    // the fused kernel's own scores, were it to materialise them (ORT's non-flash path): the same 23.8 GB
    expect(f.attentionScores!.bytes).toBe(scores);
  }, 120_000);

  describe('choices for a given device', () => {
    it('16 GB, 8 GB buffers: the guidance batch of 2 in one call, decode chunk 8 as asked', () => {
      const plan = planner.plan(request(25, 1024, 576), { kind: 'webgpu', gpuBytes: 16 * GB, maxBufferSize: 8 * GB, maxStorageBufferBindingSize: 8 * GB });
      expect(plan).toMatchObject({ fits: true, guidanceBatch: 2, splitGuidance: false, decodeChunk: 8, changes: [] });
    });

    it('memory between the split and the batch-of-2 needs: the halves run as two batch-1 calls (no change to the video)', () => {
      const r = request(25, 1024, 576, 1);
      // the batch of 2 on the device loop, its UNet made in parts (their values between parts counted): 10.34 GB
      const [batch2, split] = [planner.plan(r, NO_LIMITS).stages[2], planner.denoise(r, 2, true, NO_LIMITS)];
      const gpuBytes = Math.round((batch2.peakBytes + split.peakBytes) / 2 / 0.9);
      const plan = planner.plan(r, { kind: 'webgpu', gpuBytes });
      expect(plan).toMatchObject({ fits: true, guidanceBatch: 1, splitGuidance: true, decodeChunk: 1, changes: [] });
      expect(plan.sessionParts).toBeUndefined();
      expect(plan.notes[0]).toMatch(/^the guidance batch of 2 needs 10\.34 GB: the two halves run as separate UNet calls/);
    });

    it('a 2.5 GB buffer limit: 14 frames keep batch 2, the decode chunk drops from 8 to 4, and the plan says it changes the video', () => {
      const plan = planner.plan(request(14, 1024, 576), { kind: 'webgpu', gpuBytes: 24 * GB, maxBufferSize: 2.5 * GB, maxStorageBufferBindingSize: 2.5 * GB });
      expect(plan).toMatchObject({ fits: true, guidanceBatch: 2, splitGuidance: false, decodeChunk: 4 });
      expect(plan.changes).toEqual([{ field: 'decode_chunk', from: 8, to: 4, why: expect.stringContaining('The decode chunk changes the video') }]);
      expect(plan.stages[3].largest.bytes).toBeLessThanOrEqual(2.5 * GB);
    });

    it('a 4 GB GPU with 1 GB buffers: 25 frames at 1024×576 is refused, naming the need, the limit and what fits', () => {
      const plan = planner.plan(request(25, 1024, 576), { kind: 'webgpu', gpuBytes: 4 * GB, maxBufferSize: 1 * GB, maxStorageBufferBindingSize: 1 * GB });
      expect(plan.fits).toBe(false);
      expect(plan.refusal).toBe(
        '25 frames at 1024×576 need about 4.24 GB of GPU memory and a 1.18 GB buffer; this GPU allows 3.60 GB of 4.00 GB (10% kept free) ' +
          'and buffers up to 1.00 GB: try 19 frames or 512×512.',
      );
      // the suggestions are plans that fit, and the next frame up does not
      const device = plan.device;
      expect(planner.plan(request(19, 1024, 576), device).fits).toBe(true);
      expect(planner.plan(request(20, 1024, 576), device).fits).toBe(false);
      expect(planner.plan(request(25, 512, 512), device).fits).toBe(true);
    });

    it('a 2 GB GPU: 14 frames at 1024×576 fit only on the CPU or smaller', () => {
      const plan = planner.plan(request(14, 1024, 576), { kind: 'webgpu', gpuBytes: 2 * GB });
      expect(plan.fits).toBe(false);
      expect(plan.refusal).toBe('14 frames at 1024×576 need about 2.88 GB of GPU memory and a 660.6 MB buffer; this GPU allows 1.80 GB of 2.00 GB (10% kept free): try 5 frames, 576×320 or the CPU (slow).');
      expect(planner.plan(request(14, 1024, 576), { kind: 'wasm' }).fits).toBe(true);
    });
  });
  it('chunked attention (where the fused kernel fails the self-test): every chunk of scores within the budget, the plan counting them', () => {
    const chunked: DeviceLimits = { kind: 'webgpu', attention: { kind: 'chunked' } };
    const rows: string[] = [];
    for (const [w, h] of SIZES) {
      for (const F of FRAMES) {
        const r = request(F, w, h);
        const plan = planner.plan(r, chunked);
        const streamed = planner.plan(r, NO_LIMITS);
        const unet = plan.stages[2];
        const chunking = plan.attentionChunking!.unet!;
        const counts = Object.values(chunking).map((c) => c.chunks);
        const total = counts.reduce((a, b) => a + b, 0);
        rows.push(`${w}×${h}, ${F} frames: UNet ${counts.length} attention nodes in ${total} chunks (most ${Math.max(...counts)}) of ≤ ${formatBytes(unet.attentionScoreBytes!)} scores; peak ${formatBytes(unet.peakBytes)} vs ${formatBytes(streamed.stages[2].peakBytes)} fused; largest ${unet.largest.name} ${formatBytes(unet.largest.bytes)}`);
        // every graph with attention is chunked; no buffer of the plan is a full score matrix
        expect(Object.keys(plan.attentionChunking!).sort()).toEqual(['image_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
        // the budget is half the stage's largest other buffer (at least 512 MiB): chunk scores never set the largest buffer beyond it
        for (const s of plan.stages) {
          const before = streamed.stages.find((x) => x.stage === s.stage)!.largest.bytes;
          expect(s.largest.bytes, s.stage).toBeLessThanOrEqual(Math.max(DEFAULT_ATTENTION_SCORE_BYTES, before));
          if (s.attentionScoreBytes !== undefined) expect(s.attentionScoreBytes).toBe(Math.max(DEFAULT_ATTENTION_SCORE_BYTES, before / 2));
        }
        // a 512 MiB buffer limit caps the budget: more chunks, and every chunk's scores within the limit
        const symbols = { batch: 2, frames: F, height: h / 8, width: w / 8 };
        const capped = planner.memory('unet', symbols, { ...chunked, maxBufferSize: 2 ** 29 });
        expect(capped.attentionScoreBytes).toBe(2 ** 29);
        expect(capped.attentionSites.reduce((a, c) => a + c.chunks!, 0)).toBeGreaterThanOrEqual(total);
        // chunk scratch is counted: never less than the streamed (flash) estimate
        expect(unet.peakBytes).toBeGreaterThanOrEqual(streamed.stages[2].peakBytes);
        expect(Math.max(...counts)).toBeGreaterThan(1);
      }
    }
    console.log(['', 'chunked attention, the plan\'s score budget (no buffer limit):', ...rows].join('\n'));
  });
  it('the UNet session on the device loop in parts: each within 0.6 GB of JS heap, the values between parts counted', () => {
    const r = request(25, 1024, 576);
    const gpu: DeviceLimits = { kind: 'webgpu' };
    const plan = planner.plan(r, gpu);
    const unet = plan.stages[2];
    const whole = planner.denoise(r, 2, false, gpu);
    console.log(`UNet in parts at 1024×576, 25 frames: ${JSON.stringify(plan.sessionParts)}; largest part's session ${formatBytes(unet.sessionJsBytes)} (whole ${formatBytes(whole.sessionJsBytes)}); loop buffers ${formatBytes(whole.loopBytes)} → ${formatBytes(unet.loopBytes)}`);
    expect(plan.sessionParts).toEqual({ unet: 3 });
    expect(whole.sessionJsBytes).toBeGreaterThan(1.1e9);
    expect(unet.sessionJsBytes).toBeLessThanOrEqual(0.6e9);
    expect(plan.sessionJsBytes).toBeLessThanOrEqual(0.6e9);
    // the chain's buffers for the values crossing the cuts: more than nothing, less than the activations
    expect(unet.loopBytes).toBeGreaterThan(whole.loopBytes);
    expect(unet.loopBytes - whole.loopBytes).toBeLessThan(whole.activationPeak);
    expect(plan.notes.some((n) => /the UNet's session is created in 3 parts/.test(n))).toBe(true);
    // split guidance runs the UNet off the device loop, as one session
    const split = planner.plan(r, { kind: 'webgpu', gpuBytes: whole.peakBytes });
    expect(split.splitGuidance).toBe(true);
    expect(split.sessionParts).toBeUndefined();
    // a smaller session budget, more parts
    expect(planner.plan(r, { kind: 'webgpu', sessionPartBytes: 0.3e9 }).sessionParts!.unet).toBeGreaterThanOrEqual(4);
  });
});

