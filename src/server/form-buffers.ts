/**
 * Spare buffers for the form reader, kept from one upload to the next.
 *
 * Why: V8 counts every Buffer's memory against the HTTP thread's
 * old-generation allowance until a collection frees it. A new buffer per
 * upload, dead a few milliseconds later, doubled what the uploads put on that
 * count between young collections (the socket's chunks are the other half),
 * and at concurrency 32 that was enough, about one run in two, for V8 to
 * start a full collection every 50-70 requests and keep doing so: 20-48
 * full collections in 15 s, about 1 ms more CPU per request in all
 * (BENCHMARKS.md, "Full collections at concurrency 32"). Spares that go from
 * one upload to the next are counted once.
 *
 * A spare's old bytes are never read: the reader only reads what it wrote
 * (as it must with allocUnsafeSlow's memory anyway), and a buffer comes back
 * here only from a form that was read to its end, after its files were
 * copied out and its fields decoded.
 */

export interface BufferPoolOptions {
  /** Most spares kept. */
  count: number;
  /** Largest buffer kept, in bytes: larger ones are left to the collector. */
  maxBytes: number;
}

export class BufferPool {
  private readonly spares: Buffer[] = [];

  constructor(private readonly options: BufferPoolOptions) {}

  /** A buffer of at least `size` bytes, of unspecified contents: a spare if one is large enough, else a new one. */
  take(size: number): Buffer {
    // The smallest spare that fits, so that a small form does not hold the large spare a large one needs.
    let best = -1;
    for (let i = 0; i < this.spares.length; i++) {
      const length = this.spares[i]!.length;
      if (length >= size && (best < 0 || length < this.spares[best]!.length)) best = i;
    }
    if (best < 0) return Buffer.allocUnsafeSlow(size);
    const [spare] = this.spares.splice(best, 1);
    return spare!;
  }

  /** Hand back a buffer nothing will read or write again. Past the count, the smallest spare makes way for a larger one. */
  give(buffer: Buffer): void {
    // Only a buffer that is all of its memory: a view would keep a larger one alive, or share Node's pool slab.
    const whole = buffer.byteOffset === 0 && buffer.length === buffer.buffer.byteLength;
    if (!whole || buffer.length === 0 || buffer.length > this.options.maxBytes || this.spares.includes(buffer)) return;
    if (this.spares.length < this.options.count) {
      this.spares.push(buffer);
      return;
    }
    let smallest = 0;
    for (let i = 1; i < this.spares.length; i++) if (this.spares[i]!.length < this.spares[smallest]!.length) smallest = i;
    if (this.spares[smallest]!.length < buffer.length) this.spares[smallest] = buffer;
  }

  /** Spares held, and their bytes: for tests and metrics. */
  get held(): { count: number; bytes: number } {
    return { count: this.spares.length, bytes: this.spares.reduce((sum, b) => sum + b.length, 0) };
  }
}
