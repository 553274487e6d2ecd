/**
 * Writes initializer bytes into external-data shards (`<graph>.data.<i>`, each under the shard limit) as
 * they are produced, hashing every file while it is written.
 */
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import type { ExternalLocation, InitializerSink } from './onnx/graph.ts';

export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** Chrome caps one ArrayBuffer at ~2 GB; 1 GiB shards stay clear of it and resume/verify in smaller pieces. */
export const DEFAULT_SHARD_BYTES = 1024 ** 3;
/** Tensor data starts on 64-byte boundaries (safe for memory-mapped and GPU uploads). */
const ALIGN = 64;

interface OpenShard {
  name: string;
  fd: number;
  size: number;
  hash: Hash;
}

export class ShardedDataSink implements InitializerSink {
  private shard: OpenShard | null = null;
  private readonly done: WrittenFile[] = [];
  private index = 0;

  constructor(private readonly dir: string, private readonly baseName: string, private readonly maxShardBytes = DEFAULT_SHARD_BYTES) {}

  write(_name: string, bytes: Uint8Array): ExternalLocation {
    if (bytes.byteLength > this.maxShardBytes) {
      throw new Error(`initializer ${_name} (${bytes.byteLength} bytes) is larger than one external-data shard (${this.maxShardBytes})`);
    }
    let shard = this.shard;
    const padding = shard ? (ALIGN - (shard.size % ALIGN)) % ALIGN : 0;
    if (!shard || shard.size + padding + bytes.byteLength > this.maxShardBytes) {
      this.closeShard();
      shard = this.openShard();
    }
    const pad = (ALIGN - (shard.size % ALIGN)) % ALIGN;
    if (pad) this.append(shard, new Uint8Array(pad));
    const offset = shard.size;
    this.append(shard, bytes);
    return { location: shard.name, offset, length: bytes.byteLength };
  }

  /** Closes the last shard and lists every shard written. */
  finish(): WrittenFile[] {
    this.closeShard();
    return this.done;
  }

  private openShard(): OpenShard {
    const name = `${this.baseName}.data.${this.index++}`;
    this.shard = { name, fd: openSync(join(this.dir, name), 'w'), size: 0, hash: createHash('sha256') };
    return this.shard;
  }

  private append(shard: OpenShard, bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(shard.fd, bytes, written, bytes.byteLength - written);
    shard.hash.update(bytes);
    shard.size += bytes.byteLength;
  }

  private closeShard(): void {
    if (!this.shard) return;
    closeSync(this.shard.fd);
    this.done.push({ path: this.shard.name, bytes: this.shard.size, sha256: this.shard.hash.digest('hex') });
    this.shard = null;
  }
}

export function writeHashedFile(dir: string, name: string, bytes: Uint8Array): WrittenFile {
  writeFileSync(join(dir, name), bytes);
  return { path: name, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}
