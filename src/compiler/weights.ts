/**
 * The checkpoint's weights, by their reference names. Each weight must be taken exactly once with the
 * shape the architecture expects; whatever is left at the end is an error that names it. Data is read
 * lazily, one tensor at a time.
 */
import type { SafetensorsFile, TensorInfo } from '../io/safetensors.ts';

export class WeightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightError';
  }
}

export interface WeightRef {
  name: string;
  shape: number[];
  /** float32 copy of the data (the source may be F32, F16 or BF16) */
  read(): Float32Array;
}

export interface WeightSource {
  /** where the weights come from, for messages */
  readonly label: string;
  names(): string[];
  info(name: string): { shape: number[]; dtype: string } | undefined;
  readFloat32(name: string): Float32Array;
}

export class SafetensorsWeightSource implements WeightSource {
  constructor(private readonly file: SafetensorsFile) {}
  get label(): string {
    return this.file.path;
  }
  names(): string[] {
    return [...this.file.tensors.keys()];
  }
  info(name: string): TensorInfo | undefined {
    return this.file.tensors.get(name);
  }
  readFloat32(name: string): Float32Array {
    return this.file.readFloat32(name);
  }
  close(): void {
    this.file.close();
  }
}

/** In-memory weights (tests, synthetic checkpoints). */
export class MemoryWeightSource implements WeightSource {
  constructor(readonly label: string, private readonly tensors: Map<string, { shape: number[]; data: Float32Array }>) {}
  names(): string[] {
    return [...this.tensors.keys()];
  }
  info(name: string) {
    const t = this.tensors.get(name);
    return t && { shape: t.shape, dtype: 'F32' };
  }
  readFloat32(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new WeightError(`${this.label}: no weight "${name}"`);
    return t.data;
  }
}

/** Tensors that the reference keeps but never uses as parameters (e.g. CLIP's int64 position_ids). */
export type IgnoreRule = (name: string) => boolean;

export class WeightStore {
  private readonly taken = new Set<string>();

  constructor(readonly source: WeightSource, private readonly ignore: IgnoreRule = () => false) {}

  has(name: string): boolean {
    return this.source.info(name) !== undefined;
  }

  /** Takes a weight, checking its shape. A missing, reused or mis-shaped weight throws an error naming it. */
  take(name: string, shape: number[]): WeightRef {
    const info = this.source.info(name);
    if (!info) throw new WeightError(`${this.source.label}: missing weight "${name}" (expected shape [${shape}])`);
    if (this.taken.has(name)) throw new WeightError(`${this.source.label}: weight "${name}" is used twice`);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new WeightError(`${this.source.label}: weight "${name}" has shape [${info.shape}], expected [${shape}]`);
    }
    this.taken.add(name);
    const source = this.source;
    return { name, shape, read: () => source.readFloat32(name) };
  }

  /** Names the weights that no part of the architecture used. */
  assertAllTaken(): void {
    const unused = this.source.names().filter((n) => !this.taken.has(n) && !this.ignore(n));
    if (unused.length) {
      const shown = unused.slice(0, 10).map((n) => `"${n}"`).join(', ');
      throw new WeightError(
        `${this.source.label}: ${unused.length} weight(s) not used by the architecture: ${shown}${unused.length > 10 ? ', …' : ''} ` +
          '(does the config match the checkpoint?)',
      );
    }
  }
}
