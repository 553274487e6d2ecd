/**
 * The CLI's engine (in-process, onnxruntime-node) and the Segmind engine take the same request through the same
 * SvdEngine interface and give the same result shape (the worker engine is the in-process engine behind the
 * protocol: tests/engine/worker-client.test.ts and the e2e pipeline tests).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRequest, type SvdRequest } from '../../src/contract/request.ts';
import type { FrameBatch, GenerateJob, VideoResult } from '../../src/contract/job.ts';
import type { SvdEngine } from '../../src/engine/engine.ts';
import { InProcessEngine } from '../../src/engine/in-process.ts';
import { NodeModelHost } from '../../src/engine/node-host.ts';
import { SegmindEngine } from '../../src/engine/segmind/engine.ts';
import { bytesToBase64 } from '../../src/common/base64.ts';
import { startSegmindServer, type SegmindServer } from '../support/segmind-server.ts';
import { fixtureModel } from '../support/models.ts';

const KEY = 'sk-one-interface';
let server: SegmindServer;
beforeAll(async () => {
  server = await startSegmindServer({ apiKey: KEY });
});
afterAll(async () => {
  await server.close();
});

/** One request every engine accepts: Segmind's frame counts, a fixed seed, one step (the tiny model's cost). */
function request(): SvdRequest {
  const checked = validateRequest({ fps: 7, motion: 100, seed: 4242, cond_aug: 0.02, frames: 14, steps: 1, decode_chunk: 7 }, { backend: 'segmind' });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.request;
}

const image = { width: 48, height: 40, rgba: new Uint8ClampedArray(48 * 40 * 4).fill(120) };

async function run(engine: SvdEngine, model: Parameters<SvdEngine['load']>[0]): Promise<{ result: VideoResult; batches: FrameBatch[]; stages: string[] }> {
  const job: GenerateJob = { image: { pixels: image, base64: async () => bytesToBase64(new Uint8Array([0x89, 0x50, 0x4e, 0x47])) }, request: request() };
  const batches: FrameBatch[] = [];
  const stages: string[] = [];
  await engine.load(model);
  try {
    const result = await engine.generate(job, { onFrames: (b) => batches.push(b), onProgress: (p) => stages.push(p.stage) });
    return { result, batches, stages };
  } finally {
    await engine.release();
  }
}

describe('one engine interface', () => {
  it('the in-process engine and the Segmind engine answer one request with one result shape', async () => {
    const local = await run(new InProcessEngine(new NodeModelHost()), { source: { kind: 'dir', path: fixtureModel('fp32').dir }, device: 'wasm' });
    const remote = await run(new SegmindEngine({ apiKey: () => KEY, endpoint: server.url }), undefined);

    // The common part is the same, from the same request.
    const common = (r: VideoResult) => ({ seed: r.seed, fps: r.fps, frameCount: r.frameCount });
    expect(common(local.result)).toEqual({ seed: 4242, fps: 7, frameCount: 14 });
    expect(common(remote.result)).toEqual(common(local.result));
    // Each says where it was made and carries its own details, never the other's.
    expect(local.result).toMatchObject({ backend: 'local', width: 64, height: 64, local: { device: 'wasm', loop: 'cpu', readbacks: { denoise: 1 } } });
    expect(local.result.video).toBeUndefined();
    expect(remote.result).toMatchObject({ backend: 'segmind', video: { mimeType: 'video/mp4' }, remote: { requestId: expect.any(String) } });
    expect(remote.result.local).toBeUndefined();
    // Local frames arrive batch by batch (2 chunks of 7); Segmind's video arrives encoded.
    expect(local.batches.map((b) => [b.start, b.frames.length])).toEqual([[0, 7], [7, 7]]);
    expect(local.stages).toContain('denoise');
    expect(remote.batches).toEqual([]);
    expect(new TextDecoder().decode(remote.result.video!.bytes.subarray(4, 8))).toBe('ftyp');
    // The request Segmind received is the Segmind part of the same request.
    expect(server.requests.at(-1)?.body).toMatchObject({ fps: 7, motion: 100, seed: 4242, cond_aug: 0.02, frames: 14 });
  }, 120_000);

  it('both engines refuse a cancelled job with their "aborted" error', async () => {
    const ac = new AbortController();
    ac.abort();
    const engine = new InProcessEngine(new NodeModelHost());
    await engine.load({ source: { kind: 'dir', path: fixtureModel('fp32').dir }, device: 'wasm' });
    const job: GenerateJob = { image: { pixels: image, base64: async () => 'iVBORw0KGgo=' }, request: request() };
    await expect(engine.generate(job, { signal: ac.signal })).rejects.toMatchObject({ name: 'EngineError', code: 'aborted' });
    await engine.release();
    await expect(new SegmindEngine({ apiKey: () => KEY, endpoint: server.url }).generate(job, { signal: ac.signal })).rejects.toMatchObject({ name: 'SegmindError', kind: 'aborted' });
  });
});
