/**
 * Writes initializer bytes into external-data shards (`<graph>.data.<i>`, each under the shard limit) as
 * they are produced, hashing every file while it is written (the OutputFolder's files hash themselves).
 */
import type { ExternalLocation, InitializerSink } from './onnx/graph.ts';
import type { OutputFolder, WritableFile, WrittenFile } from '../io/files.ts';

export type { WrittenFile } from '../io/files.ts';
export { writeWholeFile as writeHashedFile } from '../io/files.ts';

/** Chrome caps one ArrayBuffer at ~2 GB; 1 GiB shards stay clear of it and resume/verify in smaller pieces. */
export const DEFAULT_SHARD_BYTES = 1024 ** 3;
/** Tensor data starts on 64-byte boundaries (safe for memory-mapped and GPU uploads). */
const ALIGN = 64;

interface OpenShard {
  name: string;
  file: WritableFile;
  size: number;
}

/** The shard file names a graph's data may use, in order (hosts that must open files ahead need them). */
export function shardName(baseName: string, index: number): string {
  return `${baseName}.data.${index}`;
}

export class ShardedDataSink implements InitializerSink {
  private shard: OpenShard | null = null;
  private readonly done: WrittenFile[] = [];
  private index = 0;

  constructor(private readonly folder: OutputFolder, private readonly baseName: string, private readonly maxShardBytes = DEFAULT_SHARD_BYTES) {}

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
    const name = shardName(this.baseName, this.index++);
    this.shard = { name, file: this.folder.create(name), size: 0 };
    return this.shard;
  }

  private append(shard: OpenShard, bytes: Uint8Array): void {
    shard.file.write(bytes);
    shard.size += bytes.byteLength;
  }

  private closeShard(): void {
    if (!this.shard) return;
    this.done.push(this.shard.file.close());
    this.shard = null;
  }
}
