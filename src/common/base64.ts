/**
 * Base64, one home: encoding for "copy as base64" and the Segmind upload, decoding for Segmind's answers and the
 * test harnesses. Works in pages, workers and Node (no atob/btoa, no Buffer).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

const DECODE = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  table['-'.charCodeAt(0)] = 62; // base64url
  table['_'.charCodeAt(0)] = 63;
  return table;
})();

/** Standard base64 (RFC 4648, with padding) of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  const out: string[] = [];
  let line = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const n = (a << 16) | (b << 8) | c;
    line += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63] +
      (i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? ALPHABET[n & 63] : '=');
    if (line.length >= 0x4000) {
      out.push(line);
      line = '';
    }
  }
  out.push(line);
  return out.join('');
}

/** Standard or URL-safe base64, whitespace ignored, padding optional; undefined if it is not base64. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let n = 0;
  let acc = 0;
  let bits = 0;
  let padding = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x3d /* = */) {
      padding = true;
      continue;
    }
    const v = c < 128 ? DECODE[c] : -1;
    if (v < 0 || padding) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  if (bits >= 6) return undefined; // a dangling single character
  return out.subarray(0, n);
}

/** "data:image/png;base64,AAAA" → "AAAA"; anything else unchanged. */
export function stripDataUrl(text: string): string {
  const m = /^data:[^,]*?;base64,/i.exec(text);
  return m ? text.slice(m[0].length) : text;
}

/** Bytes of base64 text or a base64 data URL; throws when it is not base64. */
export function base64ToBytes(text: string): Uint8Array {
  const bytes = decodeBase64(stripDataUrl(text.trim()));
  if (!bytes) throw new TypeError('not base64 text');
  return bytes;
}

export async function blobToBase64(blob: Blob): Promise<string> {
  return bytesToBase64(new Uint8Array(await blob.arrayBuffer()));
}

/** `data:<type>;base64,...` for a Blob (type defaults to the Blob's own type). */
export async function blobToDataUrl(blob: Blob, type = blob.type || 'application/octet-stream'): Promise<string> {
  return `data:${type};base64,${await blobToBase64(blob)}`;
}
