/** Access to the reference fixtures copied into tests/fixtures, and comparisons against them. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { openSafetensors } from '../../src/io/safetensors-node.ts';
import type { ImageInput } from '../../src/contract/fields.ts';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export interface RefTensor {
  data: Float32Array;
  shape: number[];
}

export function loadTensors(path: string): { get(name: string): RefTensor; names(): string[] } {
  const file = openSafetensors(path);
  return {
    get: (name) => ({ data: file.readFloat32(name), shape: file.info(name).shape }),
    names: () => [...file.tensors.keys()],
  };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** The float32 parity bound: max|Δ| ≤ 1e-4 · max(1, max|ref|). */
export function parityBound(ref: ArrayLike<number>, rel = 1e-4): number {
  return rel * Math.max(1, maxAbs(ref));
}

/**
 * A reference fixture's PNG as RGBA pixels, read synchronously (for data set up at module load). The fixtures are
 * plain 8-bit RGB(A) PNGs, which pngjs decodes exactly as the app and the CLI do (tests/io/image-file.test.ts).
 */
export function fixtureImage(path: string): ImageInput {
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, rgba: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length) };
}
