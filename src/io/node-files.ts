/** The compiler's file access (files.ts) on Node's file system; sha256 by node:crypto. */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { FileTree, OutputFolder, ReadableFile, WritableFile, WrittenFile } from './files.ts';
import type { GraphPart } from '../compiler/onnx/split-graph.ts';

export function openNodeFile(path: string): ReadableFile {
  let fd = openSync(path, 'r');
  return {
    name: path,
    size: () => fstatSync(fd).size,
    read: (into, at) => readSync(fd, into, 0, into.length, at),
    close: () => {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}

export function nodeFileTree(root: string): FileTree {
  return {
    root,
    kind(path) {
      const p = join(root, path);
      if (!existsSync(p)) return undefined;
      return statSync(p).isDirectory() ? 'dir' : 'file';
    },
    readText: (path) => readFileSync(join(root, path), 'utf8'),
    open: (path) => openNodeFile(join(root, path)),
  };
}

/** Files under `dir` (created if missing). */
export function nodeOutputFolder(dir: string): OutputFolder {
  mkdirSync(dir, { recursive: true });
  return {
    label: dir,
    create(name): WritableFile {
      let fd = openSync(join(dir, name), 'w');
      const hash = createHash('sha256');
      let bytes = 0;
      return {
        write(data) {
          let written = 0;
          while (written < data.byteLength) written += writeSync(fd, data, written, data.byteLength - written);
          hash.update(data);
          bytes += data.byteLength;
        },
        close(): WrittenFile {
          closeSync(fd);
          fd = -1;
          return { path: name, bytes, sha256: hash.digest('hex') };
        },
      };
    },
  };
}

/** A graph part's weights, read range by range from the model's files in `dir` (as the tab reads them from OPFS). */
export function readPartWeights(dir: string, part: Pick<GraphPart, 'dataBytes' | 'ranges'>): Uint8Array {
  const data = new Uint8Array(part.dataBytes);
  for (const r of part.ranges) {
    const fd = openSync(join(dir, r.path), 'r');
    try {
      readSync(fd, data, r.partOffset, r.length, r.offset);
    } finally {
      closeSync(fd);
    }
  }
  return data;
}
