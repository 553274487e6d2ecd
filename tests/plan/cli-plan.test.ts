/**
 * `svd-web generate --plan` through the real bin on a converted model (fixture A): the plan is printed from the
 * folder's .onnx files (graphs only; external data never read) and nothing runs — no --image or --out needed.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { fixtureModel } from '../support/models.ts';

describe('svd-web generate --plan', () => {
  it('prints the stages, the choice and the verdict; a tight GPU gets the refusal with suggestions', () => {
    const { dir } = fixtureModel('fp32');
    const ok = runCli(['generate', '--model', dir, '--plan', '--frames', '3', '--width', '64', '--height', '64']);
    expect(ok.stderr).not.toMatch(/error/i);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('memory plan: 3 frames at 64×64, guidance (batch 2), decode chunk 3');
    for (const stage of ['image encoder', 'VAE encoder', 'UNet, guidance batch 2 in one call, 3 frames', 'VAE decoder, 3 frames a chunk']) expect(ok.stdout).toContain(stage);
    expect(ok.stdout).toMatch(/choice: UNet batch 2 per call, decode chunk 3\nfits: peak /);

    const tight = runCli(['generate', '--model', dir, '--plan', '--frames', '3', '--width', '64', '--height', '64', '--gpu-memory', '0.000001']);
    expect(tight.code).toBe(0);
    expect(tight.stdout).toMatch(/does not fit: 3 frames at 64×64 need about [\d.]+ [kM]B of GPU memory and a [\d.]+ [kM]?B buffer; this GPU allows 900 B of 1.0 kB \(10% kept free\): try the CPU \(slow\)\.\n/);

    const bad = runCli(['generate', '--model', dir, '--plan', '--gpu-memory', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--gpu-memory must be a positive number (got "lots")');
    const stray = runCli(['generate', '--model', dir, '--image', 'x.png', '--out', 'x.mp4', '--max-buffer', '100']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--gpu-memory and --max-buffer go with --plan');
  }, 300_000);
});
