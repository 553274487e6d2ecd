/**
 * The device-resident denoising loop (src/pipeline/denoise.ts) against the CPU loop, on a fake device that behaves
 * like WebGPU: run() returns once the work is queued, the work happens later in queue order, readbacks and
 * whenIdle() wait for the queue. Checks what no real GPU test here can observe cheaply: the same buffers at every
 * step (graph capture's precondition), progress reported only after the device finished the step, nothing read
 * back but the final latents, and a cancelled loop waiting for its in-flight step before freeing buffers.
 */
import { describe, expect, it } from 'vitest';
import { denoiseOnCpu, denoiseOnDevice, type DenoiseInput, type LatentDims } from '../../src/pipeline/denoise.ts';
import { samplerFor } from '../../src/pipeline/sampler.ts';
import type { SamplerName } from '../../src/contract/manifest.ts';
import { guidanceScales } from '../../src/numerics/guidance.ts';
import { randn } from '../../src/numerics/rng.ts';
import type { DeviceResidency, DeviceSession, DeviceSessionOptions, DeviceTensor, GraphSession, Tensor32 } from '../../src/runtime/types.ts';
import type { GraphName } from '../../src/contract/manifest.ts';

const f32 = Math.fround;

/** A deterministic stand-in UNet: mixes the sample's two channel halves and the embedding, per frame. */
function fakeUnet(sample: Tensor32, embeds: Float32Array, timestep: number): Float32Array {
  const [b, F, c2, h, w] = sample.dims;
  const frame = (c2 / 2) * h * w;
  const D = embeds.length / b;
  const out = new Float32Array(b * F * frame);
  for (let r = 0; r < b * F; r++) {
    const emb = embeds[Math.floor(r / F) * D];
    for (let i = 0; i < frame; i++) out[r * frame + i] = f32(0.3 * sample.data[r * 2 * frame + i] + 0.05 * sample.data[r * 2 * frame + frame + i] + emb + 0.01 * timestep);
  }
  return out;
}

/**
 * The step graphs' arithmetic, written from their doc comments: guidance, then Euler v-prediction (denoise_step) or
 * the consistency function plus fresh noise (consistency_step), then the next UNet input.
 */
function fakeStep(graph: GraphName, f: Record<string, Float32Array>, d: LatentDims): { latents_next: Float32Array; sample_next: Float32Array } {
  const n = d.F * d.C * d.h * d.w;
  const frame = d.C * d.h * d.w;
  const next = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const fr = Math.floor(i / frame);
    const guided = d.batch === 2 ? f32(f.noise_pred[i] + f32(f.guidance[fr] * f32(f.noise_pred[n + i] - f.noise_pred[i]))) : f.noise_pred[i];
    if (graph.startsWith('consistency_step')) {
      const [cOut, cSkip, noiseScale] = f.coefs;
      const x0 = f32(f32(cOut * guided) + f32(cSkip * f.latents[i]));
      next[i] = f32(x0 + f32(f.noise[i] * noiseScale));
    } else {
      const [cOut, s2p1, sigma, dt] = f.coefs;
      const x0 = f32(f32(guided * cOut) + f32(f.latents[i] / s2p1));
      next[i] = f32(f.latents[i] + f32(f32(f32(f.latents[i] - x0) / sigma) * dt));
    }
  }
  const sample = new Float32Array(d.batch * n * 2);
  for (let b = 0; b < d.batch; b++) {
    for (let fr = 0; fr < d.F; fr++) {
      const row = (b * d.F + fr) * 2 * frame;
      for (let i = 0; i < frame; i++) {
        sample[row + i] = f32(next[fr * frame + i] / f.next_divisor[0]);
        sample[row + frame + i] = f.image_latents[(b * d.F + fr) * frame + i];
      }
    }
  }
  return { latents_next: next, sample_next: sample };
}

class FakeTensor implements DeviceTensor {
  disposed = false;
  constructor(
    readonly dims: number[],
    public data: Float32Array,
    private readonly log: string[],
  ) {}
  dispose(): void {
    this.disposed = true;
    this.log.push('dispose');
  }
}

/** A queue that runs its work later, one item per macrotask, in order. */
class FakeDevice implements DeviceResidency {
  readbacks = 0;
  readonly log: string[] = [];
  readonly tensors: FakeTensor[] = [];
  readonly sessions: { graph: GraphName; options: DeviceSessionOptions; feeds: Record<string, unknown>[]; outputs: Record<string, DeviceTensor>[]; released: boolean }[] = [];
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly d: LatentDims) {}

  private enqueue(label: string, work: () => void): Promise<void> {
    this.tail = this.tail.then(
      () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            work();
            this.log.push(`device: ${label}`);
            resolve();
          }, 1),
        ),
    );
    return this.tail;
  }

  private data(v: Tensor32 | DeviceTensor): Float32Array {
    return v instanceof FakeTensor ? v.data : (v as Tensor32).data;
  }

  async open(graph: GraphName, options: DeviceSessionOptions): Promise<DeviceSession> {
    const record = { graph, options, feeds: [] as Record<string, unknown>[], outputs: [] as Record<string, DeviceTensor>[], released: false };
    this.sessions.push(record);
    let runs = 0;
    return {
      capture: options.capture ? { on: true } : { on: false, reason: 'not asked for' },
      run: async (feeds, outputs) => {
        record.feeds.push(feeds);
        record.outputs.push(outputs);
        const k = runs++;
        this.log.push(`queued: ${graph} ${k}`);
        void this.enqueue(`${graph} ${k}`, () => {
          const f = Object.fromEntries(Object.entries(feeds).map(([name, v]) => [name, this.data(v).slice()]));
          if (graph === 'unet') {
            const sample = feeds.sample as FakeTensor;
            (outputs.noise_pred as FakeTensor).data = fakeUnet({ data: f.sample, dims: [...sample.dims] }, f.encoder_hidden_states, f.timestep[0]);
          } else {
            const r = fakeStep(graph, f, this.d);
            (outputs.latents_next as FakeTensor).data = r.latents_next;
            (outputs.sample_next as FakeTensor).data = r.sample_next;
          }
        });
      },
      release: async () => {
        record.released = true;
      },
    };
  }

  upload(t: Tensor32): DeviceTensor {
    const out = new FakeTensor([...t.dims], t.data.slice(), this.log);
    this.tensors.push(out);
    return out;
  }

  allocate(dims: readonly number[]): DeviceTensor {
    const out = new FakeTensor([...dims], new Float32Array(dims.reduce((a, b) => a * b, 1)), this.log);
    this.tensors.push(out);
    return out;
  }

  write(t: DeviceTensor, data: Float32Array): void {
    const copy = data.slice();
    void this.enqueue('write', () => ((t as FakeTensor).data = copy));
  }

  async read(t: DeviceTensor): Promise<Tensor32> {
    this.readbacks++;
    let data = new Float32Array();
    await this.enqueue('read', () => (data = (t as FakeTensor).data.slice()));
    return { data, dims: [...t.dims] };
  }

  whenIdle(): Promise<void> {
    return this.tail;
  }
}

function loopInput(d: LatentDims, steps: number, seed: number, events: string[] = [], samplerName: SamplerName = 'euler'): DenoiseInput {
  const n = d.F * d.C * d.h * d.w;
  const sampler = samplerFor({ sampler: samplerName }, steps, seed, n);
  const latents = randn(seed, n, { stream: 0 }).map((v) => v * sampler.initNoiseSigma);
  const imageLatent = randn(seed, d.C * d.h * d.w, { stream: 1 });
  const embeds = new Float32Array(d.batch * d.D);
  embeds.set(randn(seed, d.D, { stream: 2 }), (d.batch - 1) * d.D);
  const timeIds = new Float32Array(d.batch * 3).map((_, i) => [6, 127, 0.02][i % 3]);
  return {
    sampler,
    latents,
    imageLatent,
    embeds,
    timeIds,
    scales: guidanceScales(1, 3, d.F),
    dims: d,
    beforeStep: async () => {},
    afterStep: (i) => events.push(`afterStep ${i}`),
  };
}

/** The CPU loop with the same fake UNet, for comparison. */
async function cpuLatents(input: DenoiseInput): Promise<Float32Array> {
  const unet: GraphSession = {
    run: async (f) => ({ noise_pred: { data: fakeUnet(f.sample, f.encoder_hidden_states.data, f.timestep.data[0]), dims: [...f.sample.dims] } }),
    release: async () => {},
  };
  return denoiseOnCpu(async () => unet, input);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / scale;
}

describe('device-resident denoising loop', () => {
  for (const samplerName of ['euler', 'animatelcm'] as const) {
    for (const batch of [2, 1] as const) {
      const d: LatentDims = { batch, F: 3, C: 4, h: 2, w: 3, D: 5 };

      it(`computes what the CPU loop computes (${samplerName}, batch ${batch}), reading back only the final latents`, async () => {
        const device = new FakeDevice(d);
        const report = await denoiseOnDevice(device, (g, o) => device.open(g, o), { ...loopInput(d, 4, 11, [], samplerName), capture: true });
        const expected = await cpuLatents(loopInput(d, 4, 11, [], samplerName));
        // float32 rounding of the same operations in another order: 1e-6 of the largest value
        expect(maxRelDiff(report.latents, expected)).toBeLessThanOrEqual(1e-6);
        expect(device.readbacks).toBe(1);
        expect(report.capture).toEqual({ on: true });
        expect(device.sessions[1].graph).toBe(`${samplerName === 'euler' ? 'denoise_step' : 'consistency_step'}${batch === 2 ? '_cfg' : ''}`);
        // a different seed gives different latents (the comparison above can fail)
        expect(maxRelDiff((await cpuLatents(loopInput(d, 4, 12, [], samplerName))), expected)).toBeGreaterThan(1e-3);
      });
    }
  }

  it('the consistency sampler draws fresh noise each step from the seed: the same seed gives the same latents, the step noise matters', async () => {
    const d: LatentDims = { batch: 1, F: 3, C: 4, h: 2, w: 3, D: 5 };
    const a = await cpuLatents(loopInput(d, 4, 11, [], 'animatelcm'));
    expect(maxRelDiff(await cpuLatents(loopInput(d, 4, 11, [], 'animatelcm')), a)).toBe(0);
    // same initial latents and conditioning, other step noise (another seed for the sampler only): another result
    const other = loopInput(d, 4, 11, [], 'animatelcm');
    other.sampler = samplerFor({ sampler: 'animatelcm' }, 4, 99, d.F * d.C * d.h * d.w);
    expect(maxRelDiff(await cpuLatents(other), a)).toBeGreaterThan(1e-3);
  });

  const d: LatentDims = { batch: 2, F: 3, C: 4, h: 2, w: 3, D: 5 };

  it('feeds the UNet the same device tensors at every step (no allocation per step), opened for fixed shapes', async () => {
    const device = new FakeDevice(d);
    await denoiseOnDevice(device, (g, o) => device.open(g, o), { ...loopInput(d, 5, 3), capture: true });
    const [unet, step] = device.sessions;
    expect(unet.graph).toBe('unet');
    expect(unet.options.capture).toBe(true);
    expect(unet.options.shapes.sample).toEqual([2, 3, 8, 2, 3]);
    expect(step.graph).toBe('denoise_step_cfg');
    expect(step.options.capture).toBeFalsy();
    expect(unet.feeds).toHaveLength(5);
    for (const [k, feeds] of unet.feeds.entries()) {
      for (const name of Object.keys(feeds)) expect(feeds[name], `unet run ${k} input ${name}`).toBe(unet.feeds[0][name]);
      expect(unet.outputs[k].noise_pred).toBe(unet.outputs[0].noise_pred);
      // the step graph writes the next UNet input into the UNet's own input buffer
      expect(step.outputs[k].sample_next).toBe(unet.feeds[0].sample);
      expect(step.feeds[k].noise_pred).toBe(unet.outputs[0].noise_pred);
    }
    // latents alternate between two buffers
    expect(step.outputs[0].latents_next).toBe(step.feeds[1].latents);
    expect(step.outputs[1].latents_next).toBe(step.feeds[0].latents);
    expect(unet.released && step.released).toBe(true);
    expect(device.tensors.every((t) => t.disposed)).toBe(true);
  });

  it('reports a step only once the device has finished it, with one step queued ahead', async () => {
    const device = new FakeDevice(d);
    const events = device.log;
    await denoiseOnDevice(device, (g, o) => device.open(g, o), loopInput(d, 3, 5, events));
    for (let i = 0; i < 3; i++) {
      const reported = events.indexOf(`afterStep ${i}`);
      expect(reported, `step ${i} reported`).toBeGreaterThan(events.indexOf(`device: denoise_step_cfg ${i}`));
      expect(events.indexOf(`device: denoise_step_cfg ${i}`)).toBeGreaterThan(-1);
      // step i + 1 was queued before step i was reported: the device always has the next step
      if (i < 2) expect(events.indexOf(`queued: unet ${i + 1}`)).toBeLessThan(reported);
    }
    expect(events.filter((e) => e.startsWith('afterStep'))).toEqual(['afterStep 0', 'afterStep 1', 'afterStep 2']);
  });

  it('a cancel between steps stops the loop and frees its buffers after the step in flight', async () => {
    const device = new FakeDevice(d);
    const input = loopInput(d, 10, 5);
    input.beforeStep = async (i) => {
      if (i === 3) throw new Error('generation cancelled');
    };
    await expect(denoiseOnDevice(device, (g, o) => device.open(g, o), input)).rejects.toThrow('generation cancelled');
    const [unet, step] = device.sessions;
    expect(unet.feeds).toHaveLength(3);
    // the third step was in flight at the cancel: it finished before anything was freed
    const finished = device.log.indexOf('device: denoise_step_cfg 2');
    expect(finished).toBeGreaterThan(-1);
    expect(device.log.indexOf('dispose')).toBeGreaterThan(finished);
    expect(device.tensors.every((t) => t.disposed)).toBe(true);
    expect(unet.released && step.released).toBe(true);
    expect(device.readbacks).toBe(0);
  });
});
