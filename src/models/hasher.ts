/**
 * SHA-256 for the browser's transfer and conversion paths: hash-wasm's WebAssembly SHA-256 (measured 310 MB/s in
 * Node 20 against 140 MB/s for our JS Sha256, sha256.ts; hashing was a third of an in-tab SVD-XT conversion), with
 * sha256.ts as the fallback where WebAssembly cannot be instantiated. Creating one is async (it instantiates the
 * module); updating and finishing are sync.
 */
import { createSHA256 } from 'hash-wasm';
import { Sha256 } from './sha256.ts';

export interface Hasher {
  update(data: Uint8Array): this;
  hex(): string;
  /** bytes fed so far */
  readonly bytes: number;
}

class WasmHasher implements Hasher {
  bytes = 0;
  constructor(private readonly h: Awaited<ReturnType<typeof createSHA256>>) {
    h.init();
  }
  update(data: Uint8Array): this {
    this.h.update(data);
    this.bytes += data.length;
    return this;
  }
  hex(): string {
    return this.h.digest('hex');
  }
}

let wasmFails = false;

export async function createHasher(): Promise<Hasher> {
  if (!wasmFails) {
    try {
      return new WasmHasher(await createSHA256());
    } catch {
      wasmFails = true; // e.g. a CSP without 'wasm-unsafe-eval'
    }
  }
  return new Sha256();
}
