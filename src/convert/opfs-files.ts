/**
 * The compiler's file access (src/io/files.ts) over OPFS sync access handles, for the in-tab conversion
 * (download worker). Handles are opened ahead (opening is async; the compiler's calls are sync): the staged
 * weights before a component's steps, and each graph's output files before its step — `<graph>.onnx` plus as many
 * `<graph>.data.<i>` shards as the step could possibly need (see shardsToOpen); the unused ones are removed after.
 */
import type { FileTree, OutputFolder, ReadableFile, WritableFile, WrittenFile } from '../io/files.ts';
import { Sha256 } from '../models/sha256.ts';
import type { Hasher } from '../models/hasher.ts';
import type { SyncAccessHandle } from '../models/opfs.ts';

/** A checkpoint made of small files held in memory (configs) and staged weight files open for reading. */
export class StagedCheckpoint implements FileTree {
  private readonly weights = new Map<string, SyncAccessHandle>();
  private readonly dirs = new Set<string>(['']);

  constructor(
    readonly root: string,
    private readonly texts: Map<string, string>,
    /** weight files that exist (staged or still to stage), so planning sees the whole checkpoint */
    private readonly weightPaths: string[],
  ) {
    for (const p of [...texts.keys(), ...weightPaths]) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) this.dirs.add(parts.slice(0, i).join('/'));
    }
  }

  /** Makes a staged weight file readable (the caller closes the handle after the steps that read it). */
  attach(path: string, handle: SyncAccessHandle): void {
    this.weights.set(path, handle);
  }

  detach(path: string): void {
    this.weights.delete(path);
  }

  kind(path: string): 'file' | 'dir' | undefined {
    const p = path.replace(/\/+$/, '');
    if (this.dirs.has(p)) return 'dir';
    return this.texts.has(p) || this.weightPaths.includes(p) ? 'file' : undefined;
  }

  readText(path: string): string {
    const t = this.texts.get(path);
    if (t === undefined) throw new Error(`${this.root}/${path} was not fetched`);
    return t;
  }

  open(path: string): ReadableFile {
    const h = this.weights.get(path);
    if (!h) throw new Error(`${this.root}/${path} is not staged yet`);
    return { name: `${this.root}/${path}`, size: () => h.getSize(), read: (into, at) => h.read(into, { at }), close: () => undefined };
  }
}

/** An output folder whose files were opened ahead; creating any other file is an error naming it. */
export class PreopenedFolder implements OutputFolder {
  readonly created = new Set<string>();

  /** `hashers`: created ahead (creating one is async); the JS Sha256 when they run out */
  constructor(readonly label: string, private readonly handles: Map<string, SyncAccessHandle>, private readonly hashers: Hasher[] = []) {}

  create(name: string): WritableFile {
    const h = this.handles.get(name);
    if (!h) throw new Error(`${this.label}: ${name} was not opened ahead of the conversion step (open more shards)`);
    if (this.created.has(name)) throw new Error(`${this.label}: ${name} is written twice`);
    this.created.add(name);
    h.truncate(0);
    const hash: Hasher = this.hashers.pop() ?? new Sha256();
    let at = 0;
    return {
      write(bytes) {
        let done = 0;
        while (done < bytes.length) {
          const n = h.write(bytes.subarray(done), { at: at + done });
          if (n <= 0) throw new Error(`${name}: OPFS write made no progress`);
          done += n;
        }
        hash.update(bytes);
        at += bytes.length;
      },
      close(): WrittenFile {
        h.flush();
        return { path: name, bytes: at, sha256: hash.hex() };
      },
    };
  }
}

/**
 * Shards a step may write: its weights re-stored at ≤ 4 bytes per element from ≥ 2 bytes per element (fp16 → fp32
 * at most doubles them), plus constants the graph adds, in shards of `shardBytes`.
 */
export function shardsToOpen(weightBytes: number, shardBytes: number): number {
  return Math.max(1, Math.ceil((2 * weightBytes + 64 * 1024 * 1024) / shardBytes) + 1);
}
