/** Base64 helpers for "copy as base64" / data URLs of generated media. Browser (DOM) code. */

const CHUNK = 0x8000;

/** Standard base64 (RFC 4648, with padding) of `bytes`. Chunked so large inputs do not overflow the call stack. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64.replace(/^data:[^,]*,/, '').replace(/\s+/g, ''));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export async function blobToBase64(blob: Blob): Promise<string> {
  return bytesToBase64(new Uint8Array(await blob.arrayBuffer()));
}

/** `data:<type>;base64,...` for a Blob (type defaults to the Blob's own type). */
export async function blobToDataUrl(blob: Blob, type = blob.type || 'application/octet-stream'): Promise<string> {
  return `data:${type};base64,${await blobToBase64(blob)}`;
}

/**
 * Copies the Blob to the clipboard as a base64 data URL (or bare base64 with `{ dataUrl: false }`).
 * Must be called from a user gesture; returns the copied text's length.
 */
export async function copyBlobAsBase64(blob: Blob, opts: { dataUrl?: boolean } = {}): Promise<number> {
  const text = opts.dataUrl === false ? await blobToBase64(blob) : await blobToDataUrl(blob);
  if (!navigator.clipboard?.writeText) throw new Error('Clipboard API unavailable (needs a secure context)');
  await navigator.clipboard.writeText(text);
  return text.length;
}
