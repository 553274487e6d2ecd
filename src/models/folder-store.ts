/**
 * Where the transfer engine writes: one model folder, seen as final files plus `.part` files being written. The OPFS
 * implementation is in opfs.ts (sync access handles, worker only); unit tests use an in-memory one. Kept apart so
 * storage code depends on these two interfaces only, not on the engine.
 */
/** A `.part` file open for writing (OPFS: a FileSystemSyncAccessHandle). */
export interface PartFile {
  size(): number;
  write(bytes: Uint8Array, at: number): void;
  read(into: Uint8Array, at: number): number;
  truncate(n: number): void;
  flush(): void;
  close(): void;
}

/** One model folder. Paths are the manifest's (relative, may contain '/'). */
export interface FolderStore {
  /** size of the verified file, -1 when absent */
  finalSize(path: string): Promise<number>;
  openPart(path: string): Promise<PartFile>;
  /** `.part` → final name (the part must be closed) */
  commitPart(path: string): Promise<void>;
  remove(path: string): Promise<void>;
  removePart(path: string): Promise<void>;
  readText(name: string): Promise<string | null>;
  writeText(name: string, text: string): Promise<void>;
}
