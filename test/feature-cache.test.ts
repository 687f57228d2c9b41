/**
 * The on-disk feature cache: vectors survive a reopen bit for bit, a record
 * cut short by a killed run is dropped, a file of another dimension or
 * format is started afresh, and a cache directory that cannot be made gives
 * a catalogued error naming --cache.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ImgclsError } from '../src/errors.ts';
import { FeatureCache } from '../src/train/feature-cache.ts';
import { Random } from '../src/train/random.ts';

const HEADER = 16;
const HASH = 32;
const DIM = 5;
const RECORD = HASH + DIM * 4;

let root: string;
let count = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcls-feature-cache-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory for one test. */
const freshDir = () => join(root, `case-${++count}`);

const hashOf = (name: string) => createHash('sha256').update(name).digest('hex');

function entries(names: string[], seed: number, dim = DIM) {
  const rng = new Random(seed);
  return names.map((name) => ({ hash: hashOf(name), vector: Float32Array.from({ length: dim }, () => rng.normal()) }));
}

async function readVector(cache: FeatureCache, hash: string): Promise<Float32Array> {
  const out = new Float32Array(cache.dim);
  await cache.read(hash, out, 0);
  return out;
}

test('append, then reopen: has and read give the same vectors, size counts the records', async () => {
  const dir = freshDir();
  const first = entries(['a', 'b', 'c'], 1);
  const second = entries(['d', 'e'], 2);
  const cache = await FeatureCache.open(dir, 'backbone', DIM);
  assert.equal(cache.size, 0);
  assert.equal(cache.path, join(dir, 'backbone.f32'));
  await cache.append(first);
  await cache.append([]);
  await cache.append(second);
  await cache.close();
  assert.equal((await stat(cache.path)).size, HEADER + 5 * RECORD);

  const again = await FeatureCache.open(dir, 'backbone', DIM);
  assert.equal(again.size, 5);
  assert.equal(again.dim, DIM);
  for (const e of [...first, ...second]) {
    assert.ok(again.has(e.hash));
    assert.deepEqual(await readVector(again, e.hash), e.vector);
  }
  assert.ok(!again.has(hashOf('z')));
  // Reading into a row of a larger matrix leaves the other rows alone.
  const rows = new Float32Array(3 * DIM).fill(7);
  await again.read(second[1]!.hash, rows, DIM);
  assert.deepEqual(rows.subarray(DIM, 2 * DIM), second[1]!.vector);
  assert.ok(rows.subarray(0, DIM).every((v) => v === 7) && rows.subarray(2 * DIM).every((v) => v === 7));
  await again.close();

  // Another key in the same directory is another file.
  const other = await FeatureCache.open(dir, 'other', DIM);
  assert.equal(other.size, 0);
  await other.close();
});

test('a record cut short (a killed run) is dropped on open; later appends are readable', async () => {
  const dir = freshDir();
  const written = entries(['a', 'b', 'c'], 3);
  const cache = await FeatureCache.open(dir, 'k', DIM);
  await cache.append(written);
  await cache.close();
  // Cut the file in the middle of the third record's vector.
  await truncate(cache.path, HEADER + 2 * RECORD + HASH + 6);

  const reopened = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(reopened.size, 2);
  assert.ok(reopened.has(written[0]!.hash) && reopened.has(written[1]!.hash));
  assert.ok(!reopened.has(written[2]!.hash));
  assert.deepEqual(await readVector(reopened, written[1]!.hash), written[1]!.vector);
  // The partial record is cut off, so the next append starts on a record boundary.
  assert.equal((await stat(reopened.path)).size, HEADER + 2 * RECORD);
  const more = entries(['c', 'd'], 4);
  await reopened.append(more);
  await reopened.close();

  const third = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(third.size, 4);
  for (const e of [...written.slice(0, 2), ...more]) assert.deepEqual(await readVector(third, e.hash), e.vector);
  await third.close();

  // Cut inside the hash of the first record: nothing whole is left.
  await truncate(third.path, HEADER + 10);
  const empty = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(empty.size, 0);
  await empty.close();
});

test('a file of another dimension, with a bad magic or shorter than its header is reset, not misread', async () => {
  const dir = freshDir();
  const cache = await FeatureCache.open(dir, 'k', DIM);
  await cache.append(entries(['a', 'b'], 5));
  await cache.close();

  // Opened for 6 values per vector: started afresh, with the new dimension in the header.
  const wider = await FeatureCache.open(dir, 'k', DIM + 1);
  assert.equal(wider.size, 0);
  await wider.close();
  const header = await readFile(wider.path);
  assert.equal(header.length, HEADER);
  assert.equal(header.toString('latin1', 0, 8), 'IMGCLSF1');
  assert.equal(header.readUInt32LE(8), DIM + 1);
  // And back at 5 it is empty too: the old records are gone.
  const back = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(back.size, 0);
  const fresh = entries(['c'], 6);
  await back.append(fresh);
  await back.close();

  // Bad magic with a plausible body: no record is read from it.
  const body = Buffer.alloc(HEADER + 3 * RECORD, 0xab);
  body.write('NOTMAGIC', 0, 'latin1');
  body.writeUInt32LE(DIM, 8);
  await writeFile(back.path, body);
  const bad = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(bad.size, 0);
  await bad.append(fresh);
  await bad.close();
  const afterBad = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(afterBad.size, 1);
  assert.deepEqual(await readVector(afterBad, fresh[0]!.hash), fresh[0]!.vector);
  await afterBad.close();

  // A file shorter than the header.
  await writeFile(back.path, 'IMGC');
  const short = await FeatureCache.open(dir, 'k', DIM);
  assert.equal(short.size, 0);
  await short.close();
  assert.equal((await stat(short.path)).size, HEADER);
});

test('reading a hash that is not in the cache throws RangeError', async () => {
  const dir = freshDir();
  const cache = await FeatureCache.open(dir, 'k', DIM);
  await cache.append(entries(['a'], 7));
  await assert.rejects(cache.read(hashOf('missing'), new Float32Array(DIM), 0), RangeError);
  await cache.close();
  const again = await FeatureCache.open(dir, 'k', DIM);
  await assert.rejects(again.read(hashOf('missing'), new Float32Array(DIM), 0), RangeError);
  await again.close();
});

test('a cache directory that cannot be made is FILE_UNREADABLE, naming --cache', async () => {
  const file = join(root, 'a-regular-file');
  await writeFile(file, 'not a directory');
  for (const dir of [join(file, 'cache'), file]) {
    await assert.rejects(FeatureCache.open(dir, 'k', DIM), (err: unknown) => {
      assert.ok(err instanceof ImgclsError, `${String(err)} is an ImgclsError`);
      assert.equal(err.code, 'FILE_UNREADABLE');
      assert.match(err.message, /--cache/);
      assert.ok(err.message.includes(join(dir, 'k.f32')), err.message);
      return true;
    });
  }
});
