/**
 * The file access the compiler needs, as interfaces, so one compiler runs in Node (files on disk, node-files.ts)
 * and in a browser worker (OPFS sync access handles, src/convert/opfs-files.ts). Every call is synchronous: the
 * compiler streams one tensor at a time, and both hosts offer synchronous random access (fs, OPFS sync handles).
 */

/** A file open for random-access reads. */
export interface ReadableFile {
  /** where it is, for messages */
  readonly name: string;
  size(): number;
  /** reads up to into.length bytes at `at`; returns how many were read (0 at the end) */
  read(into: Uint8Array, at: number): number;
  close(): void;
}

/** A read-only folder (a checkpoint). Paths are relative, '/'-separated. */
export interface FileTree {
  /** where it is, for messages (a folder path, or e.g. "stabilityai/stable-video-diffusion-img2vid-xt") */
  readonly root: string;
  kind(path: string): 'file' | 'dir' | undefined;
  readText(path: string): string;
  open(path: string): ReadableFile;
}

export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** A file being written front to back, hashed as it goes. */
export interface WritableFile {
  write(bytes: Uint8Array): void;
  /** closes the file and says what was written */
  close(): WrittenFile;
}

/** The folder a conversion writes into. */
export interface OutputFolder {
  readonly label: string;
  create(name: string): WritableFile;
}

/** `root/path` for messages. */
export function joinPath(root: string, path: string): string {
  return root ? `${root.replace(/\/+$/, '')}/${path}` : path;
}

/** Reads exactly `length` bytes at `offset`; a short file is an error naming it. */
export function readExactly(file: ReadableFile, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = file.read(buf.subarray(done), offset + done);
    if (n <= 0) throw new Error(`${file.name}: unexpected end of file at byte ${offset + done} (wanted ${length} bytes at ${offset})`);
    done += n;
  }
  return buf;
}

/** Writes a whole file at once. */
export function writeWholeFile(folder: OutputFolder, name: string, bytes: Uint8Array): WrittenFile {
  const f = folder.create(name);
  f.write(bytes);
  return f.close();
}

/**
 * `tree` with one more file at `path` (which must not exist in it): a UNet replacement that lives outside the
 * checkpoint folder is seen by the compiler as part of the checkpoint.
 */
export function mountFile(tree: FileTree, path: string, file: { open(): ReadableFile }): FileTree {
  const parents = new Set(path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/')));
  return {
    root: tree.root,
    kind: (p) => (p === path ? 'file' : parents.has(p) ? 'dir' : tree.kind(p)),
    readText: (p) => {
      if (p !== path) return tree.readText(p);
      throw new Error(`${path} is a weights file, not text`);
    },
    open: (p) => (p === path ? file.open() : tree.open(p)),
  };
}
