/**
 * Model files in the Origin Private File System: models/<id>/<path>. Files are read as File objects (Blobs),
 * so ORT gets external data without a copy in our own heap.
 *
 * Layout of one model folder:
 *   manifest.json            present only when every file verified (written last)
 *   manifest.pending.json    the manifest of a download/import in progress
 *   <path>                   a verified file
 *   <path>.part              a file being downloaded: its bytes so far (resumed with HTTP Range)
 *
 * Lib-neutral (compiles with the DOM and the WebWorker libs): the worker-only sync access handles are typed locally.
 */
import type { FolderStore, PartFile } from './folder-store.ts';
import { PART_SUFFIX } from './plan.ts';

export const MODELS_DIR = 'models';

export async function modelDirectory(modelId: string, create = false): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  const models = await root.getDirectoryHandle(MODELS_DIR, { create });
  return models.getDirectoryHandle(modelId, { create });
}

/** The directory holding `path` (which may contain '/') and the file's own name. */
async function parentOf(dir: FileSystemDirectoryHandle, path: string, create: boolean): Promise<{ dir: FileSystemDirectoryHandle; name: string }> {
  const parts = path.split('/').filter(Boolean);
  const name = parts.pop();
  if (!name || parts.includes('..')) throw new Error(`"${path}" is not a plain relative path`);
  let d = dir;
  for (const p of parts) d = await d.getDirectoryHandle(p, { create });
  return { dir: d, name };
}

async function fileHandle(dir: FileSystemDirectoryHandle, path: string, create = false): Promise<FileSystemFileHandle> {
  const p = await parentOf(dir, path, create);
  return p.dir.getFileHandle(p.name, { create });
}

/** Size of `path` in `dir`, -1 when absent. */
async function sizeOf(dir: FileSystemDirectoryHandle, path: string): Promise<number> {
  try {
    return (await (await fileHandle(dir, path)).getFile()).size;
  } catch {
    return -1;
  }
}

async function removeFile(dir: FileSystemDirectoryHandle, path: string): Promise<void> {
  try {
    const p = await parentOf(dir, path, false);
    await p.dir.removeEntry(p.name);
  } catch (e) {
    if ((e as DOMException).name !== 'NotFoundError' && (e as DOMException).name !== 'TypeError') throw e;
  }
}

export function opfsFileReader(modelId: string): { read(path: string): Promise<Blob>; readRange(path: string, offset: number, length: number): Promise<Uint8Array> } {
  const read = async (path: string): Promise<File> => {
    const dir = await modelDirectory(modelId);
    const handle = await fileHandle(dir, path).catch(() => {
      throw new Error(`model ${modelId} has no file ${path} in this browser's storage; download or import it again`);
    });
    return handle.getFile();
  };
  return {
    read,
    // a File is a Blob: a slice reads only its bytes
    readRange: async (path, offset, length) => new Uint8Array(await (await read(path)).slice(offset, offset + length).arrayBuffer()),
  };
}

export async function readModelText(modelId: string, name: string): Promise<string | null> {
  try {
    const dir = await modelDirectory(modelId);
    return await (await (await fileHandle(dir, name)).getFile()).text();
  } catch {
    return null;
  }
}

/** Sizes of the verified file and the `.part` of every path given (-1: absent). */
export async function scanModelFiles(modelId: string, paths: string[]): Promise<Map<string, { finalBytes: number; partBytes: number }>> {
  const out = new Map<string, { finalBytes: number; partBytes: number }>();
  let dir: FileSystemDirectoryHandle;
  try {
    dir = await modelDirectory(modelId);
  } catch {
    return out;
  }
  for (const p of paths) out.set(p, { finalBytes: await sizeOf(dir, p), partBytes: await sizeOf(dir, p + PART_SUFFIX) });
  return out;
}

interface AsyncIterableDir {
  entries(): AsyncIterable<[string, FileSystemHandle]>;
}

/** Every file below `dir` with its size (paths relative to `dir`). */
export async function listFiles(dir: FileSystemDirectoryHandle, prefix = ''): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const [name, h] of (dir as unknown as AsyncIterableDir).entries()) {
    if (h.kind === 'file') {
      try {
        out.set(prefix + name, (await (h as FileSystemFileHandle).getFile()).size);
      } catch {
        out.set(prefix + name, 0); // locked by a writer
      }
    } else for (const [p, s] of await listFiles(h as FileSystemDirectoryHandle, `${prefix}${name}/`)) out.set(p, s);
  }
  return out;
}

/** Ids of the model folders in OPFS. */
export async function listModelIds(): Promise<string[]> {
  let models: FileSystemDirectoryHandle;
  try {
    models = await (await navigator.storage.getDirectory()).getDirectoryHandle(MODELS_DIR);
  } catch {
    return [];
  }
  const ids: string[] = [];
  for await (const [name, h] of (models as unknown as AsyncIterableDir).entries()) if (h.kind === 'directory') ids.push(name);
  return ids.sort();
}

export async function removeModelDirectory(modelId: string): Promise<void> {
  try {
    const models = await (await navigator.storage.getDirectory()).getDirectoryHandle(MODELS_DIR);
    await models.removeEntry(modelId, { recursive: true });
  } catch (e) {
    if ((e as DOMException).name !== 'NotFoundError') throw e;
  }
}

/** FileSystemSyncAccessHandle (dedicated workers only); typed here so this module compiles with the DOM lib too. */
export interface SyncAccessHandle {
  getSize(): number;
  read(buffer: Uint8Array, options?: { at?: number }): number;
  write(buffer: Uint8Array, options?: { at?: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

/**
 * The download worker's store: `.part` files written in place through sync access handles (no copy-on-commit,
 * unlike createWritable(), whose swap file would copy a 1 GB shard on every checkpoint). Dedicated workers only.
 */
export async function opfsFolderStore(modelId: string): Promise<FolderStore> {
  return folderStoreAt(await modelDirectory(modelId, true));
}

/** Source files staged for an in-browser conversion: staging/<id>/ (deleted once the model is complete). */
export const STAGING_DIR = 'staging';

export async function stagingDirectory(id: string, create = false): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  return (await root.getDirectoryHandle(STAGING_DIR, { create })).getDirectoryHandle(id, { create });
}

export async function removeStagingDirectory(id: string): Promise<void> {
  try {
    const staging = await (await navigator.storage.getDirectory()).getDirectoryHandle(STAGING_DIR);
    await staging.removeEntry(id, { recursive: true });
  } catch (e) {
    if ((e as DOMException).name !== 'NotFoundError') throw e;
  }
}

/** A sync access handle on `path` below `dir` (dedicated workers only). */
export async function openSyncAccess(dir: FileSystemDirectoryHandle, path: string, create: boolean): Promise<SyncAccessHandle> {
  const h = await fileHandle(dir, path, create);
  const open = (h as unknown as { createSyncAccessHandle?: () => Promise<SyncAccessHandle> }).createSyncAccessHandle;
  if (!open) throw new Error('this browser has no OPFS sync access handles (FileSystemSyncAccessHandle); update it to download models');
  return open.call(h);
}

export { removeFile as removeFileAt, sizeOf as fileSizeAt };

/** The transfer engine's store over any OPFS folder. */
export function folderStoreAt(dir: FileSystemDirectoryHandle): FolderStore {
  return {
    finalSize: (path) => sizeOf(dir, path),
    async openPart(path): Promise<PartFile> {
      const h = await fileHandle(dir, path + PART_SUFFIX, true);
      const create = (h as unknown as { createSyncAccessHandle?: () => Promise<SyncAccessHandle> }).createSyncAccessHandle;
      if (!create) throw new Error('this browser has no OPFS sync access handles (FileSystemSyncAccessHandle); update it to download models');
      const a = await create.call(h);
      return {
        size: () => a.getSize(),
        write: (bytes, at) => {
          let done = 0;
          while (done < bytes.length) {
            const n = a.write(bytes.subarray(done), { at: at + done });
            if (n <= 0) throw new Error('OPFS write made no progress');
            done += n;
          }
        },
        read: (into, at) => a.read(into, { at }),
        truncate: (n) => a.truncate(n),
        flush: () => a.flush(),
        close: () => a.close(),
      };
    },
    async commitPart(path) {
      const h = await fileHandle(dir, path + PART_SUFFIX);
      const { name } = await parentOf(dir, path, false);
      await removeFile(dir, path);
      const move = (h as unknown as { move?: (name: string) => Promise<void> }).move;
      if (move) {
        await move.call(h, name);
        return;
      }
      // No move(): copy (OPFS-local, one pass), then drop the part.
      const target = await fileHandle(dir, path, true);
      const w = await target.createWritable();
      await (await h.getFile()).stream().pipeTo(w);
      await removeFile(dir, path + PART_SUFFIX);
    },
    remove: (path) => removeFile(dir, path),
    removePart: (path) => removeFile(dir, path + PART_SUFFIX),
    async readText(name) {
      try {
        return await (await (await fileHandle(dir, name)).getFile()).text();
      } catch {
        return null;
      }
    },
    async writeText(name, text) {
      const w = await (await fileHandle(dir, name, true)).createWritable();
      await w.write(text);
      await w.close();
    },
  };
}
