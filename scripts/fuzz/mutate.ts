/**
 * Mutators for encoded images: generic byte-level damage (bit flips,
 * "interesting" values, chunk deletion/duplication/insertion, truncation,
 * splicing two files) and format-aware tweaks of the header fields a decoder
 * trusts most (JPEG SOF and segment lengths, PNG IHDR with and without a
 * fixed CRC, WebP RIFF/VP8 sizes, GIF screen size). Every mutator says what
 * it did, so a failing case can be described without its bytes.
 */
import { crc32 } from 'node:zlib';
import type { Rng } from './random.ts';

export interface SeedImage {
  /** The fixture's file name. */
  name: string;
  bytes: Uint8Array;
}

export interface Mutated {
  bytes: Uint8Array;
  /** What was done, in order, e.g. "bitflip x3 @12,40,77". */
  steps: string[];
}

/** Byte values and 16/32-bit values that sit on sign and size boundaries, where parsers miscount. */
const INTERESTING_8 = [0x00, 0xff, 0x7f, 0x80] as const;
const INTERESTING_16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 10_000, 20_000] as const;
const INTERESTING_32 = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff, 10_000, 20_000, 100_000] as const;

/** Half the positions fall in the first 64 bytes: headers are where most decoder decisions are made. */
function position(rng: Rng, length: number): number {
  if (length <= 1) return 0;
  return rng.chance(0.5) ? rng.int(Math.min(64, length)) : rng.int(length);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

// ---------------------------------------------------------------- byte level

function bitFlip(rng: Rng, input: Uint8Array): Mutated {
  const out = input.slice();
  const n = rng.range(1, 8);
  const at: number[] = [];
  for (let i = 0; i < n && out.length > 0; i++) {
    const p = position(rng, out.length);
    out[p] = out[p]! ^ (1 << rng.int(8));
    at.push(p);
  }
  return { bytes: out, steps: [`bitflip x${at.length} @${at.join(',')}`] };
}

function interesting(rng: Rng, input: Uint8Array): Mutated {
  const out = input.slice();
  const n = rng.range(1, 4);
  const done: string[] = [];
  for (let i = 0; i < n && out.length > 0; i++) {
    const p = position(rng, out.length);
    const v = rng.pick(INTERESTING_8);
    out[p] = v;
    done.push(`${p}=0x${v.toString(16)}`);
  }
  return { bytes: out, steps: [`overwrite ${done.join(',')}`] };
}

function deleteChunk(rng: Rng, input: Uint8Array): Mutated {
  if (input.length < 2) return truncate(rng, input);
  const start = position(rng, input.length);
  const len = rng.range(1, Math.max(1, Math.min(input.length - start, rng.pick([4, 16, 256, 4096]))));
  return { bytes: concat(input.subarray(0, start), input.subarray(start + len)), steps: [`delete ${len}B @${start}`] };
}

function duplicateChunk(rng: Rng, input: Uint8Array): Mutated {
  if (input.length === 0) return insertChunk(rng, input);
  const start = rng.int(input.length);
  const len = rng.range(1, Math.min(input.length - start, rng.pick([4, 16, 256, 4096])));
  const at = position(rng, input.length);
  const times = rng.pick([1, 1, 2, 16]);
  const copies = Array.from({ length: times }, () => input.subarray(start, start + len));
  return { bytes: concat(input.subarray(0, at), ...copies, input.subarray(at)), steps: [`duplicate ${len}B from @${start} x${times} to @${at}`] };
}

function insertChunk(rng: Rng, input: Uint8Array): Mutated {
  const at = position(rng, input.length + 1);
  const len = rng.pick([1, 4, 16, 256, 2048]);
  const fill = rng.chance(0.5) ? rng.bytes(len) : new Uint8Array(len).fill(rng.pick(INTERESTING_8));
  return { bytes: concat(input.subarray(0, at), fill, input.subarray(at)), steps: [`insert ${len}B @${at}`] };
}

function truncate(rng: Rng, input: Uint8Array): Mutated {
  const keep = input.length === 0 ? 0 : rng.chance(0.3) ? rng.int(Math.min(input.length, 32)) : rng.int(input.length);
  return { bytes: input.slice(0, keep), steps: [`truncate to ${keep}B`] };
}

function splice(rng: Rng, input: Uint8Array, other: SeedImage): Mutated {
  const cutA = rng.int(input.length + 1);
  const cutB = rng.int(other.bytes.length + 1);
  return { bytes: concat(input.subarray(0, cutA), other.bytes.subarray(cutB)), steps: [`splice first ${cutA}B + ${other.name} from @${cutB}`] };
}

// ---------------------------------------------------------------- header fields

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Offsets of JPEG marker segments (FFxx with a length), stopping at the scan. */
function jpegSegments(b: Uint8Array): { marker: number; at: number }[] {
  const out: { marker: number; at: number }[] = [];
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1]!;
    out.push({ marker, at: i });
    if (marker === 0xda) break;
    i += 2 + ((b[i + 2]! << 8) | b[i + 3]!);
  }
  return out;
}

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegHeader(rng: Rng, input: Uint8Array): Mutated | null {
  const segments = jpegSegments(input);
  if (segments.length === 0) return null;
  const out = input.slice();
  const sof = segments.find((s) => isSof(s.marker));
  if (sof && sof.at + 10 <= out.length && rng.chance(0.7)) {
    const field = rng.pick(['height', 'width', 'components', 'precision'] as const);
    if (field === 'components' || field === 'precision') {
      const v = rng.pick(INTERESTING_8);
      out[sof.at + (field === 'precision' ? 4 : 9)] = v;
      return { bytes: out, steps: [`jpeg SOF ${field}=${v}`] };
    }
    const v = rng.chance(0.8) ? rng.pick(INTERESTING_16) : rng.int(0x10000);
    view(out).setUint16(sof.at + (field === 'height' ? 5 : 7), v);
    return { bytes: out, steps: [`jpeg SOF ${field}=${v}`] };
  }
  const seg = rng.pick(segments);
  if (seg.at + 4 > out.length) return null;
  const v = rng.pick(INTERESTING_16);
  view(out).setUint16(seg.at + 2, v);
  return { bytes: out, steps: [`jpeg segment FF${seg.marker.toString(16)} @${seg.at} length=${v}`] };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

function pngHeader(rng: Rng, input: Uint8Array): Mutated | null {
  if (input.length < 33 || !PNG_SIGNATURE.every((b, i) => input[i] === b)) return null;
  const out = input.slice();
  const dv = view(out);
  const field = rng.pick(['width', 'height', 'width', 'height', 'bit depth', 'colour type', 'interlace', 'length'] as const);
  let step: string;
  if (field === 'width' || field === 'height') {
    const v = rng.chance(0.8) ? rng.pick(INTERESTING_32) : rng.next32();
    dv.setUint32(field === 'width' ? 16 : 20, v);
    step = `png IHDR ${field}=${v}`;
  } else if (field === 'length') {
    const v = rng.pick(INTERESTING_32);
    dv.setUint32(8, v);
    step = `png IHDR length=${v}`;
  } else {
    const at = field === 'bit depth' ? 24 : field === 'colour type' ? 25 : 28;
    const v = rng.pick([0, 1, 2, 3, 4, 6, 8, 16, 0x7f, 0xff]);
    out[at] = v;
    step = `png IHDR ${field}=${v}`;
  }
  // With the CRC fixed the decoder believes the header; without, it must notice the checksum.
  const fixCrc = rng.chance(0.6);
  if (fixCrc) dv.setUint32(29, crc32(out.subarray(12, 29)));
  return { bytes: out, steps: [`${step} (${fixCrc ? 'CRC fixed' : 'CRC stale'})`] };
}

const ascii = (b: Uint8Array, at: number, n: number) => Buffer.from(b.subarray(at, at + n)).toString('latin1');

function webpHeader(rng: Rng, input: Uint8Array): Mutated | null {
  if (input.length < 30 || ascii(input, 0, 4) !== 'RIFF' || ascii(input, 8, 4) !== 'WEBP') return null;
  const out = input.slice();
  const dv = view(out);
  const chunk = ascii(out, 12, 4);
  const choice = rng.int(3);
  if (choice === 0) {
    const v = rng.pick(INTERESTING_32);
    dv.setUint32(4, v, true);
    return { bytes: out, steps: [`webp RIFF size=${v}`] };
  }
  if (choice === 1) {
    const v = rng.pick(INTERESTING_32);
    dv.setUint32(16, v, true);
    return { bytes: out, steps: [`webp ${chunk.trim()} chunk size=${v}`] };
  }
  const v = rng.pick(INTERESTING_16);
  if (chunk === 'VP8 ') {
    // The key frame's 14-bit width and height follow the 3-byte tag and the 9d 01 2a start code.
    const at = rng.chance(0.5) ? 26 : 28;
    dv.setUint16(at, v, true);
    return { bytes: out, steps: [`webp VP8 ${at === 26 ? 'width' : 'height'} field=${v}`] };
  }
  if (chunk === 'VP8X') {
    const at = rng.chance(0.5) ? 24 : 27;
    dv.setUint16(at, v, true);
    out[at + 2] = rng.pick(INTERESTING_8);
    return { bytes: out, steps: [`webp VP8X canvas ${at === 24 ? 'width' : 'height'} field=${v}`] };
  }
  dv.setUint32(21, rng.next32(), true);
  return { bytes: out, steps: [`webp ${chunk.trim()} size bits randomised`] };
}

function gifHeader(rng: Rng, input: Uint8Array): Mutated | null {
  if (input.length < 13 || ascii(input, 0, 3) !== 'GIF') return null;
  const out = input.slice();
  const at = rng.pick([6, 8, 10]);
  if (at === 10) {
    out[10] = rng.pick(INTERESTING_8);
    return { bytes: out, steps: [`gif packed flags=${out[10]}`] };
  }
  const v = rng.pick(INTERESTING_16);
  view(out).setUint16(at, v, true);
  return { bytes: out, steps: [`gif screen ${at === 6 ? 'width' : 'height'}=${v}`] };
}

function headerField(rng: Rng, input: Uint8Array): Mutated | null {
  return jpegHeader(rng, input) ?? pngHeader(rng, input) ?? webpHeader(rng, input) ?? gifHeader(rng, input);
}

// ---------------------------------------------------------------- driver

const BYTE_MUTATORS = [bitFlip, interesting, deleteChunk, duplicateChunk, insertChunk, truncate] as const;

/** One generic byte-level mutation: for bodies that are not images (multipart, JSON). */
export function mutateBytes(rng: Rng, input: Uint8Array): Mutated {
  return rng.pick(BYTE_MUTATORS)(rng, input);
}

type Mutator = (rng: Rng, input: Uint8Array, seeds: readonly SeedImage[]) => Mutated | null;

const MUTATORS: readonly (readonly [weight: number, Mutator])[] = [
  [4, (rng, b) => bitFlip(rng, b)],
  [3, (rng, b) => interesting(rng, b)],
  [2, (rng, b) => deleteChunk(rng, b)],
  [2, (rng, b) => duplicateChunk(rng, b)],
  [2, (rng, b) => insertChunk(rng, b)],
  [2, (rng, b) => truncate(rng, b)],
  [1, (rng, b, seeds) => splice(rng, b, rng.pick(seeds))],
  [4, (rng, b) => headerField(rng, b)],
];

/**
 * Apply one to three mutations to `seed`. Stacking a few finds states one
 * mutation cannot reach (a fixed-CRC header and a damaged body), and stays
 * close enough to the seed to get past the format checks.
 */
export function mutateImage(rng: Rng, seed: SeedImage, seeds: readonly SeedImage[]): Mutated {
  let bytes = seed.bytes;
  const steps: string[] = [];
  const rounds = rng.weighted([[5, 1], [3, 2], [1, 3]] as const);
  for (let i = 0; i < rounds; i++) {
    const result = rng.weighted(MUTATORS)(rng, bytes, seeds) ?? bitFlip(rng, bytes);
    bytes = result.bytes;
    steps.push(...result.steps);
  }
  return { bytes, steps };
}

/** A seed image, mutated nine times in ten; left intact otherwise, so valid decodes and inference run too. */
export function imagePayload(rng: Rng, seeds: readonly SeedImage[]): Mutated & { seed: string } {
  const seed = rng.pick(seeds);
  if (rng.chance(0.1)) return { bytes: seed.bytes, steps: ['intact'], seed: seed.name };
  return { ...mutateImage(rng, seed, seeds), seed: seed.name };
}
