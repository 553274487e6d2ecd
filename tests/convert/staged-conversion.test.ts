/**
 * The in-tab conversion runs the compiler's steps component by component (image encoder, VAE, UNet, then the step
 * graphs), from weights that arrive later, into files it opened ahead. Here the same plan runs in that order, from
 * a checkpoint seen through an in-memory tree that holds the configs as text (as the browser does), into an in-memory
 * folder: every file, manifest.json included, must equal `svd-web convert`'s output byte for byte.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { synthesizeCheckpoint } from '../../src/compiler/synthetic/write.ts';
import { convertCheckpoint } from '../../src/compiler/convert-folder.ts';
import { buildManifest, manifestBytes, planConversion, runStep } from '../../src/compiler/convert.ts';
import type { CompiledGraph } from '../../src/compiler/compile.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { openNodeFile } from '../../src/io/node-files.ts';
import type { FileTree, OutputFolder, WritableFile } from '../../src/io/files.ts';
import { Sha256 } from '../../src/models/sha256.ts';
import { CONVERSION_ORDER, planStorage } from '../../src/convert/storage-plan.ts';

function memoryFolder(): OutputFolder & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    label: 'memory',
    files,
    create(name): WritableFile {
      const chunks: Uint8Array[] = [];
      const hash = new Sha256(); // the browser's hasher, against node:crypto's in the CLI's manifest
      return {
        write: (b) => {
          chunks.push(b.slice());
          hash.update(b);
        },
        close: () => {
          const all = Buffer.concat(chunks);
          files.set(name, new Uint8Array(all));
          return { path: name, bytes: all.length, sha256: hash.hex() };
        },
      };
    },
  };
}

describe('staged conversion (the browser’s order and file access)', () => {
  it('writes the same bytes as svd-web convert, manifest included (tiny synthetic fp16 checkpoint, q4f32 and fp16)', { timeout: 300_000 }, () => {
    const root = mkdtempSync(join(tmpdir(), 'staged-'));
    const ckpt = join(root, 'ckpt');
    synthesizeCheckpoint({ out: ckpt, preset: 'tiny', dtype: 'f16', seed: 7 });
    for (const precision of ['q4f32', 'fp16'] as const) {
      const cliOut = join(root, `cli-${precision}`);
      convertCheckpoint({ from: ckpt, out: cliOut, precision });

      // The configs as fetched text; the weights "staged" one component at a time.
      const texts = new Map<string, string>();
      const weightPaths = ['unet/diffusion_pytorch_model.fp16.safetensors', 'vae/diffusion_pytorch_model.fp16.safetensors', 'image_encoder/model.fp16.safetensors'];
      for (const p of ['model_index.json', 'unet/config.json', 'vae/config.json', 'image_encoder/config.json', 'scheduler/scheduler_config.json', 'feature_extractor/preprocessor_config.json']) {
        texts.set(p, readFileSync(join(ckpt, p), 'utf8'));
      }
      const staged = new Set<string>();
      const dirs = new Set(['', 'unet', 'vae', 'image_encoder', 'scheduler', 'feature_extractor']);
      const tree: FileTree = {
        root: 'stabilityai/stable-video-diffusion-img2vid-xt',
        kind: (p) => (dirs.has(p) ? 'dir' : texts.has(p) || weightPaths.includes(p) ? 'file' : undefined),
        readText: (p) => texts.get(p)!,
        open: (p) => {
          if (!staged.has(p)) throw new Error(`${p} read before it was staged`);
          return openNodeFile(join(ckpt, p));
        },
      };
      const sizes = new Map(weightPaths.map((p) => [p, readFileSync(join(ckpt, p)).length]));
      const plan = planConversion(tree, { precision }, (p) => sizes.get(p)!);
      const out = memoryFolder();
      const compiled: CompiledGraph[] = [];
      for (const component of CONVERSION_ORDER) {
        const path = plan.weightFiles[component];
        staged.add(path);
        const file = SafetensorsFile.read(tree.open(path));
        for (const step of plan.steps.filter((s) => s.component === component)) compiled.push(runStep(plan, step, out, file));
        file.close();
      }
      for (const step of plan.steps.filter((s) => s.component === null)) compiled.push(runStep(plan, step, out, null));
      out.files.set('manifest.json', manifestBytes(buildManifest(plan, compiled)));

      const cliFiles = readdirSync(cliOut).sort();
      expect([...out.files.keys()].sort()).toEqual(cliFiles);
      for (const name of cliFiles) {
        const want = createHash('sha256').update(readFileSync(join(cliOut, name))).digest('hex');
        const got = createHash('sha256').update(out.files.get(name)!).digest('hex');
        expect(got, `${precision} ${name}`).toBe(want);
      }
    }
  });

  it('plans the peak storage of a component-by-component conversion (SVD-XT sizes)', () => {
    const gb = 1e9;
    const plan = planStorage({ image_encoder: { bytes: 1.26 * gb, storage: 'fp16' }, vae: { bytes: 0.2 * gb, storage: 'fp16' }, unet: { bytes: 3.05 * gb, storage: 'fp16' } }, 'q4f16');
    // outputs ≈ 0.353 × 1.1 of fp16 bytes (measured ratio + margin): image encoder 0.49, VAE 0.08, UNet 1.18 GB
    const r = 0.353 * 1.1;
    expect(plan.outputBytes / gb).toBeCloseTo(r * 4.51, 2);
    // the peak is while the UNet converts (earlier outputs + its source + its output: 4.79 GB); while the VAE converts
    // the UNet's source is already downloading: 0.49 + 0.2 + 0.08 + 3.05 = 3.82 GB, less
    expect(plan.peakBytes / gb).toBeCloseTo(r * 1.46 + 3.05 + r * 3.05, 2);
    expect(plan.peakBytes).toBeLessThan(4.51 * gb + plan.outputBytes); // less than staging everything first
    // a checkpoint whose biggest part comes second: the lookahead is what sets the peak
    const skewed = planStorage({ image_encoder: { bytes: 3 * gb, storage: 'fp16' }, vae: { bytes: 3 * gb, storage: 'fp16' }, unet: { bytes: 0.1 * gb, storage: 'fp16' } }, 'q4f16');
    // image encoder source + its output + the VAE's source, staged ahead (7.16 GB), above the VAE's step (5.43 GB)
    expect(skewed.peakBytes / gb).toBeCloseTo(3 + 3 * r + 3, 2);
    expect(plan.downloadBytes / gb).toBeCloseTo(4.51, 5);
  });
});
