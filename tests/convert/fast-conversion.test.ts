/**
 * The in-tab conversion of a checkpoint whose UNet comes from a second repository (the fast model, AnimateLCM):
 * the staged tree and plan the converter builds give `svd-web convert --unet <file>`'s bytes; the conversion record
 * is stale when either repository's commit (or the UNet file) changes; a source staged for another version is never
 * taken for this one; the storage plan counts the fp32 UNet.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { synthesizeCheckpoint, synthesizeUnetFile } from '../../src/compiler/synthetic/write.ts';
import { convertCheckpoint } from '../../src/compiler/convert-folder.ts';
import { buildManifest, manifestBytes, planConversion, runStep } from '../../src/compiler/convert.ts';
import type { CompiledGraph } from '../../src/compiler/compile.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import type { FileTree, OutputFolder, WritableFile } from '../../src/io/files.ts';
import { openNodeFile } from '../../src/io/node-files.ts';
import type { FolderStore } from '../../src/models/folder-store.ts';
import { CONVERSION_ORDER, estimateOutputBytes, planStorage } from '../../src/convert/storage-plan.ts';
import { conversionKey, recordFor, type ConversionRecord } from '../../src/convert/conversion-record.ts';
import { claimStaging, dropStaged, isStaged } from '../../src/convert/staged-sources.ts';
import type { HubListing } from '../../src/hub/hub-api.ts';

const XT = 'stabilityai/stable-video-diffusion-img2vid-xt';
const LCM = 'wangfuyun/AnimateLCM-SVD-xt';
const LCM_FILE = 'AnimateLCM-SVD-xt.safetensors';
const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function memoryFolder(): OutputFolder & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    label: 'memory',
    files,
    create(name): WritableFile {
      const chunks: Uint8Array[] = [];
      return {
        write: (b) => void chunks.push(b.slice()),
        close: () => {
          const all = new Uint8Array(Buffer.concat(chunks));
          files.set(name, all);
          return { path: name, bytes: all.length, sha256: hex(all) };
        },
      };
    },
  };
}

const listing = (repo: string, commit: string): HubListing => ({ repo, revision: 'main', commit, gated: false, files: [] });

describe('fast model: staged conversion with a UNet from a second repository', () => {
  it('writes the same bytes as svd-web convert --unet <file> (tiny synthetic base + AnimateLCM file, q4f32), manifest included', { timeout: 300_000 }, () => {
    const root = mkdtempSync(join(tmpdir(), 'fast-staged-'));
    const ckpt = join(root, 'base');
    const unetDir = join(root, 'lcm');
    synthesizeCheckpoint({ out: ckpt, preset: 'tiny', dtype: 'f16', seed: 11 });
    synthesizeUnetFile({ out: unetDir, preset: 'tiny', seed: 7 });
    const cliOut = join(root, 'cli');
    convertCheckpoint({ from: ckpt, out: cliOut, precision: 'q4f32', unetFile: join(unetDir, LCM_FILE), sampler: 'animatelcm' });

    // As hub-conversion.ts builds it (StagedCheckpoint, which needs OPFS handles): the base's configs as text, its image
    // encoder and VAE and the second repository's UNet file as staged weights (the UNet under its own path, at the
    // tree's root), planned before any is staged.
    const texts = new Map<string, string>();
    for (const p of ['model_index.json', 'unet/config.json', 'vae/config.json', 'image_encoder/config.json', 'scheduler/scheduler_config.json', 'feature_extractor/preprocessor_config.json']) {
      texts.set(p, readFileSync(join(ckpt, p), 'utf8'));
    }
    const onDisk: Record<string, string> = {
      'image_encoder/model.fp16.safetensors': join(ckpt, 'image_encoder/model.fp16.safetensors'),
      'vae/diffusion_pytorch_model.fp16.safetensors': join(ckpt, 'vae/diffusion_pytorch_model.fp16.safetensors'),
      [LCM_FILE]: join(unetDir, LCM_FILE),
    };
    const staged = new Set<string>();
    const dirs = new Set(['', 'unet', 'vae', 'image_encoder', 'scheduler', 'feature_extractor']);
    const tree: FileTree = {
      root: XT,
      kind: (p) => (dirs.has(p) ? 'dir' : texts.has(p) || p in onDisk ? 'file' : undefined),
      readText: (p) => texts.get(p)!,
      open: (p) => {
        if (!staged.has(p)) throw new Error(`${p} read before it was staged`);
        return openNodeFile(onDisk[p]);
      },
    };
    const plan = planConversion(tree, { precision: 'q4f32', unetWeights: LCM_FILE, sampler: 'animatelcm' }, (p) => readFileSync(onDisk[p]).length);
    expect(plan.weightFiles.unet).toBe(LCM_FILE);
    expect(plan.steps.filter((s) => s.component === null).map((s) => s.graph)).toEqual(['consistency_step', 'consistency_step_cfg']);
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
    const manifest = buildManifest(plan, compiled);
    out.files.set('manifest.json', manifestBytes(manifest));
    expect(manifest.sampler).toBe('animatelcm');
    expect(manifest.requestDefaults).toEqual({ steps: 4, min_guidance: 1, max_guidance: 1 });

    const cliFiles = readdirSync(cliOut).sort();
    expect([...out.files.keys()].sort()).toEqual(cliFiles);
    for (const name of cliFiles) expect(hex(out.files.get(name)!), name).toBe(hex(new Uint8Array(readFileSync(join(cliOut, name)))));
  });
});

describe('fast model: the conversion record', () => {
  const job = { listing: listing(XT, 'a'.repeat(40)), precision: 'q4f32' as const, unet: { listing: listing(LCM, 'b'.repeat(40)), path: LCM_FILE, sampler: 'animatelcm' as const } };
  const key = conversionKey(job);
  const text = (r: Partial<ConversionRecord>) => JSON.stringify({ ...key, graphs: { image_encoder: {} }, ...r });

  it('keys on both repositories’ commits and the UNet file', () => {
    expect(key).toEqual({ repo: XT, commit: 'a'.repeat(40), precision: 'q4f32', unet: { repo: LCM, commit: 'b'.repeat(40), path: LCM_FILE } });
    expect(recordFor(text({}), key)).not.toBeNull();
    // a new commit of either repository, another UNet file, another precision: stale, the conversion starts over
    expect(recordFor(text({ commit: 'c'.repeat(40) }), key)).toBeNull();
    expect(recordFor(text({ unet: { ...key.unet!, commit: 'c'.repeat(40) } }), key)).toBeNull();
    expect(recordFor(text({ unet: { ...key.unet!, path: 'AnimateLCM-SVD-xt-1.1.safetensors' } }), key)).toBeNull();
    expect(recordFor(text({ precision: 'q4f16' }), key)).toBeNull();
  });

  it('never mixes the fast model with the plain base conversion, either way', () => {
    const plain = conversionKey({ listing: job.listing, precision: 'q4f32' });
    expect(plain.unet).toBeUndefined();
    expect(recordFor(text({}), plain)).toBeNull(); // a fast record, read by a plain conversion
    expect(recordFor(JSON.stringify({ ...plain, graphs: {} }), key)).toBeNull(); // a plain record, read by the fast one
    expect(recordFor(JSON.stringify({ ...plain, graphs: {} }), plain)).not.toBeNull();
  });
});

/** The staging folder, in memory: final files and their `.part`s (only what staged-sources.ts uses). */
function memoryStaging(): FolderStore & { files: Map<string, string> } {
  const files = new Map<string, string>();
  const no = () => Promise.reject(new Error('not used'));
  return {
    files,
    finalSize: async (p) => (files.has(p) ? files.get(p)!.length : -1),
    openPart: no,
    commitPart: no,
    remove: async (p) => void files.delete(p),
    removePart: async (p) => void files.delete(`${p}.part`),
    readText: async (p) => files.get(p) ?? null,
    writeText: async (p, t) => void files.set(p, t),
  };
}

describe('fast model: staged sources of another version', () => {
  const v1 = { path: LCM_FILE, bytes: 6, sha256: '1'.repeat(64) };
  const v2 = { path: LCM_FILE, bytes: 6, sha256: '2'.repeat(64) };

  it('takes a staged file for the version listed now only, and deletes another version’s before staging', async () => {
    const s = memoryStaging();
    await claimStaging(s, v1);
    expect(await isStaged(s, v1)).toBe(false); // claimed, not yet downloaded
    s.files.set(LCM_FILE, 'bytes1'); // the transfer engine's rename after the hash matched
    expect(await isStaged(s, v1)).toBe(true);
    // the repository got a new commit whose file has the same size: the staged one is not this version
    expect(await isStaged(s, v2)).toBe(false);
    s.files.set(`${LCM_FILE}.part`, 'byt');
    await claimStaging(s, v2);
    expect(s.files.has(LCM_FILE)).toBe(false);
    expect(s.files.has(`${LCM_FILE}.part`)).toBe(false);
    expect(s.files.get(`${LCM_FILE}.sha256`)).toBe(v2.sha256);
  });

  it('keeps a .part of the same version (resume), and ignores an unstamped file; drop removes file, part and stamp', async () => {
    const s = memoryStaging();
    await claimStaging(s, v1);
    s.files.set(`${LCM_FILE}.part`, 'byt');
    await claimStaging(s, v1); // a reload: the same version
    expect(s.files.get(`${LCM_FILE}.part`)).toBe('byt');
    const legacy = memoryStaging();
    legacy.files.set(LCM_FILE, 'bytes1');
    expect(await isStaged(legacy, v1)).toBe(false);
    s.files.set(LCM_FILE, 'bytes1');
    await dropStaged(s, LCM_FILE);
    expect([...s.files.keys()]).toEqual([]);
  });
});

describe('fast model: storage plan', () => {
  it('counts the fp32 UNet source whole and its output as from half its bytes', () => {
    const gb = 1e9;
    const ie = { bytes: 1.264 * gb, storage: 'fp16' as const };
    const vae = { bytes: 0.196 * gb, storage: 'fp16' as const };
    const unet = { bytes: 6.099 * gb, storage: 'fp32' as const };
    const plan = planStorage({ image_encoder: ie, vae, unet }, 'q4f32', 2_000);
    expect(estimateOutputBytes(unet, 'q4f32')).toBe(estimateOutputBytes({ bytes: unet.bytes / 2, storage: 'fp16' }, 'q4f32'));
    expect(plan.downloadBytes).toBe(ie.bytes + vae.bytes + unet.bytes + 2_000);
    // the peak: while the UNet converts (outputs so far + its 6.1 GB source + its output), configs on top
    const out = (s: typeof ie | typeof unet) => estimateOutputBytes(s, 'q4f32');
    expect(plan.peakBytes).toBe(out(ie) + out(vae) + unet.bytes + out(unet) + 2_000);
    // and that is above the VAE's step, which has the UNet's source staged ahead
    expect(plan.peakBytes).toBeGreaterThan(out(ie) + vae.bytes + out(vae) + unet.bytes + 2_000);
    expect(plan.perComponent.unet).toEqual({ sourceBytes: unet.bytes, outputBytes: out(unet) });
  });
});
