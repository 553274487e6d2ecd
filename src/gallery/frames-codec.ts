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

/** All the bytes of a gzip stream of frames; undefined when it is not a whole gzip stream. */
export async function decompressFrames(compressed: Blob): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await new Response(compressed.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  } catch {
    return undefined;
  }
}

/** The first `bytes` of the frames only (a thumbnail), reading no more of the stream than that needs. */
export async function firstFrameBytes(compressed: Blob, bytes: number): Promise<Uint8Array | undefined> {
  const reader = compressed.stream().pipeThrough(new DecompressionStream('gzip')).getReader();
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
