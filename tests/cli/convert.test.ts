/**
 * `svd-web convert` through the real bin, as a user runs it: the same input converted twice gives byte-identical
 * output, and bad input exits non-zero with a message that names the file or the weight.
 * Bad checkpoints are copies of parts of tests/fixtures/A, edited; the fixtures themselves are never touched.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../support/cli.ts';
import { fixturePath } from '../support/fixtures.ts';

const temp = mkdtempSync(join(tmpdir(), 'svd-cli-convert-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
let counter = 0;

/** fixture file → path in a diffusers-layout checkpoint */
const LAYOUT: [string, string][] = [
  ['unet/config.json', 'unet/config.json'],
  ['unet/weights.safetensors', 'unet/diffusion_pytorch_model.safetensors'],
  ['vae/config.json', 'vae/config.json'],
  ['vae/weights.safetensors', 'vae/diffusion_pytorch_model.safetensors'],
  ['pipeline/image_encoder/config.json', 'image_encoder/config.json'],
  ['pipeline/image_encoder/weights.safetensors', 'image_encoder/model.safetensors'],
  ['pipeline/scheduler/scheduler_config.json', 'scheduler/scheduler_config.json'],
  ['pipeline/feature_extractor/preprocessor_config.json', 'feature_extractor/preprocessor_config.json'],
];

/** A writable diffusers-layout copy of fixture A (read + write, so the copies do not inherit the read-only mode). */
function makeCheckpoint(skip: (target: string) => boolean = () => false): string {
  const dir = join(temp, `ckpt-${counter++}`);
  for (const [from, to] of LAYOUT) {
    if (skip(to)) continue;
    mkdirSync(dirname(join(dir, to)), { recursive: true });
    writeFileSync(join(dir, to), readFileSync(fixturePath('A', from)));
  }
  return dir;
}

const freshOut = () => join(temp, `out-${counter++}`);

interface Header {
  [name: string]: { dtype: string; shape: number[]; data_offsets: [number, number] };
}

/** Rewrites a safetensors header (the data section is kept; `append` adds bytes after it). */
function editSafetensors(path: string, edit: (header: Header, dataLength: number) => Uint8Array | void): void {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header;
  const data = buf.subarray(8 + n);
  const append = edit(header, data.byteLength) ?? new Uint8Array(0);
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), data, append]));
}

function editJson(path: string, edit: (value: Record<string, unknown>) => void): void {
  const value = JSON.parse(readFileSync(path, 'utf8'));
  edit(value);
  writeFileSync(path, JSON.stringify(value, null, 2));
}

function sha256Tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    expect(statSync(p).isFile()).toBe(true);
    out[name] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/** Runs convert and expects a failure (exit 1: not a usage error) whose message contains every `needle`. */
function expectFailure(args: string[], needles: string[]): string {
  const r = runCli(['convert', ...args]);
  const message = r.stderr.trim();
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(1);
  for (const needle of needles) expect(message).toContain(needle);
  return message;
}

describe('svd-web convert: determinism', () => {
  it('the same input converted twice gives byte-identical files (manifest included)', () => {
    const ckpt = makeCheckpoint();
    const [a, b] = [freshOut(), freshOut()];
    for (const out of [a, b]) {
      const r = runCli(['convert', '--from', ckpt, '--out', out, '--precision', 'q4f16', '--default-size', '64x64']);
      expect(r.code, r.stderr).toBe(0);
    }
    const [ha, hb] = [sha256Tree(a), sha256Tree(b)];
    expect(Object.keys(ha)).toContain('manifest.json');
    expect(Object.keys(ha)).toEqual(expect.arrayContaining(['image_encoder.onnx', 'vae_encoder.onnx', 'unet.onnx', 'vae_decoder.onnx']));
    expect(hb).toEqual(ha);
    // and the manifest's own record of every file agrees with the bytes on disk
    const manifest = JSON.parse(readFileSync(join(a, 'manifest.json'), 'utf8')) as { files: { path: string; bytes: number; sha256: string }[] };
    expect(manifest.files.map((f) => f.path).sort()).toEqual(Object.keys(ha).filter((f) => f !== 'manifest.json'));
    for (const f of manifest.files) {
      expect(f.sha256).toBe(ha[f.path]);
      expect(f.bytes).toBe(statSync(join(a, f.path)).size);
    }
  });
});

describe('svd-web convert: bad input names the file or weight', () => {
  it('a --from folder that does not exist', () => {
    const missing = join(temp, 'no-such-checkpoint');
    expectFailure(['--from', missing, '--out', freshOut()], [missing, 'does not exist']);
  });

  it('a missing component folder', () => {
    const ckpt = makeCheckpoint((to) => to.startsWith('vae/'));
    expectFailure(['--from', ckpt, '--out', freshOut()], [ckpt, 'missing component folder "vae/"']);
  });

  it('a missing config.json', () => {
    const ckpt = makeCheckpoint((to) => to === 'unet/config.json');
    expectFailure(['--from', ckpt, '--out', freshOut()], [join(ckpt, 'unet'), 'missing config.json']);
  });

  it('a config.json that is not JSON', () => {
    const ckpt = makeCheckpoint();
    writeFileSync(join(ckpt, 'vae', 'config.json'), '{"block_out_channels": [32, 64],');
    expectFailure(['--from', ckpt, '--out', freshOut()], [join(ckpt, 'vae', 'config.json'), 'not valid JSON']);
  });

  it('a missing weights file', () => {
    const ckpt = makeCheckpoint((to) => to === 'image_encoder/model.safetensors');
    expectFailure(['--from', ckpt, '--out', freshOut()], [join(ckpt, 'image_encoder'), 'no weights file', 'model.safetensors']);
  });

  it('a truncated safetensors file', () => {
    const ckpt = makeCheckpoint();
    const file = join(ckpt, 'unet', 'diffusion_pytorch_model.safetensors');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.byteLength * 0.6)));
    expectFailure(['--from', ckpt, '--out', freshOut()], [file, 'truncated']);
  });

  it('a tensor of an unknown dtype', () => {
    const ckpt = makeCheckpoint();
    const file = join(ckpt, 'vae', 'diffusion_pytorch_model.safetensors');
    editSafetensors(file, (h) => {
      h['decoder.conv_in.weight'].dtype = 'F8_E9';
    });
    expectFailure(['--from', ckpt, '--out', freshOut()], [file, '"decoder.conv_in.weight"', 'F8_E9']);
  });

  it('a weight with the wrong shape (header rewritten consistently: same byte size)', () => {
    const ckpt = makeCheckpoint();
    const file = join(ckpt, 'unet', 'diffusion_pytorch_model.safetensors');
    let name = '';
    let shape: number[] = [];
    editSafetensors(file, (h) => {
      name = Object.keys(h).find((k) => k !== '__metadata__' && h[k].shape.length === 2 && h[k].shape[0] !== h[k].shape[1])!;
      shape = h[name].shape;
      h[name].shape = [shape[1], shape[0]];
    });
    expect(name).not.toBe('');
    expectFailure(['--from', ckpt, '--out', freshOut()], [file, `"${name}"`, `has shape [${shape[1]},${shape[0]}], expected [${shape[0]},${shape[1]}]`]);
  });

  it('an extra weight that the architecture does not use', () => {
    const ckpt = makeCheckpoint();
    const file = join(ckpt, 'image_encoder', 'model.safetensors');
    editSafetensors(file, (h, dataLength) => {
      h['vision_model.encoder.layers.0.mlp.fc3.weight'] = { dtype: 'F32', shape: [2, 2], data_offsets: [dataLength, dataLength + 16] };
      return new Uint8Array(16);
    });
    expectFailure(['--from', ckpt, '--out', freshOut()], [file, '"vision_model.encoder.layers.0.mlp.fc3.weight"', 'not used']);
  });

  it('a missing weight', () => {
    const ckpt = makeCheckpoint();
    const file = join(ckpt, 'unet', 'diffusion_pytorch_model.safetensors');
    editSafetensors(file, (h) => {
      delete h['down_blocks.1.resnets.0.temporal_res_block.conv1.bias'];
    });
    expectFailure(['--from', ckpt, '--out', freshOut()], [file, 'missing weight "down_blocks.1.resnets.0.temporal_res_block.conv1.bias"']);
  });

  it('an unknown block type in config.json', () => {
    const ckpt = makeCheckpoint();
    const config = join(ckpt, 'unet', 'config.json');
    editJson(config, (c) => {
      (c.down_block_types as string[])[1] = 'CrossAttnDownBlock3D';
    });
    expectFailure(['--from', ckpt, '--out', freshOut()], [config, 'down_block_types', 'unknown block type "CrossAttnDownBlock3D"']);
  });

  it('an unknown VAE block type in config.json', () => {
    const ckpt = makeCheckpoint();
    const config = join(ckpt, 'vae', 'config.json');
    editJson(config, (c) => {
      c.down_block_types = ['DownEncoderBlock2D', 'AttnDownEncoderBlock2D'];
    });
    expectFailure(['--from', ckpt, '--out', freshOut()], [config, 'unknown block type "AttnDownEncoderBlock2D"']);
  });
});

describe('svd-web convert: usage errors exit 2', () => {
  it('--precision bogus', () => {
    const r = runCli(['convert', '--from', fixturePath('A'), '--out', freshOut(), '--precision', 'bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--precision');
    expect(r.stderr).toContain('bogus');
  });

  it('an unknown flag, and a missing --out', () => {
    expect(runCli(['convert', '--from', fixturePath('A'), '--out', freshOut(), '--bogus-flag']).code).toBe(2);
    const r = runCli(['convert', '--from', fixturePath('A')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out');
  });
});
