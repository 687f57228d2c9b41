/**
 * The on-disk feature cache: one append-only file per backbone (and per
 * augmented view), holding records of [sha-256 of the image bytes, the
 * feature vector]. A second run with other head settings reads its features
 * from here instead of running the backbone again; a renamed or moved image
 * still hits, an edited one does not.
 *
 * Each batch is appended with one write, so a run that is killed loses at
 * most its last batch; a partial record at the end is cut off on open.
 * Only an index (hash → offset) of the records found at open is held in memory; vectors are read into the
 * caller's matrix row by row.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createError } from '../errors.ts';
import { makeDirectory } from '../make-directory.ts';

const MAGIC = 'IMGCLSF1';
const HEADER = 16; // magic, dimension (u32 LE), reserved
const HASH = 32;

export class FeatureCache {
  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    readonly dim: number,
    private readonly index: Map<string, number>,
  ) {}

  /** Open (or create) the cache for `key` in `dir`, holding vectors of `dim` values. */
  static async open(dir: string, key: string, dim: number): Promise<FeatureCache> {
    const path = join(dir, `${key}.f32`);
    let file: FileHandle;
    try {
      await makeDirectory(dir);
      file = await open(path, 'a+');
    } catch (err) {
      throw createError('FILE_UNREADABLE', `Cannot open the feature cache ${path}: ${(err as Error).message}; choose another with --cache <dir> or turn it off with --no-cache`, err);
    }
    try {
      return await FeatureCache.load(file, path, dim);
    } catch (err) {
      await file.close();
      throw createError('FILE_UNREADABLE', `Cannot read the feature cache ${path}: ${(err as Error).message}; delete it, or choose another with --cache <dir>`, err);
    }
  }

  /** Check the header (starting afresh if it is not ours) and index the whole records. */
  private static async load(file: FileHandle, path: string, dim: number): Promise<FeatureCache> {
    const size = (await file.stat()).size;
    const record = HASH + dim * 4;
    const header = Buffer.alloc(HEADER);
    if (size >= HEADER) await file.read(header, 0, HEADER, 0);
    const valid = size >= HEADER && header.toString('latin1', 0, 8) === MAGIC && header.readUInt32LE(8) === dim;
    if (!valid) {
      // New, or written for another dimension (should not happen: the key names the backbone): start afresh.
      await file.truncate(0);
      header.write(MAGIC, 0, 'latin1');
      header.writeUInt32LE(dim, 8);
      await file.write(header, 0, HEADER, 0);
      return new FeatureCache(file, path, dim, new Map());
    }
    const whole = Math.floor((size - HEADER) / record);
    const end = HEADER + whole * record;
    if (end !== size) await file.truncate(end);
    const index = new Map<string, number>();
    // Read the hashes in large sequential blocks rather than one small read per record.
    const perBlock = Math.max(1, Math.floor((8 << 20) / record));
    const block = Buffer.alloc(perBlock * record);
    for (let first = 0; first < whole; first += perBlock) {
      const count = Math.min(perBlock, whole - first);
      const at = HEADER + first * record;
      await file.read(block, 0, count * record, at);
      for (let i = 0; i < count; i++) index.set(block.toString('hex', i * record, i * record + HASH), at + i * record + HASH);
    }
    return new FeatureCache(file, path, dim, index);  }

  get size(): number {
    return this.index.size;
  }

  has(hash: string): boolean {
    return this.index.has(hash);
  }

  /** Copy the vector for `hash` into `into` at `offset`. */
  async read(hash: string, into: Float32Array, offset: number): Promise<void> {
    const at = this.index.get(hash);
    if (at === undefined) throw new RangeError(`feature cache: no entry for ${hash}`);
    const target = new Uint8Array(into.buffer, into.byteOffset + offset * 4, this.dim * 4);
    const { bytesRead } = await this.file.read(target, 0, target.length, at);
    if (bytesRead !== target.length) throw createError('FILE_UNREADABLE', `The feature cache ${this.path} ended early; delete it to rebuild`);
  }

  /** Append vectors (each `dim` values) with one write. */
  async append(entries: readonly { hash: string; vector: Float32Array }[]): Promise<void> {
    if (entries.length === 0) return;
    const record = HASH + this.dim * 4;
    const buf = Buffer.alloc(entries.length * record);
    entries.forEach((e, i) => {
      buf.write(e.hash, i * record, 'hex');
      Buffer.from(e.vector.buffer, e.vector.byteOffset, this.dim * 4).copy(buf, i * record + HASH);
    });
    // 'a+' appends at the end whatever the position, so two runs sharing the
    // cache interleave whole records. What this run appends it already holds,
    // so the index (the records found at open) is not extended.
    await this.file.write(buf, 0, buf.length, null);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
