/**
 * Pure decisions of the WebCodecs MP4 path (src/video/webcodecs.ts), lib-neutral so vitest checks them in Node:
 * which H.264 codec strings to offer the browser for a size, which bitrate, how odd sizes are padded, the frame
 * timestamps, and the top-level box order of an MP4.
 */

export type AvcProfile = 'high' | 'main' | 'baseline';

/**
 * H.264 levels (ITU-T H.264 Table A-1): max macroblocks per second, max frame size in macroblocks, max video bitrate
 * in kbit/s for Baseline/Main (High allows 1.25×).
 */
export const H264_LEVELS: readonly { level: number; idc: number; maxMbps: number; maxFs: number; maxBrKbps: number }[] = [
  { level: 1, idc: 10, maxMbps: 1485, maxFs: 99, maxBrKbps: 64 },
  { level: 1.1, idc: 11, maxMbps: 3000, maxFs: 396, maxBrKbps: 192 },
  { level: 1.2, idc: 12, maxMbps: 6000, maxFs: 396, maxBrKbps: 384 },
  { level: 1.3, idc: 13, maxMbps: 11880, maxFs: 396, maxBrKbps: 768 },
  { level: 2, idc: 20, maxMbps: 11880, maxFs: 396, maxBrKbps: 2000 },
  { level: 2.1, idc: 21, maxMbps: 19800, maxFs: 792, maxBrKbps: 4000 },
  { level: 2.2, idc: 22, maxMbps: 20250, maxFs: 1620, maxBrKbps: 4000 },
  { level: 3, idc: 30, maxMbps: 40500, maxFs: 1620, maxBrKbps: 10000 },
  { level: 3.1, idc: 31, maxMbps: 108000, maxFs: 3600, maxBrKbps: 14000 },
  { level: 3.2, idc: 32, maxMbps: 216000, maxFs: 5120, maxBrKbps: 20000 },
  { level: 4, idc: 40, maxMbps: 245760, maxFs: 8192, maxBrKbps: 20000 },
  { level: 4.1, idc: 41, maxMbps: 245760, maxFs: 8192, maxBrKbps: 50000 },
  { level: 4.2, idc: 42, maxMbps: 522240, maxFs: 8704, maxBrKbps: 50000 },
  { level: 5, idc: 50, maxMbps: 589824, maxFs: 22080, maxBrKbps: 135000 },
  { level: 5.1, idc: 51, maxMbps: 983040, maxFs: 36864, maxBrKbps: 240000 },
  { level: 5.2, idc: 52, maxMbps: 2073600, maxFs: 36864, maxBrKbps: 240000 },
  { level: 6, idc: 60, maxMbps: 4177920, maxFs: 139264, maxBrKbps: 240000 },
  { level: 6.1, idc: 61, maxMbps: 8355840, maxFs: 139264, maxBrKbps: 480000 },
  { level: 6.2, idc: 62, maxMbps: 16711680, maxFs: 139264, maxBrKbps: 800000 },
];

/** profile_idc and constraint flags of the codec string: avc1.PPCCLL (RFC 6381). Baseline is Constrained Baseline. */
const PROFILE_HEX: Record<AvcProfile, string> = { high: '6400', main: '4d00', baseline: '42e0' };

/** The smallest level whose frame size, macroblock rate, frame dimensions and bitrate fit; null if none does. */
export function avcLevel(width: number, height: number, fps: number, bitrate: number, profile: AvcProfile): (typeof H264_LEVELS)[number] | null {
  const mbW = Math.ceil(width / 16);
  const mbH = Math.ceil(height / 16);
  const fs = mbW * mbH;
  const brFactor = profile === 'high' ? 1.25 : 1;
  for (const l of H264_LEVELS) {
    // A.3.1: each frame dimension at most sqrt(8 × MaxFS) macroblocks
    const maxSide = Math.sqrt(8 * l.maxFs);
    if (fs <= l.maxFs && mbW <= maxSide && mbH <= maxSide && fs * fps <= l.maxMbps && bitrate <= l.maxBrKbps * 1000 * brFactor) return l;
  }
  return null;
}

/** `avc1.PPCCLL` for a profile at the smallest level that fits; null when no level fits. */
export function avcCodecString(width: number, height: number, fps: number, bitrate: number, profile: AvcProfile): string | null {
  const l = avcLevel(width, height, fps, bitrate, profile);
  return l ? `avc1.${PROFILE_HEX[profile]}${l.idc.toString(16).padStart(2, '0')}` : null;
}

/** The codec strings to ask `VideoEncoder.isConfigSupported` about, best first: High, then Main, then Baseline. */
export function avcCodecCandidates(width: number, height: number, fps: number, bitrate: number): string[] {
  return (['high', 'main', 'baseline'] as const).map((p) => avcCodecString(width, height, fps, bitrate, p)).filter((s): s is string => s !== null);
}

/**
 * Bits per pixel per frame of the WebCodecs encode (a target for the browser's rate control: x264's constant-quality
 * CRF has no WebCodecs equivalent here, Chromium's H.264 encoder refuses bitrateMode 'quantizer'). Why 0.3: it is
 * where the browser's encoder matches x264 CRF 18's quality on detailed moving content. Measured in Chromium 156
 * (its software H.264 encoder: no GPU here), 25 frames of 1024×576 at 7 fps of the bench's 'texture' frames (smooth value noise
 * panning 6 px per frame): 0.3 (1.24 Mbit/s) gives PSNR 43.3 dB mean, 39.4 min; 0.6 gives 44.0 / 39.4, so more
 * bits buy little; x264 CRF 18 (preset veryfast) gives 42.9 dB mean, 41.0 min, in a third of the bytes. A 25-frame
 * clip ≈ 0.55 MB. npm run bench (mux section) prints both encoders' PSNR.
 */
export const BITS_PER_PIXEL_FRAME = 0.3;
/** Floor for tiny sizes, where headers and the first key frame dominate. */
export const MIN_BITRATE = 250_000;

/** Target bitrate (bit/s) for the padded size at `fps`. */
export function targetBitrate(width: number, height: number, fps: number): number {
  return Math.max(MIN_BITRATE, Math.round((width * height * fps * BITS_PER_PIXEL_FRAME) / 1000) * 1000);
}

/** yuv420p needs even dimensions: the ffmpeg path pads (`pad=ceil(iw/2)*2:ceil(ih/2)*2`), never resamples. */
export function evenSize(width: number, height: number): { width: number; height: number } {
  return { width: width + (width % 2), height: height + (height % 2) };
}

/**
 * Pads one RGBA frame to even dimensions exactly as ffmpeg's `pad` filter with its defaults does: the picture at the
 * top-left (x = y = 0), the new column on the right and the new row at the bottom opaque black. Returns the frame
 * itself when both sides are already even.
 */
export function padRgbaToEven(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const even = evenSize(width, height);
  if (even.width === width && even.height === height) return rgba;
  const out = new Uint8Array(even.width * even.height * 4);
  for (let i = 3; i < out.length; i += 4) out[i] = 255; // opaque black everywhere, then the picture on top
  for (let y = 0; y < height; y++) out.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * even.width * 4);
  return out;
}

/** Frame i's presentation time in whole microseconds (WebCodecs' unit); the muxer writes exactly i/fps. */
export function timestampUs(i: number, fps: number): number {
  return Math.round((i * 1e6) / fps);
}

/** The frame index of a WebCodecs timestamp made by `timestampUs`. */
export function frameIndexOfUs(us: number, fps: number): number {
  return Math.round((us * fps) / 1e6);
}

/** Top-level ISO BMFF boxes (type and offset), e.g. to check that 'moov' comes before 'mdat'. */
export function topLevelBoxes(bytes: Uint8Array): { type: string; offset: number; size: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: { type: string; offset: number; size: number }[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (size === 1 && at + 16 <= bytes.length) size = Number(view.getBigUint64(at + 8));
    else if (size === 0) size = bytes.length - at;
    if (size < 8) break;
    boxes.push({ type, offset: at, size });
    at += size;
  }
  return boxes;
}

/**
 * The colour of the WebCodecs path's frames, and so of its MP4: BT.601 matrix in limited range, as the ffmpeg path's
 * swscale `rgba → yuv420p` (x264 leaves it untagged; players assume BT.601 below 720p), here tagged in the stream with
 * sRGB's primaries and transfer, which is what the RGBA frames are. Handing the encoder RGBA instead lets the browser
 * pick: Chromium makes full-range 4:2:0 ('yuvj420p' to ffmpeg), which some players show with crushed contrast.
 */
export const I420_COLOR_SPACE = { primaries: 'bt709', transfer: 'iec61966-2-1', matrix: 'smpte170m', fullRange: false } as const;

/**
 * RGBA (even width and height) → I420: the Y plane, then U (Cb), then V (Cr) at half resolution, BT.601 limited
 * range, chroma the mean of each 2×2 block (alpha ignored).
 */
export function rgbaToI420(rgba: Uint8Array, width: number, height: number, out = new Uint8Array((width * height * 3) / 2)): Uint8Array {
  if (width % 2 || height % 2) throw new Error(`rgbaToI420 needs even dimensions, got ${width}x${height}`);
  const ys = 219 / 255;
  const cs = 224 / 255;
  const uOff = width * height;
  const vOff = uOff + (width * height) / 4;
  const cw = width / 2;
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r4 = 0;
      let g4 = 0;
      let b4 = 0;
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const p = ((y + dy) * width + x + dx) * 4;
          const r = rgba[p];
          const g = rgba[p + 1];
          const b = rgba[p + 2];
          out[(y + dy) * width + x + dx] = Math.round(16 + ys * (0.299 * r + 0.587 * g + 0.114 * b));
          r4 += r;
          g4 += g;
          b4 += b;
        }
      }
      const r = r4 / 4;
      const g = g4 / 4;
      const b = b4 / 4;
      const luma = 0.299 * r + 0.587 * g + 0.114 * b;
      const c = (y / 2) * cw + x / 2;
      out[uOff + c] = Math.round(128 + (cs * (b - luma)) / 1.772);
      out[vOff + c] = Math.round(128 + (cs * (r - luma)) / 1.402);
    }
  }
  return out;
}
