/** The CLI's conversion: a checkpoint folder on disk → an output folder on disk (see convert.ts). */
export type { ConvertResult, ConvertProgress } from './convert.ts';
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { convertModel, type ConvertProgress, type ConvertResult, type ConvertSettings } from './convert.ts';
import { CheckpointError } from './checkpoint.ts';
import { nodeFileTree, nodeOutputFolder, openNodeFile } from '../io/node-files.ts';
import { mountFile } from '../io/files.ts';

export interface ConvertOptions extends Omit<ConvertSettings, 'unetWeights'> {
  from: string;
  out: string;
  /** a single-file UNet safetensors on disk used instead of the checkpoint's unet/ weights (e.g. AnimateLCM) */
  unetFile?: string;
  onProgress?: (p: ConvertProgress) => void;
}

/** Where a replacement UNet appears inside the checkpoint tree the compiler reads. */
const REPLACEMENT_DIR = 'unet-replacement';

export function convertCheckpoint(options: ConvertOptions): ConvertResult {
  const { from, out, unetFile, ...rest } = options;
  let checkpoint = nodeFileTree(from);
  let unetWeights: string | undefined;
  if (unetFile !== undefined) {
    if (!existsSync(unetFile) || !statSync(unetFile).isFile()) throw new CheckpointError(`the UNet replacement ${unetFile} does not exist (give the .safetensors file itself)`);
    unetWeights = `${REPLACEMENT_DIR}/${basename(unetFile)}`;
    checkpoint = mountFile(checkpoint, unetWeights, { open: () => openNodeFile(unetFile) });
  }
  return convertModel({ ...rest, unetWeights, checkpoint, output: nodeOutputFolder(out) });
}
