/** Pure numerics shared by the browser worker and Node: scheduler, resampling, RNG, guidance. */
export * from './scheduler.ts';
export * from './resize.ts';
export * from './rng.ts';
export * from './guidance.ts';
