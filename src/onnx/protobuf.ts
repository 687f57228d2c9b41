/**
 * A minimal protocol-buffers writer: just the wire types ONNX uses.
 * We write ONNX graphs ourselves (test models, the Keras importer) rather than
 * pull in a generated protobuf library for a handful of messages.
 */

const utf8 = new TextEncoder();

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const bytes = Uint8Array.from(this.scratch);
    this.chunks.push(bytes);
    this.length += bytes.length;
    this.scratch = [];
  }

  private varint(value: number | bigint): void {
    // int64 fields may be negative: encode as two's complement over 64 bits.
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const buf = new DataView(new ArrayBuffer(4));
    buf.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.scratch.push(buf.getUint8(i));
    return this;
  }

  /** Not copied: `value` is referenced until finish(), so must not change before then. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.flushScratch();
    this.chunks.push(value);
    this.length += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** A length-delimited field holding `inner`'s bytes, taken over chunk by chunk rather than copied. */
  private nested(field: number, inner: ProtoWriter): this {
    inner.flushScratch();
    this.tag(field, 2);
    this.varint(inner.length);
    this.flushScratch();
    for (const chunk of inner.chunks) this.chunks.push(chunk);
    this.length += inner.length;
    return this;
  }

  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.nested(field, inner);
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.nested(field, inner);
  }

  packedFloats(field: number, values: readonly number[]): this {
    const data = new Float32Array(values);
    return this.bytes(field, new Uint8Array(data.buffer));
  }

  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
