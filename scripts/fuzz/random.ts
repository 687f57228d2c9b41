/**
 * A small seeded PRNG (mulberry32) for the fuzzer. Math.random cannot be
 * seeded, and every case must be reproducible from (seed, index) alone, so a
 * failing case can be regenerated without replaying the ones before it.
 */
import { Random } from '../../src/train/random.ts';

/** Mix two 32-bit integers into one seed (murmur3's finaliser), so nearby (seed, index) pairs give unrelated streams. */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x27d4eb2f, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The trainer's mulberry32 (src/train/random.ts), with the draws the fuzzer needs. */
export class Rng extends Random {
  /** The next 32 bits: exact, since next() is a 32-bit integer over 2^32. */
  next32(): number {
    return this.next() * 0x1_0000_0000;
  }

  /** An integer in [0, n); 0 for an empty range. */
  override int(n: number): number {
    return n <= 0 ? 0 : super.int(n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** One of `weighted`'s values, each as likely as its weight. */
  weighted<T>(weighted: readonly (readonly [weight: number, value: T])[]): T {
    const total = weighted.reduce((s, [w]) => s + w, 0);
    let r = this.int(total);
    for (const [w, value] of weighted) {
      if (r < w) return value;
      r -= w;
    }
    return weighted[weighted.length - 1]![1];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next32() & 0xff;
    return out;
  }
}
