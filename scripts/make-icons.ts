/**
 * Generates the PWA icons and the favicon procedurally (no SVG, no image tools): a film frame with a play
 * triangle over the app's indigo gradient. Output is committed; re-run after changing the design:
 *
 *   npx tsx scripts/make-icons.ts
 *
 * Writes into public/ (Vite copies it to dist/ as-is):
 * - icons/icon-192.png, icons/icon-512.png          purpose "any": rounded square, transparent corners
 * - icons/icon-maskable-512.png                      purpose "maskable": full bleed, artwork inside the 80% safe circle
 * - icons/apple-touch-icon.png (180)                 full bleed and opaque (iOS rounds the corners itself)
 * - icons/favicon-32.png, favicon.ico (16, 32, 48)   simplified artwork (play triangle only) that stays legible
 *
 * Rendering: every pixel is the average of 5×5 sub-samples of a flat-shaded scene described by signed-distance
 * shapes (anti-aliasing by supersampling). Deterministic: same bytes on every run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');

type Rgba = [number, number, number, number];
type Variant = 'any' | 'maskable' | 'apple' | 'small';

const hex = (h: string, a = 1): Rgba => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), a];
const mix = (a: Rgba, b: Rgba, t: number): Rgba => {
  const k = Math.min(1, Math.max(0, t));
  return [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k, a[2] + (b[2] - a[2]) * k, a[3] + (b[3] - a[3]) * k];
};

// The app's accents (src/ui/styles.css): light #4f46e5, dark #8b83ff; dark background #0e1017 / #1c1f3a.
const BG_TOP = hex('#7c6cff');
const BG_BOTTOM = hex('#3b2fc9');
const STRIP = hex('#f4f3ff');
const SCREEN_TOP = hex('#1c1f3a');
const SCREEN_BOTTOM = hex('#0e1017');
const PLAY_TOP = hex('#c7c2ff');
const PLAY_BOTTOM = hex('#8b83ff');
const TRANSPARENT: Rgba = [0, 0, 0, 0];

/** Signed distance to a rounded box centred at (cx, cy) with half-size (hx, hy) and corner radius r. */
function roundedBox(x: number, y: number, cx: number, cy: number, hx: number, hy: number, r: number): number {
  const qx = Math.abs(x - cx) - (hx - r);
  const qy = Math.abs(y - cy) - (hy - r);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Inside test for the play triangle pointing right, centred (optically) at (cx, cy), height h. */
function inPlay(x: number, y: number, cx: number, cy: number, h: number): boolean {
  const w = h * 0.88;
  // Optical centring: a triangle's centroid sits one third in from its base.
  const left = cx - w / 3;
  const right = left + w;
  if (x < left || x > right) return false;
  const half = (h / 2) * (1 - (x - left) / w);
  return Math.abs(y - cy) <= half;
}

/** Colour of the scene at (x, y) in unit coordinates ([0,1]², y down). */
function scene(x: number, y: number, variant: Variant): Rgba {
  const fullBleed = variant === 'maskable' || variant === 'apple';
  if (!fullBleed && roundedBox(x, y, 0.5, 0.5, 0.5, 0.5, 0.225) > 0) return TRANSPARENT;
  // Diagonal gradient with a soft highlight in the top-left corner.
  let color = mix(BG_TOP, BG_BOTTOM, (x + y) / 2);
  const glow = Math.max(0, 1 - Math.hypot(x - 0.2, y - 0.12) / 0.75);
  color = mix(color, hex('#ffffff'), glow * glow * 0.22);

  // Artwork scale: maskable icons may be cropped to a circle of radius 0.4, so the artwork shrinks to fit.
  const scale = variant === 'maskable' ? 0.78 : variant === 'apple' ? 0.92 : 1;
  const u = (x - 0.5) / scale + 0.5;
  const v = (y - 0.5) / scale + 0.5;

  if (variant === 'small') {
    // Favicon sizes: the strip's perforations would turn to mush, keep a bold play triangle.
    return inPlay(u, v, 0.5, 0.5, 0.56) ? mix(hex('#ffffff'), STRIP, v) : color;
  }

  // Film strip: a light band with perforations along both edges and a dark screen window in the middle.
  const strip = roundedBox(u, v, 0.5, 0.5, 0.35, 0.27, 0.055);
  if (strip > 0) return color;
  const screen = roundedBox(u, v, 0.5, 0.5, 0.28, 0.165, 0.03);
  if (screen <= 0) {
    if (inPlay(u, v, 0.5, 0.5, 0.2)) return mix(PLAY_TOP, PLAY_BOTTOM, (v - 0.4) / 0.2);
    return mix(SCREEN_TOP, SCREEN_BOTTOM, (v - 0.335) / 0.33);
  }
  const holes = 6;
  for (let i = 0; i < holes; i++) {
    const hx = 0.5 - 0.28 + (0.56 * (i + 0.5)) / holes;
    for (const hy of [0.5 - 0.2175, 0.5 + 0.2175]) {
      if (roundedBox(u, v, hx, hy, 0.024, 0.02, 0.008) <= 0) return mix(color, SCREEN_BOTTOM, 0.35);
    }
  }
  return STRIP;
}

function render(size: number, variant: Variant): Buffer {
  const png = new PNG({ width: size, height: size, colorType: 6 });
  const n = 5;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Average premultiplied colour so transparent samples do not darken edges.
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = scene((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size, variant);
          r += c[0] * c[3];
          g += c[1] * c[3];
          b += c[2] * c[3];
          a += c[3];
        }
      }
      const o = (py * size + px) * 4;
      png.data[o] = a ? Math.round(r / a) : 0;
      png.data[o + 1] = a ? Math.round(g / a) : 0;
      png.data[o + 2] = a ? Math.round(b / a) : 0;
      png.data[o + 3] = Math.round((a / (n * n)) * 255);
    }
  }
  return PNG.sync.write(png, { colorType: 6 });
}

/** A .ico holding PNG images (supported by every current browser and Windows Vista+). */
function ico(images: { size: number; png: Buffer }[]): Buffer {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // type: icon
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, i) => {
    const e = 6 + 16 * i;
    header.writeUInt8(size >= 256 ? 0 : size, e);
    header.writeUInt8(size >= 256 ? 0 : size, e + 1);
    header.writeUInt8(0, e + 2); // palette size
    header.writeUInt8(0, e + 3);
    header.writeUInt16LE(1, e + 4); // colour planes
    header.writeUInt16LE(32, e + 6); // bits per pixel
    header.writeUInt32LE(png.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((im) => im.png)]);
}

function write(rel: string, bytes: Buffer): void {
  const file = join(PUBLIC, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  console.log(`${rel.padEnd(28)} ${bytes.length.toString().padStart(7)} bytes`);
}

write('icons/icon-192.png', render(192, 'any'));
write('icons/icon-512.png', render(512, 'any'));
write('icons/icon-maskable-512.png', render(512, 'maskable'));
write('icons/apple-touch-icon.png', render(180, 'apple'));
write('icons/favicon-32.png', render(32, 'small'));
write('favicon.ico', ico([16, 32, 48].map((size) => ({ size, png: render(size, 'small') }))));
