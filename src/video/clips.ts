/**
 * Frame arithmetic for what people do next with a clip: continue it (join a new generation at a frame) and loop it
 * (ping-pong, cross-fade). Pure functions on RGBA frames (no DOM, no Node): the app, the CLI and the tests share them.
 *
 * Frames are tightly packed RGBA buffers of one size (width × height × 4 bytes); the functions never copy a frame
 * they pass through unchanged.
 */

export type Frame = Uint8Array | Uint8ClampedArray;

export type LoopMode = 'none' | 'ping-pong' | 'crossfade';

export const LOOP_MODES: readonly LoopMode[] = ['none', 'ping-pong', 'crossfade'];

/**
 * The video so far continued by a new generation that started from frame `fromFrame` of it.
 *
 * SVD's first frame reproduces its conditioning picture, so the new clip's frame 0 repeats `fromFrame`: the join keeps
 * the video up to and including `fromFrame`, then the new clip from its frame 1. Frames after `fromFrame` are dropped
 * (continuing from the middle replaces the rest). Length: fromFrame + 1 + (next.length − 1).
 */
export function joinAt<T>(video: readonly T[], fromFrame: number, next: readonly T[]): T[] {
  if (!Number.isInteger(fromFrame) || fromFrame < 0 || fromFrame >= video.length) {
    throw new RangeError(`cannot continue from frame ${fromFrame + 1}: the video has ${video.length} frames`);
  }
  if (next.length < 2) throw new RangeError(`the new clip has ${next.length} frame(s); continuing needs at least 2 (its first repeats the frame it started from)`);
  return [...video.slice(0, fromFrame + 1), ...next.slice(1)];
}

/** Why a new clip cannot be joined to the video it continues: the settings make another size (the app and the CLI say this). */
export function sizeMismatch(
  video: { width: number; height: number },
  next: { width: number; height: number },
  fix = `Set the size to ${video.width}×${video.height} (Size: custom) to continue it.`,
): string {
  return `This video is ${video.width}×${video.height}, but the settings make ${next.width}×${next.height} videos; clips of ` +
    `different sizes cannot be joined. ${fix}`;
}

/**
 * Forward then backward without doubling the turning frames: 0 1 … F−1 F−2 … 1, then the player loops back to 0.
 * Length 2F − 2 (F ≥ 2; a single frame is returned as it is).
 */
export function pingPong<T>(frames: readonly T[]): T[] {
  if (frames.length < 2) return frames.slice();
  return [...frames, ...frames.slice(1, -1).reverse()];
}

/** Frames the cross-fade blends by default: a quarter of the clip, at least 1, at most 8 (≈ 1 s at the usual 7 fps). */
export function defaultCrossfadeFrames(count: number): number {
  return Math.max(1, Math.min(8, Math.floor(count / 4)));
}

/**
 * A loop whose end flows into its start: the last `overlap` frames are faded into the first `overlap`, so playing
 * the result on repeat has no jump. Output frame i < overlap = mix(frames[F − overlap + i], frames[i], (i + 1) / (overlap + 1))
 * (weight of the start frame rising), then frames[overlap … F − overlap − 1] unchanged. Length F − overlap.
 * Needs F ≥ 2·overlap + 1 so that at least one frame is not blended.
 */
export function crossfadeLoop<T extends Frame>(frames: readonly T[], overlap = defaultCrossfadeFrames(frames.length)): Frame[] {
  const count = frames.length;
  if (!Number.isInteger(overlap) || overlap < 1) throw new RangeError(`cross-fade length must be a whole number ≥ 1, got ${overlap}`);
  if (count < 2 * overlap + 1) throw new RangeError(`a cross-fade of ${overlap} frames needs at least ${2 * overlap + 1} frames; the video has ${count}`);
  const out: Frame[] = [];
  for (let i = 0; i < overlap; i++) {
    const tail = frames[count - overlap + i];
    const head = frames[i];
    const w = (i + 1) / (overlap + 1);
    const mixed = new Uint8ClampedArray(head.length);
    for (let k = 0; k < head.length; k++) mixed[k] = Math.round(tail[k] * (1 - w) + head[k] * w);
    out.push(mixed);
  }
  for (let i = overlap; i < count - overlap; i++) out.push(frames[i]);
  return out;
}

/** The frames of a loop mode. */
export function loopFrames<T extends Frame>(frames: readonly T[], mode: LoopMode): Frame[] {
  switch (mode) {
    case 'none':
      return frames.slice();
    case 'ping-pong':
      return pingPong(frames);
    case 'crossfade':
      return crossfadeLoop(frames);
  }
}

/** Words for a loop mode, as the export options show them. */
export function loopLabel(mode: LoopMode, count: number): string {
  switch (mode) {
    case 'none':
      return `As made (${count} frames)`;
    case 'ping-pong':
      return `Ping-pong: forward, then back (${Math.max(count, 2 * count - 2)} frames)`;
    case 'crossfade':
      return count >= 2 * defaultCrossfadeFrames(count) + 1
        ? `Cross-faded loop: the end fades into the start (${count - defaultCrossfadeFrames(count)} frames)`
        : 'Cross-faded loop (needs at least 3 frames)';
  }
}
