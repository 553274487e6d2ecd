/** Compiles the fixture checkpoint once per precision into a temp folder, for tests that need a model. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint, type ConvertResult } from '../../src/compiler/convert-folder.ts';
import { fixturePath } from './fixtures.ts';

const cache = new Map<string, { dir: string; result: ConvertResult }>();

export function fixtureModel(precision: 'fp32' | 'fp16' | 'q4f32' | 'q4f16' = 'fp32', variant = 'A'): { dir: string; result: ConvertResult } {
  const key = `${variant}/${precision}`;
  let hit = cache.get(key);
  if (!hit) {
    const dir = mkdtempSync(join(tmpdir(), `svd-model-${variant}-${precision}-`));
    const result = convertCheckpoint({ from: fixturePath(variant), out: dir, precision, defaultHeight: 64, defaultWidth: 64 });
    hit = { dir, result };
    cache.set(key, hit);
  }
  return hit;
}
