/**
 * The 'texture' test pattern's noise, shared by the harness's mux frames (src/devtools/harness.ts) and the mux bench
 * (bench/mux.ts) so both encode the same pictures. Pure.
 */
/** 0..63, deterministic (integer math only). */
export function textureNoise(u: number, v: number): number {
  // value noise: a hash on an 8-px grid, bilinearly interpolated in integers (smooth detail, like real footage)
  const cell = (gx: number, gy: number): number => {
    let h = Math.imul(gx, 374761393) ^ Math.imul(gy, 668265263);
    h = Math.imul(h ^ (h >>> 13), 1274126177);
    return (h ^ (h >>> 16)) & 63;
  };
  const gx = u >> 3;
  const gy = v >> 3;
  const fx = u & 7;
  const fy = v & 7;
  const top = cell(gx, gy) * (8 - fx) + cell(gx + 1, gy) * fx;
  const bottom = cell(gx, gy + 1) * (8 - fx) + cell(gx + 1, gy + 1) * fx;
  return (top * (8 - fy) + bottom * fy) >> 6;
}
