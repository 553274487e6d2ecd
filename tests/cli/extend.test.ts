/**
 * `svd-web generate --extend`: continues a video (or a frame picture) with the demo model on onnxruntime-node, and
 * writes one video joined at the seam without repeating its frame; refusals in words. Needs ffmpeg/ffprobe (skipped,
 * and reported so, without them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { hasFfmpeg, readVideoFrames, writeVideo } from '../../src/cli/ffmpeg.ts';
import { fixturePath } from '../support/fixtures.ts';

const MODEL = join(__dirname, '..', '..', 'public', 'models', 'tiny-random');
const dir = mkdtempSync(join(tmpdir(), 'svd-extend-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const small = ['--model', MODEL, '--frames', '3', '--steps', '2'];

/** mean |a − b| over the bytes of two frames, in 0..255 */
const meanDiff = (a: Uint8ClampedArray, b: Uint8ClampedArray) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

describe.skipIf(!hasFfmpeg())('svd-web generate --extend', () => {
  it('continues the last frame: 3 + 2 frames, the start unchanged, the seam frame once (continuing twice: e2e/extend.e2e.ts)', { timeout: 180_000 }, () => {
    const a = join(dir, 'a.mp4'), b = join(dir, 'b.mp4');
    const first = runCli(['generate', ...small, '--image', fixturePath('A', 'pipeline', 'input.png'), '--width', '64', '--height', '64', '--fps', '6', '--seed', '1', '--out', a]);
    expect(first.code, first.stderr).toBe(0);
    const second = runCli(['generate', ...small, '--extend', a, '--seed', '2', '--out', b]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('joined: 5 frames');
    const va = readVideoFrames(a), vb = readVideoFrames(b);
    // size and rate come from the video continued
    expect([vb.width, vb.height, vb.fps, vb.frames.length]).toEqual([64, 64, 6, 5]);
    // the first three frames are the video's (H.264 both times: within 2/255 on average), and no frame follows a copy
    // of itself at the seam (the new clip's first frame, a repeat of frame 3, was left out)
    for (let i = 0; i < 3; i++) expect(meanDiff(vb.frames[i], va.frames[i]), `frame ${i + 1}`).toBeLessThan(2);
    for (let i = 1; i < 5; i++) expect(meanDiff(vb.frames[i], vb.frames[i - 1]), `frames ${i} and ${i + 1}`).toBeGreaterThan(2);
  });

  it('refuses a size the video is not, a frame it does not have, both --image and --extend, and a file that is not a video', { timeout: 120_000 }, async () => {
    const a = join(dir, 'three.mp4');
    await writeVideo(a, [0, 1, 2].map((i) => new Uint8ClampedArray(64 * 64 * 4).fill(60 * i + 20)), 64, 64, 7);
    const bad = join(dir, 'bad.mp4');
    writeFileSync(bad, 'not a video');
    const cases: [string[], string][] = [
      [['--extend', a, '--width', '128', '--height', '64'], 'This video is 64×64, but the settings make 128×64 videos; clips of different sizes cannot be joined. Leave out --width/--height/--resolution (or give --width 64 --height 64)'],
      [['--extend', a, '--extend-from', '4'], '--extend-from must be a frame number from 1 to 3'],
      [['--extend', a, '--image', fixturePath('A', 'pipeline', 'input.png')], '--image and --extend both give the picture to start from; use one'],
      [['--extend', bad], `--extend: ${bad} is not a video ffmpeg can read`],
    ];
    for (const [args, words] of cases) {
      const r = runCli(['generate', ...small, ...args, '--out', join(dir, 'x.mp4')]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(words);
    }
  });
});
