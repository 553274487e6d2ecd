/**
 * The seed, in one place: its range (the Segmind API's: −1 = "pick one for me", else 0 … SEED_MAX) and the draw
 * that turns −1 into a seed. The pipeline draws with it when a request says −1; the UI's dice use the same draw,
 * so a seed shown anywhere can be typed back in and reproduces the video.
 */

/** Largest seed the API accepts (< 2^50, so every seed is an exact JavaScript integer). */
export const SEED_MAX = 999_999_999_999_999;
/** The seed that means "draw one". */
export const RANDOM_SEED = -1;

/**
 * A fresh seed in [0, SEED_MAX], uniformly. With `random` (a Math.random-like source, for tests) it is
 * floor(random · (SEED_MAX + 1)); otherwise rejection sampling on 50 bits from crypto.getRandomValues when the
 * platform has it (browsers, workers, Node ≥ 19), else Math.random.
 */
export function drawSeed(random?: () => number): number {
  const limit = SEED_MAX + 1; // < 2^50
  if (random) return Math.min(SEED_MAX, Math.floor(random() * limit));
  const span = 2 ** 50;
  const bound = span - (span % limit); // accept below the largest multiple of `limit`: no modulo bias
  const c = (globalThis as { crypto?: { getRandomValues?: <T extends ArrayBufferView>(a: T) => T } }).crypto;
  const words = new Uint32Array(2);
  for (;;) {
    if (c?.getRandomValues) c.getRandomValues(words);
    else {
      words[0] = Math.floor(Math.random() * 0x100000000);
      words[1] = Math.floor(Math.random() * 0x100000000);
    }
    const v = (words[1] & 0x3ffff) * 0x100000000 + words[0]; // 18 + 32 = 50 bits
    if (v < bound) return v % limit;
  }
}

/** The seed a request will run with: its own, or a fresh draw for −1. */
export function resolveSeed(seed: number): number {
  return seed === RANDOM_SEED ? drawSeed() : seed;
}
