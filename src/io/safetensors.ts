/**
 * safetensors: u64-LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets}}, then raw
 * little-endian C-order data. The reader keeps only the header in memory and reads one tensor at a time,
 * so multi-GB checkpoints stream through the compiler. Host-independent (a ReadableFile: Node or OPFS); opening a path
 * and writing files is in safetensors-node.ts.
 */
import { readExactly, type ReadableFile } from './files.ts';
import { float16ToFloat32 } from './float16.ts';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const BYTES_PER_ELEMENT: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** absolute byte offset of the data in the file */
  offset: number;
  byteLength: number;
}

export class SafetensorsError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Parses and validates a header; `fileSize` lets truncation be reported before any tensor is read. */
export function parseHeader(file: string, headerJson: string, dataStart: number, fileSize: number): Map<string, TensorInfo> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(headerJson);
  } catch {
    throw new SafetensorsError(file, 'the header is not valid JSON (is this a safetensors file?)');
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') continue;
    const entry = value as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = entry.dtype as SafetensorsDType;
    if (!(dtype in BYTES_PER_ELEMENT)) {
      throw new SafetensorsError(file, `tensor "${name}" has unknown dtype "${entry.dtype}" (supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`);
    }
    const shape = entry.shape ?? [];
    const [begin, end] = entry.data_offsets ?? [NaN, NaN];
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!(end - begin === elements * BYTES_PER_ELEMENT[dtype])) {
      throw new SafetensorsError(file, `tensor "${name}" has data_offsets [${begin}, ${end}] that do not fit shape [${shape}] of ${dtype}`);
    }
    if (dataStart + end > fileSize) {
      throw new SafetensorsError(file, `file is truncated: tensor "${name}" ends at byte ${dataStart + end} but the file has ${fileSize} bytes`);
    }
    tensors.set(name, { name, dtype, shape, offset: dataStart + begin, byteLength: end - begin });
  }
  return tensors;
}

export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;

  private constructor(private readonly file: ReadableFile, tensors: Map<string, TensorInfo>) {
    this.tensors = tensors;
  }

  get path(): string {
    return this.file.name;
  }

  /** Reads the header of an open file (the file is closed on failure, and by close() otherwise). */
  static read(file: ReadableFile): SafetensorsFile {
    const path = file.name;
    try {
      const size = file.size();
      if (size < 8) throw new SafetensorsError(path, `file is truncated: ${size} bytes, a safetensors header needs at least 8`);
      const lenBytes = readExactly(file, 0, 8);
      const headerLength = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
      if (headerLength > 100_000_000 || 8 + headerLength > size) {
        throw new SafetensorsError(path, `file is truncated or not safetensors: header length ${headerLength}, file size ${size}`);
      }
      const header = new TextDecoder().decode(readExactly(file, 8, headerLength));
      return new SafetensorsFile(file, parseHeader(path, header, 8 + headerLength, size));
    } catch (e) {
      file.close();
      throw e;
    }
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.path, `no tensor named "${name}"`);
    return t;
  }

  /** The tensor's raw bytes, as stored. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    try {
      return readExactly(this.file, t.offset, t.byteLength);
    } catch {
      throw new SafetensorsError(this.path, `unexpected end of file while reading "${name}"`);
    }
  }

  /** The tensor converted to float32 (from F32, F16, BF16, F64 or an integer type). */
  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    return toFloat32(t.dtype, this.readBytes(name));
  }

  close(): void {
    this.file.close();
  }
}

let f16Table: Float32Array | undefined;
/** float16ToFloat32 of all 65536 half-precision bit patterns. */
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16ToFloat32(h);
  }
  return f16Table;
}

export function toFloat32(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES_PER_ELEMENT[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n)); // little-endian hosts only, as everywhere we run
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F16': {
      // one table lookup per element (float16ToFloat32 per element dominated converting an fp16 checkpoint)
      const table = float16Table();
      if (bytes.byteOffset % 2 === 0) {
        const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n); // little-endian hosts only, as for F32
        for (let i = 0; i < n; i++) out[i] = table[halves[i]];
      } else for (let i = 0; i < n; i++) out[i] = table[view.getUint16(i * 2, true)];
      break;
    }
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16(view.getUint16(i * 2, true));
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      break;
  }
  return out;
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
function bf16(bits: number): number {
  bf16Scratch.setUint32(0, bits << 16, false);
  return bf16Scratch.getFloat32(0, false);
}

export function readFloat64(file: SafetensorsFile, name: string): Float64Array {
  const t = file.info(name);
  const bytes = file.readBytes(name);
  if (t.dtype !== 'F64') return Float64Array.from(toFloat32(t.dtype, bytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(bytes.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

export function float32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
