/**
 * Device-resident execution on onnxruntime-web's WebGPU EP: tensors stay in GPU buffers of ours between runs, so a
 * loop runs on fixed buffers and ORT can capture and replay it. A graph the session plan cuts into parts (the UNet
 * of a large model: src/compiler/onnx/split-graph.ts) runs as a chain of part sessions on GPU buffers.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { graphEntry, type GraphName, type ModelManifest } from '../contract/manifest.ts';
import type { DeviceResidency, DeviceSession, DeviceSessionOptions, DeviceTensor, Tensor32 } from './types.ts';
import { staticDimensions } from './shapes.ts';
import type { WebRuntime } from './web.ts';

/** Element types a GPU tensor of ours may hold: float32 (the pipeline's), float16 (values between parts of a graph). */
type GpuDataType = 'float32' | 'float16';

/** A GPU buffer of ours, seen by ORT as a tensor (float32 unless said). */
class GpuTensor implements DeviceTensor {
  readonly tensor: ort.Tensor;

  constructor(
    readonly buffer: GPUBuffer,
    readonly dims: readonly number[],
    readonly dataType: GpuDataType = 'float32',
  ) {
    this.tensor = ort.Tensor.fromGpuBuffer(buffer, { dataType, dims });
  }

  get byteLength(): number {
    return byteSize(this.dims, this.dataType);
  }

  dispose(): void {
    this.buffer.destroy();
  }
}

const PARTS_NOT_CAPTURED = { on: false as const, reason: 'a graph made in parts is not captured (replaying several captured sessions gave wrong results in onnxruntime-web 1.30)' };

/** ORT refuses graph capture at session creation when a node would run on the CPU; this is how it says so. */
const CAPTURE_REFUSED = /graph capture/i;

/**
 * Keeps tensors in GPU buffers between runs. Every buffer is ours (uploads, allocations, and pre-allocated outputs
 * that ORT writes into), so a loop can run on fixed buffers and ORT can capture and replay it.
 */
export class WebGpuResidency implements DeviceResidency {
  readbacks = 0;

  constructor(
    private readonly runtime: WebRuntime,
    private readonly manifest: ModelManifest,
    private readonly device: GPUDevice,
  ) {}

  async open(graph: GraphName, options: DeviceSessionOptions): Promise<DeviceSession> {
    const parts = this.runtime.partsOf(graph);
    if (parts > 1) return this.openParts(graph, options, parts);
    const inputs = graphEntry(this.manifest, graph).inputs;
    const dimensions = inputs ? staticDimensions(graph, inputs, options.shapes) : undefined;
    if (options.capture && !dimensions) {
      return this.openSession(graph, { capture: false, dimensions }, { on: false, reason: 'the model does not record its input shapes (convert it again with this version)' }, (setup) => this.runtime.createSession(graph, setup));
    }
    return this.openSession(graph, { capture: !!options.capture, dimensions }, { on: false, reason: 'not asked for' }, (setup) => this.runtime.createSession(graph, setup));
  }

  /**
   * The graph as a chain of part sessions, each created from its own weights (one part's in the JS heap at a time),
   * with the values crossing between parts in GPU buffers of their own, allocated once for the session's life.
   */
  private async openParts(graph: GraphName, options: DeviceSessionOptions, count: number): Promise<DeviceSession> {
    const parts = await this.runtime.split(graph, options.shapes, count);
    const sessions: DeviceSession[] = [];
    const crossing = new Map<string, GpuTensor>();
    try {
      for (const [k, part] of parts.entries()) {
        const label = `${graph} (part ${k + 1} of ${parts.length})`;
        // the part's inputs are static: no dimensions to fix. Not captured: replaying several captured sessions on
        // one device gave wrong frames in onnxruntime-web 1.30 (4e-3 from the whole graph's, vs 5e-6 uncaptured)
        sessions.push(await this.openSession(label, { capture: false }, PARTS_NOT_CAPTURED, (setup) => this.runtime.createSession(graph, setup, () => this.runtime.partSource(part))));
        for (const o of part.outputs) {
          if (k < parts.length - 1 && parts.slice(k + 1).some((p) => p.inputs.some((i) => i.name === o.name))) crossing.set(o.name, this.allocateTyped(o.dims, gpuType(o.elemType, label, o.name)));
        }
      }
    } catch (e) {
      for (const s of sessions) await s.release();
      for (const t of crossing.values()) t.dispose();
      throw e;
    }
    return {
      capture: options.capture ? PARTS_NOT_CAPTURED : { on: false, reason: 'not asked for' },
      run: async (feeds, outputs) => {
        for (const [k, part] of parts.entries()) {
          const partFeeds: Record<string, Tensor32 | DeviceTensor> = {};
          for (const i of part.inputs) {
            const v = crossing.get(i.name) ?? feeds[i.name];
            if (!v) throw new Error(`${graph}: part ${k + 1} needs "${i.name}", which nothing gave`);
            partFeeds[i.name] = v;
          }
          const partOutputs: Record<string, DeviceTensor> = {};
          for (const o of part.outputs) {
            const t = crossing.get(o.name) ?? outputs[o.name];
            if (t) partOutputs[o.name] = t;
          }
          await sessions[k].run(partFeeds, partOutputs);
        }
      },
      release: async () => {
        for (const s of sessions) await s.release();
        for (const t of crossing.values()) t.dispose();
        crossing.clear();
      },
    };
  }

  /** One ORT session as a DeviceSession; captured where asked and ORT agrees. */
  private async openSession(
    label: string,
    setup: { capture: boolean; dimensions?: Record<string, number> },
    notCaptured: { on: false; reason: string },
    create: (setup: SessionSetupLike) => Promise<ort.InferenceSession>,
  ): Promise<DeviceSession> {
    const { dimensions } = setup;
    let capture: DeviceSession['capture'] = notCaptured;
    let session: ort.InferenceSession | undefined;
    if (setup.capture) {
      try {
        session = await create({ outputsOnGpu: true, dimensions, capture: true });
        capture = { on: true };
      } catch (e) {
        if (!CAPTURE_REFUSED.test(String((e as Error).message))) throw e;
        capture = { on: false, reason: `onnxruntime refused it: ${(e as Error).message}` };
      }
    }
    session ??= await create({ outputsOnGpu: true, dimensions });
    const ready = session;
    const toOrt = (v: Tensor32 | DeviceTensor): ort.Tensor => (v instanceof GpuTensor ? v.tensor : new ort.Tensor('float32', (v as Tensor32).data, (v as Tensor32).dims));
    if (!capture.on) {
      return {
        capture,
        run: async (feeds, outputs) => {
          const fetches = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, (v as GpuTensor).tensor]));
          await this.runtime.timedRun(ready, mapValues(feeds, toOrt), fetches);
        },
        release: () => ready.release(),
      };
    }
    // A captured session binds its inputs and outputs at the first run and replays onto those very buffers ever
    // after: onnxruntime-web ignores the tensors of later runs. So the session owns its input buffers and each run
    // copies the caller's inputs into them, on the device; a loop that keeps the session across jobs stays correct.
    // Outputs are left to ORT (pre-allocated ones break in 1.30: after the first run ORT stops recognising them and
    // looks up a buffer handle it has already released) and copied into the caller's tensors after each run.
    const bound = new Map<string, GpuTensor>();
    const boundFor = (name: string, like: { dims: readonly number[]; dataType: GpuDataType }): GpuTensor => {
      let t = bound.get(name);
      if (!t) bound.set(name, (t = this.allocateTyped(like.dims, like.dataType)));
      else if (t.dims.join() !== like.dims.join()) throw new Error(`${label}: "${name}" was bound as [${t.dims}] and cannot take [${like.dims}] (the session is captured for fixed shapes)`);
      return t;
    };
    return {
      capture,
      run: async (feeds, outputs) => {
        const copyIn = this.device.createCommandEncoder();
        const inputsOrt: Record<string, ort.Tensor> = {};
        for (const [name, v] of Object.entries(feeds)) {
          const target = boundFor(name, v instanceof GpuTensor ? v : { dims: v.dims, dataType: 'float32' });
          if (v instanceof GpuTensor) copyIn.copyBufferToBuffer(v.buffer, 0, target.buffer, 0, v.byteLength);
          else this.write(target, (v as Tensor32).data);
          inputsOrt[name] = target.tensor;
        }
        this.device.queue.submit([copyIn.finish()]);
        const out = await this.runtime.timedRun(ready, inputsOrt, Object.keys(outputs));
        const copyOut = this.device.createCommandEncoder();
        for (const [name, v] of Object.entries(outputs)) {
          const produced = out[name];
          if (!produced) throw new Error(`${label}: the run gave no output "${name}"`);
          if (produced.dims.join() !== v.dims.join()) throw new Error(`${label}: output "${name}" is [${produced.dims}], the caller's tensor [${v.dims}]`);
          copyOut.copyBufferToBuffer(produced.gpuBuffer, 0, (v as GpuTensor).buffer, 0, (v as GpuTensor).byteLength);
        }
        this.device.queue.submit([copyOut.finish()]);
        // the handles ORT returned; the buffers behind them belong to the captured graph and stay
        for (const t of Object.values(out)) t.dispose();
      },
      release: async () => {
        await ready.release();
        for (const t of bound.values()) t.dispose();
        bound.clear();
      },
    };
  }

  private buffer(byteLength: number): GPUBuffer {
    // ORT's kernels bind buffers as arrays of vec4 (its own allocations are rounded up to 16 bytes); a [1] tensor in
    // a 4-byte buffer fails validation
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    return this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  upload(t: Tensor32): DeviceTensor {
    const out = new GpuTensor(this.buffer(t.data.byteLength), t.dims);
    this.write(out, t.data);
    return out;
  }

  allocate(dims: readonly number[]): DeviceTensor {
    return this.allocateTyped(dims, 'float32');
  }

  private allocateTyped(dims: readonly number[], dataType: GpuDataType): GpuTensor {
    return new GpuTensor(this.buffer(byteSize(dims, dataType)), dims, dataType); // new buffers are zeroed
  }

  write(t: DeviceTensor, data: Float32Array): void {
    this.device.queue.writeBuffer((t as GpuTensor).buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  async read(t: DeviceTensor): Promise<Tensor32> {
    this.readbacks++;
    const src = (t as GpuTensor).buffer;
    const bytes = byteSize(t.dims);
    const staging = this.device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(src, 0, staging, 0, Math.max(4, bytes));
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const data = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      return { data, dims: [...t.dims] };
    } finally {
      staging.destroy();
    }
  }

  whenIdle(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }
}

/** Bytes of a tensor (float32 unless said). */
function byteSize(dims: readonly number[], dataType: GpuDataType = 'float32'): number {
  return dims.reduce((a, b) => a * b, 1) * (dataType === 'float16' ? 2 : 4);
}

/** The GPU tensor type of a value crossing between parts (ONNX element type 1 float32, 10 float16). */
function gpuType(elemType: number, label: string, name: string): GpuDataType {
  if (elemType === 1) return 'float32';
  if (elemType === 10) return 'float16';
  throw new Error(`${label}: "${name}" (ONNX element type ${elemType}) cannot cross between parts`);
}

type SessionSetupLike = Parameters<WebRuntime['createSession']>[1];

function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

