/** The CLI's conversion: a checkpoint folder on disk → an output folder on disk (see convert.ts). */
export type { ConvertResult, ConvertProgress } from './convert.ts';
import { convertModel, type ConvertProgress, type ConvertResult, type ConvertSettings } from './convert.ts';
import { nodeFileTree, nodeOutputFolder } from '../io/node-files.ts';

export interface ConvertOptions extends ConvertSettings {
  from: string;
  out: string;
  onProgress?: (p: ConvertProgress) => void;
}

export function convertCheckpoint(options: ConvertOptions): ConvertResult {
  const { from, out, ...rest } = options;
  return convertModel({ ...rest, checkpoint: nodeFileTree(from), output: nodeOutputFolder(out) });
}
