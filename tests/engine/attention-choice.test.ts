/**
 * The engine's side of chunked attention: where the host's self-test found the fused kernel wrong, the loaded device
 * says so, and every job hands the runtime the memory plan's chunking (each graph's fused nodes, with chunk counts
 * that keep one chunk's scores within the budget) before any session is created; the device limits carry the budget,
 * never above the buffer limits. The store shows the load's verdict beside the probe.
 * Fixture A converted with fused attention, on onnxruntime-node (CPU, where fused is right, so the job completes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessEngine, type ModelHost } from '../../src/engine/in-process.ts';
import { readModelManifest } from '../../src/engine/node-host.ts';
import { deviceLimits } from '../../src/engine/memory-check.ts';
import { NodeRuntime } from '../../src/runtime/node.ts';
import { MemoryPlanner, DEFAULT_ATTENTION_SCORE_BYTES, attentionScoreBudget } from '../../src/plan/request-plan.ts';
import { planModelFromManifest } from '../../src/plan/model.ts';
import { convertCheckpoint } from '../../src/compiler/convert-folder.ts';
import { scoreBytes, largestChunkRows } from '../../src/compiler/onnx/chunked-attention.ts';
import type { DeviceInfo } from '../../src/contract/job.ts';
import type { AttentionChunking, ModelRuntime } from '../../src/runtime/types.ts';
import { probeAfterLoad } from '../../src/store/backend.ts';
import { fixturePath } from '../support/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'svd-fused-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const gpu: DeviceInfo = { device: 'webgpu', reason: 'test', features: [], maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27, crossOriginIsolated: false };
const verdict = { kind: 'chunked' as const, why: "the fused kernel failed this GPU's self-test (max error 4.8e-1); chunked attention passed (3.0e-7)" };
const pixels = { width: 64, height: 64, rgba: new Uint8ClampedArray(64 * 64 * 4).fill(120) };

describe('chunked attention in the engine', () => {
  it('the job gives the runtime the plan\'s chunking of every graph with fused attention, within the score budget', async () => {
    convertCheckpoint({ from: fixturePath('A'), out: dir, precision: 'fp32', attention: 'fused', defaultHeight: 64, defaultWidth: 64 });
    const given: (AttentionChunking | undefined)[] = [];
    const opened: string[] = [];
    const host: ModelHost = {
      probe: async () => gpu,
      open: async () => {
        const manifest = readModelManifest(dir);
        expect(manifest.attention).toBe('fused');
        const inner = new NodeRuntime(dir, manifest, { device: 'cpu' });
        const runtime: ModelRuntime = {
          device: inner.device, stats: inner.stats,
          open: (g) => (opened.push(g), inner.open(g)),
          useSessionPlan: (plan) => {
            expect(opened).toEqual([]); // before any session of the job
            given.push(plan.attention);
          },
        };
        const planner = async () => new MemoryPlanner(planModelFromManifest(manifest, (p) => new Uint8Array(readFileSync(join(dir, p)))));
        return { manifest, runtime, planner, attention: verdict, dispose: async () => {} };
      },
    };
    const engine = new InProcessEngine(host);
    const loaded = await engine.load({ source: { kind: 'dir', path: dir }, device: 'webgpu' });
    expect(loaded.backend === 'local' && loaded.device.attention).toEqual(verdict);

    const budget = 64 * 1024;
    const request = { frames: 2, steps: 1, width: 64, height: 64, min_guidance: 1, max_guidance: 2.5, decode_chunk: 2, seed: 1 };
    const result = await engine.generate({ image: { pixels }, request: request as never, memoryBudget: { attentionScoreBytes: budget } }); // the engine fills the defaults
    expect(result.frameCount).toBe(2);
    expect(given).toHaveLength(1);
    const chunking = given[0]!;
    expect(Object.keys(chunking).sort()).toEqual(['image_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
    const counts = Object.values(chunking).flatMap((g) => Object.values(g!).map((c) => c.chunks));
    expect(Math.max(...counts)).toBeGreaterThan(1);
    // the plan's chunks fit the budget (checked on the plan's own sites)
    const planner = new MemoryPlanner(planModelFromManifest(readModelManifest(dir), (p) => new Uint8Array(readFileSync(join(dir, p)))));
    const m = planner.memory('unet', { batch: 2, frames: 2, height: 32, width: 32 }, { kind: 'webgpu', attention: { kind: 'chunked', scoreBytes: budget } });
    for (const s of m.attentionSites) expect(scoreBytes(s, largestChunkRows(s.queries, s.chunks!))).toBeLessThanOrEqual(Math.max(budget, scoreBytes(s, 1)));
    await engine.release();
  }, 120_000);

  it('device limits: chunked with the user\'s score budget or the plan\'s (never above the buffer limit); none where fused is used', () => {
    expect(deviceLimits(gpu, undefined).attention).toBeUndefined();
    const chunkedGpu = { ...gpu, attention: verdict };
    expect(deviceLimits(chunkedGpu, undefined).attention).toEqual({ kind: 'chunked' });
    expect(deviceLimits(chunkedGpu, { attentionScoreBytes: 1000 }).attention).toEqual({ kind: 'chunked', scoreBytes: 1000 });
    // the plan's own budget: half the graph's largest other buffer, at least 512 MiB, within the buffer limit
    expect(attentionScoreBudget(100, undefined)).toBe(DEFAULT_ATTENTION_SCORE_BYTES);
    expect(attentionScoreBudget(2.4e9, undefined)).toBe(1.2e9);
    expect(attentionScoreBudget(2.4e9, 2 ** 30)).toBe(2 ** 30);
    expect(attentionScoreBudget(100, 2 ** 27)).toBe(2 ** 27);
    expect(deviceLimits({ ...chunkedGpu, device: 'wasm' }, undefined).attention).toBeUndefined();
  });

  it('the store keeps the probe and adds the load\'s verdict (the device line shows it)', () => {
    const probe = { status: 'done' as const, info: gpu };
    expect(probeAfterLoad(probe, { ...gpu, attention: verdict }).info?.attention).toEqual(verdict);
    expect(probeAfterLoad(probe, { ...gpu, device: 'wasm' })).toBe(probe);
    expect(probeAfterLoad({ status: 'pending' }, gpu)).toEqual({ status: 'done', info: gpu });
  });
});
