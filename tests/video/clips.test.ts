import { describe, expect, it } from 'vitest';
import { crossfadeLoop, defaultCrossfadeFrames, joinAt, loopFrames, pingPong } from '../../src/video/clips.ts';

/** frame i of a clip tagged `tag`: 2×1 pixels whose bytes say which frame it is */
const frame = (tag: number, i: number) => Uint8ClampedArray.of(tag, i, 0, 255, tag, i, 0, 255);
const clip = (tag: number, n: number) => Array.from({ length: n }, (_, i) => frame(tag, i));
const ids = (frames: ArrayLike<number>[]) => Array.from(frames, (f) => `${f[0]}:${f[1]}`);

describe('joinAt (continue a video from a frame)', () => {
  it('from the last frame: the new clip\'s first frame (a repeat of it) is dropped; F + (F − 1) frames', () => {
    const a = clip(1, 4), b = clip(2, 4);
    const joined = joinAt(a, 3, b);
    expect(ids(joined)).toEqual(['1:0', '1:1', '1:2', '1:3', '2:1', '2:2', '2:3']);
    // frames passed through are the same objects (no copies)
    expect(joined[0]).toBe(a[0]);
    expect(joined[4]).toBe(b[1]);
  });
  it('twice from the last frame: 3F − 2 frames, no frame of a seam twice', () => {
    const once = joinAt(clip(1, 14), 13, clip(2, 14));
    const twice = joinAt(once, once.length - 1, clip(3, 14));
    expect(twice).toHaveLength(3 * 14 - 2);
    const seen = ids(twice);
    expect(new Set(seen).size).toBe(seen.length);
  });
  it('from a middle frame: the rest of the video is replaced', () => {
    expect(ids(joinAt(clip(1, 5), 1, clip(2, 3)))).toEqual(['1:0', '1:1', '2:1', '2:2']);
  });
  it('refuses a frame outside the video and a clip too short to join', () => {
    expect(() => joinAt(clip(1, 3), 3, clip(2, 3))).toThrow('cannot continue from frame 4: the video has 3 frames');
    expect(() => joinAt(clip(1, 3), -1, clip(2, 3))).toThrow(RangeError);
    expect(() => joinAt(clip(1, 3), 2, clip(2, 1))).toThrow('at least 2');
  });
});

describe('pingPong', () => {
  it('2F − 2 frames: forward, then back without repeating either turning frame', () => {
    expect(ids(pingPong(clip(1, 4)))).toEqual(['1:0', '1:1', '1:2', '1:3', '1:2', '1:1']);
    expect(pingPong(clip(1, 14))).toHaveLength(26);
    expect(ids(pingPong(clip(1, 2)))).toEqual(['1:0', '1:1']);
    expect(pingPong(clip(1, 1))).toHaveLength(1);
  });
});

describe('crossfadeLoop', () => {
  it('blends the last frames into the first with rising weight, then passes the middle through', () => {
    // grey levels: frame i is all (10·i)
    const frames = Array.from({ length: 7 }, (_, i) => new Uint8ClampedArray(4).fill(10 * i));
    const out = crossfadeLoop(frames, 2);
    expect(out).toHaveLength(5);
    // out[0] = tail 5 (50) · 2/3 + head 0 (0) · 1/3 = 33.3 → 33; out[1] = tail 6 (60) · 1/3 + head 1 (10) · 2/3 = 26.7 → 27
    expect(Array.from(out[0])).toEqual([33, 33, 33, 33]);
    expect(Array.from(out[1])).toEqual([27, 27, 27, 27]);
    expect(out.slice(2)).toEqual(frames.slice(2, 5));
    expect(out[2]).toBe(frames[2]);
  });
  it('the default overlap is a quarter of the clip within 1…8; too short a clip is refused with the numbers', () => {
    expect([3, 14, 25, 64].map(defaultCrossfadeFrames)).toEqual([1, 3, 6, 8]);
    expect(crossfadeLoop(clip(1, 14))).toHaveLength(11);
    expect(() => crossfadeLoop(clip(1, 4), 2)).toThrow('a cross-fade of 2 frames needs at least 5 frames; the video has 4');
    expect(() => crossfadeLoop(clip(1, 4), 0)).toThrow(RangeError);
  });
  it('loopFrames picks the mode', () => {
    expect(loopFrames(clip(1, 4), 'none')).toHaveLength(4);
    expect(loopFrames(clip(1, 4), 'ping-pong')).toHaveLength(6);
    expect(loopFrames(clip(1, 4), 'crossfade')).toHaveLength(3);
  });
});
