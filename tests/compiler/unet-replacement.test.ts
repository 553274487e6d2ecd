/**
 * `svd-web convert --unet <file>`: a single-file UNet in diffusers' names replaces the checkpoint's UNet weights.
 * Every weight is still used exactly once; a prefixed file ("unet.…") converts to the same bytes; Stability's original
 * names, a file that is not a UNet, a missing weight and a missing file are refused with a message naming them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint } from '../../src/compiler/convert-folder.ts';
import { synthesizeCheckpoint, synthesizeUnetFile, ANIMATELCM_UNET_FILE } from '../../src/compiler/synthetic/write.ts';
import { openSafetensors, writeSafetensors } from '../../src/io/safetensors-node.ts';

const work = mkdtempSync(join(tmpdir(), 'svd-unet-replacement-'));
const base = join(work, 'svd');
const lcm = join(work, 'lcm', ANIMATELCM_UNET_FILE);

/** Rewrites the synthetic UNet file with renamed (or dropped) tensors. */
function rewrite(to: string, rename: (name: string) => string | null, extra: string[] = []): string {
  const src = openSafetensors(lcm);
  const names = [...src.tensors.keys()];
  const tensor = (name: string, from: string) => ({ name, dtype: 'F32' as const, shape: src.tensors.get(from)!.shape, data: () => new Uint8Array(src.readFloat32(from).buffer) });
  writeSafetensors(to, [
    ...names.flatMap((n) => {
      const name = rename(n);
      return name === null ? [] : [tensor(name, n)];
    }),
    ...extra.map((name) => tensor(name, 'conv_out.bias')),
  ]);
  return to;
}

const convert = (unetFile: string, out: string) =>
  convertCheckpoint({ from: base, unetFile, sampler: 'animatelcm', precision: 'fp32', out: join(work, out), defaultHeight: 64, defaultWidth: 64 });

describe('UNet replacement', () => {
  beforeAll(() => {
    synthesizeCheckpoint({ out: base, preset: 'tiny', seed: 0 });
    synthesizeUnetFile({ out: join(work, 'lcm'), preset: 'tiny', seed: 7 });
  }, 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('reads the UNet from the file, not from unet/, and a "unet." prefix on every name converts to the same bytes', () => {
    const plain = convert(lcm, 'plain');
    const fromBase = convertCheckpoint({ from: base, precision: 'fp32', out: join(work, 'base'), defaultHeight: 64, defaultWidth: 64 });
    const unetBytes = (dir: string, r: typeof plain) => readFileSync(join(work, dir, r.manifest.graphs.unet.externalData[0]));
    // different weights (another seed): the replacement was used
    expect(Buffer.compare(unetBytes('plain', plain), unetBytes('base', fromBase))).not.toBe(0);
    const prefixed = convert(rewrite(join(work, 'prefixed.safetensors'), (n) => `unet.${n}`), 'prefixed');
    expect(prefixed.manifest.files.map((f) => f.sha256)).toEqual(plain.manifest.files.map((f) => f.sha256));
  });

  it('refuses Stability\'s original names, naming what is needed', () => {
    const file = rewrite(join(work, 'sgm.safetensors'), (n) => `model.diffusion_model.${n}`);
    expect(() => convert(file, 'sgm')).toThrow(/uses Stability's original names \("model\.diffusion_model\.…"\), not diffusers'/);
  });

  it('refuses a file that is not a UNet, and names a missing weight', () => {
    const notUnet = rewrite(join(work, 'vae-like.safetensors'), (n) => (n === 'conv_in.weight' ? null : `decoder.${n}`));
    expect(() => convert(notUnet, 'not-unet')).toThrow(/has no "conv_in.weight": this is not a UNet state dict in diffusers' names/);
    const missing = rewrite(join(work, 'missing.safetensors'), (n) => (n === 'conv_out.bias' ? null : n));
    expect(() => convert(missing, 'missing')).toThrow(/missing weight "conv_out.bias"/);
    const extra = rewrite(join(work, 'extra.safetensors'), (n) => n, ['motion_lora.up.weight']);
    expect(() => convert(extra, 'extra')).toThrow(/1 weight\(s\) not used by the architecture: "motion_lora.up.weight"/);
  });

  it('a UNet file that does not exist is named', () => {
    expect(() => convert(join(work, 'nope.safetensors'), 'nope')).toThrow(/the UNet replacement .*nope\.safetensors does not exist/);
  });
});
