/**
 * Model files in the Origin Private File System: models/<id>/<path>. Files are read as File objects (Blobs),
 * so ORT gets external data without a copy in our own heap.
 */
export const MODELS_DIR = 'models';

export async function modelDirectory(modelId: string, create = false): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  const models = await root.getDirectoryHandle(MODELS_DIR, { create });
  return models.getDirectoryHandle(modelId, { create });
}

export function opfsFileReader(modelId: string): { read(path: string): Promise<Blob> } {
  return {
    async read(path) {
      const dir = await modelDirectory(modelId);
      const handle = await dir.getFileHandle(path).catch(() => {
        throw new Error(`model ${modelId} has no file ${path} in this browser's storage; download or import it again`);
      });
      return handle.getFile();
    },
  };
}
