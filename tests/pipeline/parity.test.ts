/**
 * Pipeline parity with diffusers' StableVideoDiffusionPipeline on fixture A: its networks compiled to fp32,
 * its latents, cond_aug 0, 4 steps, its image and settings, through the real CLI.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { float32Bytes } from '../../src/io/safetensors.ts';
import { openSafetensors, writeSafetensors } from '../../src/io/safetensors-node.ts';
import { fixturePath, loadTensors, maxAbsDiff } from '../support/fixtures.ts';
import { fixtureModel } from '../support/models.ts';
import { runCli } from '../support/cli.ts';

const meta = loadTensors(fixturePath('A', 'pipeline', 'tensors.safetensors'));
const work = mkdtempSync(join(tmpdir(), 'svd-parity-'));

/** The reference's frames [1,F,H,W,3] → our layout [F,3,H,W]. */
function referenceFramesChw(): { data: Float32Array; F: number; H: number; W: number } {
  const ref = meta.get('output.frames');
  const [, F, H, W] = ref.shape;
  const out = new Float32Array(F * 3 * H * W);
  for (let f = 0; f < F; f++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
    out[((f * 3 + c) * H + y) * W + x] = ref.data[(((f * H + y) * W + x) * 3) + c];
  }
  return { data: out, F, H, W };
}

describe('pipeline parity (fixture A, fp32, CLI on onnxruntime-node)', () => {
  let modelDir: string;
  beforeAll(() => {
    modelDir = fixtureModel('fp32').dir;
    const latents = meta.get('input.latents');
    writeSafetensors(join(work, 'latents.safetensors'), [{ name: 'latents', dtype: 'F32', shape: latents.shape, data: () => float32Bytes(latents.data) }]);
  });

  it('frames match the reference within 1e-3', () => {
    const ref = referenceFramesChw();
    const framesOut = join(work, 'frames.safetensors');
    const r = runCli([
      'generate', '--model', modelDir, '--image', fixturePath('A', 'pipeline', 'input.png'),
      '--latents', join(work, 'latents.safetensors'), '--frames-out', framesOut, '--out', join(work, 'video.mp4'),
      '--cond-aug', '0', '--steps', '4', '--fps', '7', '--motion', '127', '--frames', String(ref.F),
      '--decode-chunk', String(ref.F), '--min-guidance', '1', '--max-guidance', '3', '--width', String(ref.W), '--height', String(ref.H),
    ]);
    expect(r.stderr + r.stdout).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const got = openSafetensors(framesOut);
    expect(got.info('frames').shape).toEqual([ref.F, 3, ref.H, ref.W]);
    const err = maxAbsDiff(got.readFloat32('frames'), ref.data);
    console.log(`pipeline fp32 frames max|Δ| vs diffusers = ${err.toExponential(2)}`);
    // 1e-3: the fixture README's suggested pipeline tolerance is ~1e-4 on outputs of max 0.652; the issue allows 1e-3
    expect(err).toBeLessThanOrEqual(1e-3);
  });
});
