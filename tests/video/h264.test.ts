/**
 * The pure decisions of the WebCodecs MP4 path (src/video/h264.ts): codec string and level, bitrate, padding to even,
 * timestamps, RGBA → I420 and the MP4 box walk. Exact where the answer is an integer; colour within ±1 level (the
 * rounding of one conversion).
 */
import { describe, expect, it } from 'vitest';
import {
  BITS_PER_PIXEL_FRAME,
  MIN_BITRATE,
  avcCodecCandidates,
  avcCodecString,
  avcLevel,
  evenSize,
  frameIndexOfUs,
  padRgbaToEven,
  rgbaToI420,
  targetBitrate,
  timestampUs,
  topLevelBoxes,
} from '../../src/video/h264.ts';

describe('H.264 level and codec string', () => {
  it('1024×576 at 7 fps is level 3.1 (2304 macroblocks > 1620 of level 3); High, Main, Baseline in that order', () => {
    const br = targetBitrate(1024, 576, 7);
    expect(avcLevel(1024, 576, 7, br, 'high')?.level).toBe(3.1);
    expect(avcCodecCandidates(1024, 576, 7, br)).toEqual(['avc1.64001f', 'avc1.4d001f', 'avc1.42e01f']);
  });

  it('576×1024 (portrait) is the same level; 1920×1080 at 30 fps is 4 (8160 macroblocks, 244 800/s)', () => {
    expect(avcLevel(576, 1024, 7, 2e6, 'main')?.level).toBe(3.1);
    expect(avcLevel(1920, 1080, 30, 8e6, 'high')?.level).toBe(4);
    // 60 fps needs 489 600 macroblocks/s: level 4.2
    expect(avcLevel(1920, 1080, 60, 8e6, 'high')?.level).toBe(4.2);
  });

  it('the bitrate can raise the level, with High allowed 1.25× Main', () => {
    // 256×256 (256 macroblocks) fits level 1.2's 396; 1.2 allows 384 kbit/s (Main) / 480 (High)
    expect(avcCodecString(256, 256, 7, 400_000, 'high')).toBe('avc1.64000c');
    expect(avcCodecString(256, 256, 7, 400_000, 'main')).toBe('avc1.4d000d');
    expect(avcCodecString(256, 256, 7, 3_000_000, 'main')).toBe('avc1.4d0015');
  });

  it('a frame side over sqrt(8 × MaxFS) macroblocks needs a higher level even when the area fits', () => {
    // 4096×32: 256×2 = 512 macroblocks (fits level 2.1's 792), but 256 wide: sqrt(8 × MaxFS) ≥ 256 first at level 4 (8192)
    expect(avcLevel(4096, 32, 7, 1e6, 'high')?.level).toBe(4);
  });

  it('nothing fits an absurd size', () => {
    expect(avcCodecString(16384, 16384, 60, 1e6, 'high')).toBeNull();
    expect(avcCodecCandidates(16384, 16384, 60, 1e6)).toEqual([]);
  });
});

describe('bitrate', () => {
  it('is pixels × fps × 0.3 bit, so 1024×576 at 7 fps is 1.239 Mbit/s', () => {
    expect(BITS_PER_PIXEL_FRAME).toBe(0.3);
    expect(targetBitrate(1024, 576, 7)).toBe(1_239_000);
    expect(targetBitrate(1024, 576, 14)).toBe(2 * 1_239_000 - 1000); // rounded to whole kbit/s: 2 477 000
  });

  it('has a floor for tiny frames', () => {
    expect(targetBitrate(64, 64, 7)).toBe(MIN_BITRATE);
    expect(targetBitrate(256, 256, 7)).toBe(MIN_BITRATE); // 138 kbit/s by the formula
  });
});

describe('padding to even (as ffmpeg pad=ceil(iw/2)*2:ceil(ih/2)*2)', () => {
  const frame = (w: number, h: number): Uint8Array => {
    const f = new Uint8Array(w * h * 4);
    for (let i = 0; i < f.length; i++) f[i] = (i % 4 === 3 ? 255 : 1 + (i % 251));
    return f;
  };

  it('even sizes are untouched (the same buffer)', () => {
    const f = frame(4, 2);
    expect(evenSize(4, 2)).toEqual({ width: 4, height: 2 });
    expect(padRgbaToEven(f, 4, 2)).toBe(f);
  });

  it('3×3 → 4×4: the picture at the top-left, opaque black right column and bottom row', () => {
    const f = frame(3, 3);
    const p = padRgbaToEven(f, 3, 3);
    expect(evenSize(3, 3)).toEqual({ width: 4, height: 4 });
    expect(p.length).toBe(4 * 4 * 4);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const got = Array.from(p.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4));
        const want = x < 3 && y < 3 ? Array.from(f.subarray((y * 3 + x) * 4, (y * 3 + x) * 4 + 4)) : [0, 0, 0, 255];
        expect(got, `pixel ${x},${y}`).toEqual(want);
      }
    }
  });

  it('255×129 → 256×130 (the e2e size), only one side odd → only that side grows', () => {
    expect(evenSize(255, 129)).toEqual({ width: 256, height: 130 });
    expect(evenSize(256, 129)).toEqual({ width: 256, height: 130 });
    const p = padRgbaToEven(frame(5, 2), 5, 2);
    expect(p.length).toBe(6 * 2 * 4);
    expect(Array.from(p.subarray(5 * 4, 6 * 4))).toEqual([0, 0, 0, 255]);
  });
});

describe('timestamps', () => {
  it('frame i at round(i × 10⁶ / fps) µs, and back to i exactly', () => {
    expect(timestampUs(1, 7)).toBe(142_857);
    expect(timestampUs(13, 7)).toBe(1_857_143);
    for (const fps of [6, 7, 8, 24, 29.97, 30]) {
      for (let i = 0; i < 300; i++) expect(frameIndexOfUs(timestampUs(i, fps), fps)).toBe(i);
    }
  });
});

describe('RGBA → I420 (BT.601, limited range)', () => {
  const solid = (r: number, g: number, b: number, w = 4, h = 2): Uint8Array => {
    const f = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) f.set([r, g, b, 255], i * 4);
    return f;
  };
  const planes = (yuv: Uint8Array, w: number, h: number) => ({ y: yuv[0], u: yuv[w * h], v: yuv[w * h + (w * h) / 4] });

  it('black, white, grey and the primaries land on the BT.601 studio-swing values (±1)', () => {
    const cases: [number, number, number, { y: number; u: number; v: number }][] = [
      [0, 0, 0, { y: 16, u: 128, v: 128 }],
      [255, 255, 255, { y: 235, u: 128, v: 128 }],
      [128, 128, 128, { y: 126, u: 128, v: 128 }],
      [255, 0, 0, { y: 81, u: 90, v: 240 }],
      [0, 255, 0, { y: 145, u: 54, v: 34 }],
      [0, 0, 255, { y: 41, u: 240, v: 110 }],
    ];
    for (const [r, g, b, want] of cases) {
      const got = planes(rgbaToI420(solid(r, g, b), 4, 2), 4, 2);
      expect(Math.abs(got.y - want.y), `Y of ${r},${g},${b}`).toBeLessThanOrEqual(1);
      expect(Math.abs(got.u - want.u), `U of ${r},${g},${b}`).toBeLessThanOrEqual(1);
      expect(Math.abs(got.v - want.v), `V of ${r},${g},${b}`).toBeLessThanOrEqual(1);
    }
  });

  it('luma per pixel, chroma per 2×2 block (the mean), planes laid out Y then U then V', () => {
    // 2×2: one white pixel, three black
    const f = solid(0, 0, 0, 2, 2);
    f.set([255, 255, 255, 255], 0);
    const yuv = rgbaToI420(f, 2, 2);
    expect(yuv.length).toBe(6);
    expect(Array.from(yuv.subarray(0, 4))).toEqual([235, 16, 16, 16]);
    expect([yuv[4], yuv[5]]).toEqual([128, 128]);
  });

  it('refuses odd sizes (pad first)', () => {
    expect(() => rgbaToI420(new Uint8Array(3 * 2 * 4), 3, 2)).toThrow(/even/);
  });
});

describe('top-level MP4 boxes', () => {
  const box = (type: string, payload: number): Uint8Array => {
    const b = new Uint8Array(8 + payload);
    new DataView(b.buffer).setUint32(0, 8 + payload);
    b.set([...type].map((c) => c.charCodeAt(0)), 4);
    return b;
  };
  const cat = (...parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };

  it('walks boxes by size, not by searching for the four letters', () => {
    // an mdat whose payload contains the letters "moov" must not count as a moov
    const mdat = box('mdat', 12);
    mdat.set([...'moov'].map((c) => c.charCodeAt(0)), 12);
    const file = cat(box('ftyp', 16), mdat, box('moov', 40));
    expect(topLevelBoxes(file).map((b) => b.type)).toEqual(['ftyp', 'mdat', 'moov']);
    expect(topLevelBoxes(file).map((b) => b.offset)).toEqual([0, 24, 44]);
  });

  it('a 64-bit size (size field 1) and a to-the-end box (size 0)', () => {
    const large = new Uint8Array(16 + 4);
    const v = new DataView(large.buffer);
    v.setUint32(0, 1);
    large.set([...'mdat'].map((c) => c.charCodeAt(0)), 4);
    v.setBigUint64(8, 20n);
    const last = box('free', 4);
    new DataView(last.buffer).setUint32(0, 0);
    expect(topLevelBoxes(cat(box('ftyp', 0), large, last)).map((b) => [b.type, b.size])).toEqual([
      ['ftyp', 8],
      ['mdat', 20],
      ['free', 12],
    ]);
  });
});
