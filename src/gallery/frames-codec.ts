/**
 * How a kept result's frames are stored: RGBA back to back, gzip-compressed (the browser's CompressionStream, level
 * fixed by the platform). Lossless, so a result continued or looped from the gallery uses exactly the frames it made;
 * a natural picture's RGBA compresses about 2× (alpha is constant), so 25 frames of 1024×576 take ~30 MB instead of 59.
 * Lib-neutral: CompressionStream exists in browsers, workers and Node ≥ 18.
 */

/** The frames, one gzip stream. */
export async function compressFrames(frames: Uint8Array[]): Promise<Uint8Array> {
  const stream = new Blob(frames as Uint8Array<ArrayBuffer>[]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** How a stored frames file is encoded: gzip, or absent for raw RGBA (results kept before compression). */
export type FramesEncoding = 'gzip' | undefined;

/** All the frame bytes of a stored file; undefined when a gzip file is not a whole gzip stream. */
export async function decodeFrames(stored: Blob, encoding: FramesEncoding): Promise<Uint8Array | undefined> {
  if (encoding !== 'gzip') return new Uint8Array(await stored.arrayBuffer());
  try {
    return new Uint8Array(await new Response(stored.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  } catch {
    return undefined;
  }
}

/** The first `bytes` of the frames only (a thumbnail), reading no more of the file than that needs. */
export async function firstFrameBytes(stored: Blob, bytes: number, encoding: FramesEncoding): Promise<Uint8Array | undefined> {
  if (encoding !== 'gzip') return stored.size >= bytes ? new Uint8Array(await stored.slice(0, bytes).arrayBuffer()) : undefined;
  const reader = stored.stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const out = new Uint8Array(bytes);
  let filled = 0;
  try {
    while (filled < bytes) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      const take = Math.min(value.byteLength, bytes - filled);
      out.set(value.subarray(0, take), filled);
      filled += take;
    }
    return out;
  } catch {
    return undefined;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
