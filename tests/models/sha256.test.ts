import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/models/sha256.ts';

const ref = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('incremental sha256', () => {
  it('matches the FIPS test vectors', () => {
    expect(sha256Hex(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto for every length 0..300 in one update', () => {
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++) expect(sha256Hex(data.subarray(0, n)), `length ${n}`).toBe(ref(data.subarray(0, n)));
  });

  it('matches node:crypto for many lengths split at every kind of chunk boundary', () => {
    const lengths = [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4095, 4096, 4097, 65_537, 1_000_003];
    const chunkings = [1, 3, 7, 63, 64, 65, 100, 4096, 65_536];
    for (const len of lengths) {
      const data = randomBytes(len);
      const expected = ref(data);
      for (const step of chunkings) {
        if (len / step > 20_000) continue;
        const h = new Sha256();
        for (let i = 0; i < len; i += step) h.update(data.subarray(i, i + step));
        expect(h.bytes).toBe(len);
        expect(h.hex(), `length ${len}, chunks of ${step}`).toBe(expected);
      }
      // random chunk sizes, including empty chunks
      const h = new Sha256();
      let i = 0;
      while (i < len) {
        const step = Math.floor(Math.random() * 200);
        h.update(data.subarray(i, i + step));
        i += step;
      }
      expect(h.hex(), `length ${len}, random chunks`).toBe(expected);
    }
  });

  it('clone() forks the state (resume from a checkpoint)', () => {
    const data = randomBytes(10_000);
    const h = new Sha256().update(data.subarray(0, 3333));
    const fork = h.clone();
    h.update(data.subarray(3333));
    fork.update(data.subarray(3333));
    expect(fork.hex()).toBe(ref(data));
    expect(h.hex()).toBe(ref(data));
  });

  it('hashes 64 MiB fast enough for multi-GB models', () => {
    const data = randomBytes(64 << 20);
    const t = performance.now();
    const got = new Sha256().update(data).hex();
    const ms = performance.now() - t;
    expect(got).toBe(ref(data));
    console.log(`sha256: ${(64 / (ms / 1000)).toFixed(0)} MiB/s`);
  });
});
