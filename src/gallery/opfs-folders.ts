/**
 * The gallery's folders in the Origin Private File System: gallery/<id>/<file>, written with createWritable() (the
 * main thread can use it; a write that fails is aborted, so no half-written file is committed). Sizes are read with
 * the model store's listFiles (src/models/opfs.ts).
 */
import { listFiles } from '../models/opfs.ts';
import type { GalleryFolders } from './gallery-store.ts';

export const GALLERY_DIR = 'gallery';

interface AsyncIterableDir {
  entries(): AsyncIterable<[string, FileSystemHandle]>;
}

const notFound = (e: unknown) => (e as DOMException)?.name === 'NotFoundError' || (e as DOMException)?.name === 'TypeError';

/** Whether this browser has OPFS at all. */
export function opfsAvailable(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
}

async function galleryDir(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  const root = await navigator.storage.getDirectory();
  try {
    return await root.getDirectoryHandle(GALLERY_DIR, { create });
  } catch (e) {
    if (notFound(e)) return null;
    throw e;
  }
}

async function folder(id: string, create: boolean): Promise<FileSystemDirectoryHandle | null> {
  const dir = await galleryDir(create);
  if (!dir) return null;
  try {
    return await dir.getDirectoryHandle(id, { create });
  } catch (e) {
    if (notFound(e)) return null;
    throw e;
  }
}

export function opfsGalleryFolders(): GalleryFolders {
  return {
    async folders() {
      const dir = await galleryDir(false);
      if (!dir) return [];
      const ids: string[] = [];
      for await (const [name, h] of (dir as unknown as AsyncIterableDir).entries()) if (h.kind === 'directory') ids.push(name);
      return ids;
    },
    async files(id) {
      const dir = await folder(id, false);
      return dir ? listFiles(dir) : null;
    },
    async write(id, name, parts) {
      const dir = (await folder(id, true))!;
      const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
      try {
        for (const p of parts) await writable.write(p as Uint8Array<ArrayBuffer>);
        await writable.close();
      } catch (e) {
        await writable.abort().catch(() => undefined);
        throw e;
      }
    },
    async read(id, name) {
      const dir = await folder(id, false);
      if (!dir) return null;
      try {
        return await (await dir.getFileHandle(name)).getFile();
      } catch (e) {
        if (notFound(e)) return null;
        throw e;
      }
    },
    async removeFolder(id) {
      const dir = await galleryDir(false);
      try {
        await dir?.removeEntry(id, { recursive: true });
      } catch (e) {
        if (!notFound(e)) throw e;
      }
    },
  };
}
