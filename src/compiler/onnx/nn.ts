/**
 * Neural-network layers on top of the graph builder. A `Module` is a position in the checkpoint's module
 * tree (like candle's VarBuilder): `m.sub('conv1').take('weight', shape)` takes `<path>.conv1.weight`.
 * Layers decide, from the precision, how weights are stored (float, int4 MatMulNBits, int8 DequantizeLinear)
 * and keep normalisation statistics and softmax in float32.
 */
import { Graph, type DType, type Value } from './graph.ts';
import { roundToFloat16, toFloat16Bits } from '../../io/float16.ts';
import { WeightStore, type WeightRef } from '../weights.ts';
import { quantizeInt4Blocks, quantizeInt4ConvBlocks, quantizeInt8PerChannel, INT4_BLOCK } from '../quantize.ts';

export type PrecisionName = 'fp32' | 'fp16' | 'q4f32' | 'q4f16';

export interface Precision {
  name: PrecisionName;
  /** dtype of activations and float weights inside the graph (graph inputs/outputs are always float32) */
  activation: 'float32' | 'float16';
  linear: 'float' | 'int4';
  /**
   * 'int4': spatial kernels with in_channels divisible by 32 as int4 blocks, the other convolutions int8. Opt-in
   * (`svd-web convert --conv-int4`, UNet only): it saves ~0.24 GB on SVD-XT, but on the random-weight fixture the
   * UNet's error grows from ~9% to ~43% of its output scale, so int8 stays the default until real weights say more.
   */
  conv: 'float' | 'int8' | 'int4';
  /**
   * Store quantized layers as float weights holding their exact dequantized values: an fp32 graph that must
   * equal the quantized one (the proof that the int4/int8 path is exact).
   */
  emulateQuantization?: boolean;
}

export const PRECISIONS: Record<PrecisionName, Precision> = {
  fp32: { name: 'fp32', activation: 'float32', linear: 'float', conv: 'float' },
  fp16: { name: 'fp16', activation: 'float16', linear: 'float', conv: 'float' },
  q4f32: { name: 'q4f32', activation: 'float32', linear: 'int4', conv: 'int8' },
  q4f16: { name: 'q4f16', activation: 'float16', linear: 'int4', conv: 'int8' },
};

/** The fp32 twin of a quantized precision: same rounding of weights, float arithmetic. */
export function dequantizedTwin(p: Precision): Precision {
  return { ...p, name: 'fp32', activation: 'float32', emulateQuantization: true };
}

export type AttentionKind = 'plain' | 'fused';

export interface BuildOptions {
  precision: Precision;
  /**
   * 'plain': MatMul/Softmax/MatMul (correct on every EP; memory grows with length²).
   * 'fused': com.microsoft MultiHeadAttention (flash attention on WebGPU; needed at full size).
   */
  attention: AttentionKind;
}

export class BuildContext {
  /** Values derived once per build and shared by every layer that needs the same one (e.g. a norm's unit scale). */
  readonly shared = new Map<string, Value>();
  constructor(readonly graph: Graph, readonly weights: WeightStore, readonly options: BuildOptions) {}
  get act(): DType {
    return this.options.precision.activation;
  }
  root(): Module {
    return new Module(this, '');
  }
}

export class Module {
  constructor(readonly ctx: BuildContext, readonly path: string) {}

  sub(name: string | number): Module {
    return new Module(this.ctx, this.path ? `${this.path}.${name}` : String(name));
  }

  /** Full weight name of a parameter of this module. */
  param(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  has(name: string): boolean {
    return this.ctx.weights.has(this.param(name));
  }

  take(name: string, shape: number[]): WeightRef {
    return this.ctx.weights.take(this.param(name), shape);
  }

  /** Node-name hint for ops of this module. */
  hint(op: string): string {
    return this.path ? `${this.path}/${op}` : op;
  }

  get g(): Graph {
    return this.ctx.graph;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Float initializers in the activation dtype

export function floatInit(ctx: BuildContext, name: string, dims: number[], data: ArrayLike<number>, dtype: DType = ctx.act): Value {
  const bytes = dtype === 'float16' ? new Uint8Array(toFloat16Bits(data).buffer) : new Uint8Array(Float32Array.from(data).buffer);
  return ctx.graph.initializer(name, dtype, dims, bytes);
}

/** Takes a weight and stores it as a float initializer of the activation dtype, optionally reshaped. */
export function paramValue(m: Module, name: string, shape: number[], storeDims: number[] = shape, dtype: DType = m.ctx.act): Value {
  const w = m.take(name, shape);
  return floatInit(m.ctx, w.name, storeDims, w.read(), dtype);
}

export function scalar(ctx: BuildContext, v: number, dtype: DType = ctx.act): Value {
  return ctx.graph.scalar(v, dtype);
}

// ---------------------------------------------------------------------------------------------------------
// Shape helpers

/** Reshape to dims that mix fixed numbers (0 = copy, −1 = infer) with dynamic int64 [n] values. */
export function reshape(g: Graph, x: Value, dims: (number | Value)[], name?: string): Value {
  return g.op('Reshape', [x, shapeTensor(g, dims)], {}, { name });
}

export function shapeTensor(g: Graph, dims: (number | Value)[]): Value {
  if (dims.every((d) => typeof d === 'number')) return g.int64s(dims as number[]);
  // A whole shape passed as one value (e.g. `dimsOf(g, x, 0)`) needs no Concat: a one-input Concat is a wasted node
  // and, on the WebGPU EP, an int64 node that falls back to the CPU.
  if (dims.length === 1) return dims[0] as Value;
  // Group consecutive numbers into one constant so the Concat stays short.
  const parts: Value[] = [];
  let run: number[] = [];
  for (const d of dims) {
    if (typeof d === 'number') run.push(d);
    else {
      if (run.length) parts.push(g.int64s(run));
      run = [];
      parts.push(d);
    }
  }
  if (run.length) parts.push(g.int64s(run));
  return g.op('Concat', parts, { axis: 0 }, { name: 'shape' });
}

/** Dimensions [start, end) of x's shape, as an int64 1-D value (one Shape node). */
export function dimsOf(g: Graph, x: Value, start: number, end?: number): Value {
  return g.op('Shape', [x], { start, end }, { dtype: 'int64', name: 'dims' });
}

export function transpose(g: Graph, x: Value, perm: number[], name?: string): Value {
  return g.op('Transpose', [x], { perm }, { name });
}

export function add(g: Graph, a: Value, b: Value, name?: string): Value {
  return g.op('Add', [a, b], {}, { name });
}

export function mul(g: Graph, a: Value, b: Value, name?: string): Value {
  return g.op('Mul', [a, b], {}, { name });
}

export function concat(g: Graph, xs: Value[], axis: number, name?: string): Value {
  return g.op('Concat', xs, { axis }, { name });
}

export function cast(g: Graph, x: Value, to: DType, name?: string): Value {
  if (x.dtype === to) return x;
  const ONNX: Record<string, number> = { float32: 1, float16: 10, int64: 7, int32: 6 };
  return g.op('Cast', [x], { to: ONNX[to] }, { dtype: to, name });
}

export function silu(g: Graph, x: Value, name?: string): Value {
  return g.op('Mul', [x, g.op('Sigmoid', [x], {}, { name: name && `${name}/sigmoid` })], {}, { name });
}

/** Exact (erf) GELU, opset 20. */
export function gelu(g: Graph, x: Value, name?: string): Value {
  return g.op('Gelu', [x], {}, { name });
}

// ---------------------------------------------------------------------------------------------------------
// Layers with weights

/** torch.nn.Linear: weight [out, in], optional bias [out]; x [..., in] → [..., out]. */
export function linear(m: Module, x: Value, inFeatures: number, outFeatures: number, opts: { bias?: boolean } = {}): Value {
  const { ctx, g } = m;
  const p = ctx.options.precision;
  const w = m.take('weight', [outFeatures, inFeatures]);
  let y: Value;
  if (p.linear === 'int4' && inFeatures % INT4_BLOCK === 0) {
    const roundScale = ctx.act === 'float16' ? roundToFloat16 : Math.fround;
    const q = quantizeInt4Blocks(w.read(), outFeatures, inFeatures, roundScale);
    if (p.emulateQuantization) {
      y = g.op('MatMul', [x, floatInit(ctx, w.name, [inFeatures, outFeatures], transpose2d(q.dequantized, outFeatures, inFeatures))], {}, { name: m.hint('MatMul') });
    } else {
      const blocks = inFeatures / INT4_BLOCK;
      const packed = g.initializer(`${w.name}.q4`, 'uint8', [outFeatures, blocks, INT4_BLOCK / 2], q.packed);
      const scales = floatInit(ctx, `${w.name}.scales`, [outFeatures * blocks], q.scales);
      g.useDomain('com.microsoft', 1);
      y = g.op('MatMulNBits', [x, packed, scales], { K: inFeatures, N: outFeatures, bits: 4, block_size: INT4_BLOCK }, { domain: 'com.microsoft', name: m.hint('MatMulNBits') });
    }
  } else {
    y = g.op('MatMul', [x, floatInit(ctx, w.name, [inFeatures, outFeatures], transpose2d(w.read(), outFeatures, inFeatures))], {}, { name: m.hint('MatMul') });
  }
  if (opts.bias ?? true) y = add(g, y, paramValue(m, 'bias', [outFeatures]), m.hint('bias'));
  return y;
}

export interface ConvOptions {
  stride?: number;
  padding?: number | number[];
  bias?: boolean;
}

/**
 * torch Conv2d / Conv3d: weight [out, in, ...kernel]. `kernel` is the kernel's spatial shape ([k, k] for 2-D,
 * [kt, 1, 1] for the temporal 3-D convolutions).
 */
export function conv(m: Module, x: Value, inChannels: number, outChannels: number, kernel: number[], opts: ConvOptions = {}): Value {
  const { ctx, g } = m;
  const p = ctx.options.precision;
  const shape = [outChannels, inChannels, ...kernel];
  const w = m.take('weight', shape);
  let weight: Value;
  const spatialKernel = kernel.length === 2 && kernel[0] * kernel[1] > 1;
  if (p.conv === 'int4' && spatialKernel && inChannels % INT4_BLOCK === 0) {
    const roundScale = ctx.act === 'float16' ? roundToFloat16 : Math.fround;
    const q = quantizeInt4ConvBlocks(w.read(), outChannels, inChannels, roundScale);
    if (p.emulateQuantization) {
      weight = floatInit(ctx, w.name, shape, q.dequantized);
    } else {
      const values = g.initializer(`${w.name}.q4`, 'int4', shape, q.packed);
      const scales = floatInit(ctx, `${w.name}.scales`, [outChannels, inChannels / INT4_BLOCK, ...kernel], q.scales);
      weight = g.op('DequantizeLinear', [values, scales], { axis: 1, block_size: INT4_BLOCK }, { dtype: ctx.act, name: m.hint('dequantize') });
    }
  } else if (p.conv === 'int8' || p.conv === 'int4') {
    const roundScale = ctx.act === 'float16' ? roundToFloat16 : Math.fround;
    const q = quantizeInt8PerChannel(w.read(), outChannels, roundScale);
    if (p.emulateQuantization) {
      weight = floatInit(ctx, w.name, shape, q.dequantized);
    } else {
      const values = g.initializer(`${w.name}.q8`, 'int8', shape, new Uint8Array(q.values.buffer));
      const scales = floatInit(ctx, `${w.name}.scales`, [outChannels], q.scales);
      weight = g.op('DequantizeLinear', [values, scales], { axis: 0 }, { dtype: ctx.act, name: m.hint('dequantize') });
    }
  } else {
    weight = floatInit(ctx, w.name, shape, w.read());
  }
  const spatial = kernel.length;
  const pad = opts.padding ?? 0;
  const pads = Array.isArray(pad) ? [...pad, ...pad] : new Array(spatial * 2).fill(pad);
  const bias = (opts.bias ?? true) ? paramValue(m, 'bias', [outChannels]) : null;
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return g.op('Conv', inputs, { kernel_shape: kernel, strides: new Array(spatial).fill(opts.stride ?? 1), pads }, { name: m.hint('Conv') });
}

/**
 * torch GroupNorm over [N, C, ...spatial] (rank 4 or 5), computed as Reshape to [N, G, L] → LayerNormalization over
 * L (float32) → Reshape → per-channel affine. This pattern runs fully on the WebGPU EP (the GroupNormalization op does
 * not). LayerNormalization rather than InstanceNormalization: ORT's WebGPU InstanceNormalization reduces each
 * (n, g) row with a 256-wide workgroup and nine barriers, which SwiftShader (the CPU-emulated GPU of CI) runs at
 * ~1 ms per row — 68% of a small UNet call (docs/swiftshader-profile.md) — while its LayerNormalization kernel
 * costs a fraction of that. Both compute mean and variance in float32 per row.
 */
export function groupNorm(m: Module, x: Value, channels: number, groups: number, eps: number, rank = 4, shape?: Value): Value {
  const { ctx, g } = m;
  // `shape`: x's shape as an int64 value the caller already has (0 = copy dim 0), saving a Shape node per norm
  const originalShape = shape ?? dimsOf(g, x, 0);
  const grouped = cast(g, reshape(g, x, [0, groups, -1], m.hint('group')), 'float32');
  // The WebGPU kernel wants a scale of the normalised size L = C/G·spatial (no broadcast): ones of x's L, made once
  // per shape value (norms over tensors of the same shape share it).
  const normed = g.op('LayerNormalization', [grouped, unitScale(ctx, grouped, originalShape, groups)], { axis: -1, epsilon: { float: eps }, stash_type: 1 }, { name: m.hint('LayerNormalization') });
  const back = reshape(g, cast(g, normed, ctx.act), [originalShape], m.hint('ungroup'));
  const affineDims = [channels, ...new Array(rank - 2).fill(1)];
  const gamma = paramValue(m, 'weight', [channels], affineDims);
  const beta = paramValue(m, 'bias', [channels], affineDims);
  return add(g, mul(g, back, gamma, m.hint('scale')), beta, m.hint('shift'));
}

/** float32 ones of shape [L], L = grouped's last dimension; one per (shape value, groups) in a build. */
function unitScale(ctx: BuildContext, grouped: Value, shapeKey: Value, groups: number): Value {
  const key = `group_norm_ones|${shapeKey.name}|${groups}`;
  let ones = ctx.shared.get(key);
  if (!ones) {
    const g = ctx.graph;
    ones = g.op('Expand', [g.constant('float32', [1], [1]), dimsOf(g, grouped, 2)], {}, { name: 'group_norm_ones' });
    ctx.shared.set(key, ones);
  }
  return ones;
}

/** torch LayerNorm over the last dimension; statistics in float32 (stash_type 1). */
export function layerNorm(m: Module, x: Value, dim: number, eps: number): Value {
  const gamma = paramValue(m, 'weight', [dim]);
  const beta = paramValue(m, 'bias', [dim]);
  return m.g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: { float: eps }, stash_type: 1 }, { name: m.hint('LayerNormalization') });
}

/**
 * Multi-head scaled dot-product attention on [B, L, C] queries and [B, S, C] keys/values, C = heads·headDim.
 * Softmax is accumulated in float32.
 */
export function attention(m: Module, q: Value, k: Value, v: Value, heads: number, headDim: number, scale = 1 / Math.sqrt(headDim)): Value {
  const { ctx, g } = m;
  if (ctx.options.attention === 'fused') {
    g.useDomain('com.microsoft', 1);
    return g.op('MultiHeadAttention', [q, k, v], { num_heads: heads, scale: { float: scale } }, { domain: 'com.microsoft', name: m.hint('MultiHeadAttention') });
  }
  const split = (x: Value, perm: number[], hint: string) => transpose(g, reshape(g, x, [0, 0, heads, headDim], m.hint(`${hint}_heads`)), perm, m.hint(`${hint}_t`));
  const qh = split(mul(g, q, scalar(ctx, scale), m.hint('q_scale')), [0, 2, 1, 3], 'q'); // [B,H,L,d]
  const kh = split(k, [0, 2, 3, 1], 'k'); // [B,H,d,S]
  const vh = split(v, [0, 2, 1, 3], 'v'); // [B,H,S,d]
  const scores = g.op('MatMul', [qh, kh], {}, { name: m.hint('scores') });
  const probs = cast(g, g.op('Softmax', [cast(g, scores, 'float32')], { axis: -1 }, { name: m.hint('Softmax') }), ctx.act);
  const out = g.op('MatMul', [probs, vh], {}, { name: m.hint('context') }); // [B,H,L,d]
  return reshape(g, transpose(g, out, [0, 2, 1, 3], m.hint('merge_t')), [0, 0, heads * headDim], m.hint('merge'));
}

// ---------------------------------------------------------------------------------------------------------

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
