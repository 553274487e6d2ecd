/** safetensors on Node's file system: open a path, write a file tensor by tensor. */
import { closeSync, openSync, writeSync } from 'node:fs';
import { openNodeFile } from './node-files.ts';
import { BYTES_PER_ELEMENT, SafetensorsError, SafetensorsFile, type SafetensorsDType } from './safetensors.ts';

export function openSafetensors(path: string): SafetensorsFile {
  let file;
  try {
    file = openNodeFile(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
  }
  return SafetensorsFile.read(file);
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Called once, when the tensor's bytes are due; return exactly byteLength bytes. */
  data: () => Uint8Array;
}

/** Writes a safetensors file tensor by tensor, holding at most one tensor's bytes at a time. */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const len = t.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned, as the reference writer does
  const jsonBytes = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(jsonBytes.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, lenBuf);
    writeSync(fd, jsonBytes);
    for (const t of tensors) {
      const bytes = t.data();
      const expected = t.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[t.dtype];
      if (bytes.byteLength !== expected) throw new Error(`tensor "${t.name}": ${bytes.byteLength} bytes given, ${expected} expected`);
      writeSync(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
}

