/**
 * The gallery's folders in memory (the unit tests' stand-in for OPFS), with switches to simulate a failing write and
 * to reach in and damage a stored file. Lib-neutral: compiles under both the Node and the DOM tsconfig.
 */
import { createGalleryStore, type GalleryFolders, type GalleryOptions, type GalleryStore } from '../../src/gallery/gallery-store.ts';

export interface MemoryFolders extends GalleryFolders {
  readonly data: Map<string, Map<string, Uint8Array>>;
  /** the next write of a file with this name throws this error */
  failNextWrite?: { name: string; error: Error };
  /** every write, in order ("<id>/<name>") */
  readonly writes: string[];
}

export function memoryFolders(): MemoryFolders {
  const data = new Map<string, Map<string, Uint8Array>>();
  const writes: string[] = [];
  const self: MemoryFolders = {
    data,
    writes,
    async folders() {
      return [...data.keys()];
    },
    async files(id) {
      const f = data.get(id);
      return f ? new Map([...f].map(([n, b]) => [n, b.byteLength])) : null;
    },
    async write(id, name, parts) {
      let f = data.get(id);
      if (!f) data.set(id, (f = new Map()));
      if (self.failNextWrite?.name === name) {
        const { error } = self.failNextWrite;
        self.failNextWrite = undefined;
        f.set(name, new Uint8Array(3)); // what a failed write may leave behind
        throw error;
      }
      const total = parts.reduce((a, p) => a + p.byteLength, 0);
      const out = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.byteLength;
      }
      f.set(name, out);
      writes.push(`${id}/${name}`);
    },
    async read(id, name) {
      const b = data.get(id)?.get(name);
      return b ? new Blob([b as Uint8Array<ArrayBuffer>]) : null;
    },
    async removeFolder(id) {
      data.delete(id);
    },
  };
  return self;
}

/** A gallery over memory folders, with a settable storage estimate and clock. */
export function memoryGallery(options: GalleryOptions & { quota?: number; usage?: number } = {}): { gallery: GalleryStore; folders: MemoryFolders; space: { quota?: number; usage: number }; clock: { now: number } } {
  const folders = memoryFolders();
  const space = { quota: options.quota, usage: options.usage ?? 0 };
  const clock = { now: 1_796_652_120_000 };
  let n = 0;
  const gallery = createGalleryStore(folders, {
    estimate: async () => (space.quota === undefined ? undefined : { quota: space.quota, usage: space.usage }),
    now: () => clock.now,
    randomSuffix: () => `r${++n}`,
    ...options,
  });
  return { gallery, folders, space, clock };
}
