/**
 * The staged sources of an in-tab conversion (OPFS staging/<id>/), as the stager and the converter agree on them.
 * Beside each staged weights file the stager keeps a stamp, `<path>.sha256`: the LFS sha256 of the version being
 * staged there, written before its download starts. A final file is only ever the verified bytes of its stamp's version
 * (the transfer engine renames `.part` to the final name once the hash matches), so "final at its size + stamp equals
 * the sha256 listed now" means "this version, verified". A source staged for another commit (either repository of
 * the conversion changed since) has another stamp: it is deleted and fetched again, never converted.
 */
import type { FolderStore } from '../models/folder-store.ts';

const stampOf = (path: string) => `${path}.sha256`;

export interface StagedFile {
  path: string;
  bytes: number;
  sha256?: string;
}

/** The file is staged, complete and verified, in the version listed now. */
export async function isStaged(staging: FolderStore, file: StagedFile): Promise<boolean> {
  return (await staging.finalSize(file.path)) === file.bytes && (await staging.readText(stampOf(file.path)))?.trim() === file.sha256;
}

/** Before staging `file`: anything at its path from another version (or unstamped) is deleted; then its stamp is set. */
export async function claimStaging(staging: FolderStore, file: StagedFile): Promise<void> {
  if ((await staging.readText(stampOf(file.path)))?.trim() === file.sha256) return;
  await staging.remove(file.path);
  await staging.removePart(file.path);
  await staging.writeText(stampOf(file.path), file.sha256 ?? '');
}

/** The converter is done with a source: the file, a leftover `.part` and the stamp go. */
export async function dropStaged(staging: FolderStore, path: string): Promise<void> {
  await staging.remove(path);
  await staging.removePart(path);
  await staging.remove(stampOf(path));
}
