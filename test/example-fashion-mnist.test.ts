/** examples/fashion-mnist: the IDX reader, the greyscale PNG encoder and prepare.ts on small generated IDX files (no Debian package needed). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { encodeIdx, IdxError, parseIdx, readIdxFile } from '../examples/fashion-mnist/idx.ts';
import { crc32Fallback, encodeGreyPng } from '../examples/fashion-mnist/png.ts';
import { CLASS_NAMES, MARKER } from '../examples/fashion-mnist/prepare.ts';
import { decodeImage } from '../src/image/decode.ts';

const PREPARE = path.resolve(import.meta.dirname, '../examples/fashion-mnist/prepare.ts');
const run = promisify(execFile);

/** Run prepare.ts in a child process; resolves with the exit code and output, also on failure. */
async function prepare(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', PREPARE, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Deterministic pixel values that differ between images and positions. */
const pixel = (image: number, i: number) => (image * 37 + i * 11) % 256;

function images(count: number, rows: number, cols: number): Uint8Array {
  const data = new Uint8Array(count * rows * cols);
  for (let n = 0; n < count; n++) for (let i = 0; i < rows * cols; i++) data[n * rows * cols + i] = pixel(n, i);
  return data;
}

describe('IDX reader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'imgcls-idx-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('reads dims (big-endian) and data, plain and gzipped', async () => {
    const data = images(3, 4, 5);
    const idx = encodeIdx([3, 4, 5], data);
    assert.deepEqual([...idx.subarray(0, 16)], [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
    await writeFile(path.join(dir, 'x-idx3-ubyte'), idx);
    await writeFile(path.join(dir, 'x-idx3-ubyte.gz'), gzipSync(idx));
    for (const file of ['x-idx3-ubyte', 'x-idx3-ubyte.gz']) {
      const parsed = readIdxFile(path.join(dir, file));
      assert.deepEqual(parsed.dims, [3, 4, 5]);
      assert.deepEqual(parsed.data, data);
    }
    // Gzip is sniffed from the bytes, not the name.
    await writeFile(path.join(dir, 'gzipped-without-suffix'), gzipSync(idx));
    assert.deepEqual(readIdxFile(path.join(dir, 'gzipped-without-suffix')).dims, [3, 4, 5]);
    // Labels: one dimension; large dimensions need all four bytes.
    assert.deepEqual(parseIdx(encodeIdx([70_000], new Uint8Array(70_000))).dims, [70_000]);
  });

  test('truncated, overlong and bad files fail with clear errors', () => {
    const idx = encodeIdx([2, 3, 3], images(2, 3, 3));
    const fails = (bytes: Uint8Array, pattern: RegExp) => assert.throws(() => parseIdx(bytes, 'f.idx'), (e: unknown) => e instanceof IdxError && pattern.test(e.message));
    fails(idx.subarray(0, idx.length - 1), /^f\.idx is truncated: dimensions 2×3×3 need 18 data bytes but only 17/);
    fails(idx.subarray(0, 10), /^f\.idx is truncated: the header declares 3 dimensions \(16 bytes\) but the data has 10 bytes/);
    fails(idx.subarray(0, 2), /^f\.idx is truncated: 2 bytes/);
    fails(new Uint8Array(0), /truncated: 0 bytes/);
    fails(Buffer.concat([idx, Buffer.from([1])]), /has 1 bytes more than its dimensions 2×3×3/);
    fails(Buffer.from('PK\x03\x04 not idx at all'), /not an IDX file: bad magic number 50 4b 03 04/);
    const floats = Buffer.from(idx);
    floats[2] = 0x0d;
    fails(floats, /dtype 0x0d \(float\); only 0x08 \(ubyte\) is supported/);
    const gz = gzipSync(idx);
    fails(gz.subarray(0, gz.length - 10), /^f\.idx is a corrupt or truncated gzip file/);
    // A complete gzip around truncated IDX data: the IDX check still applies.
    fails(gzipSync(idx.subarray(0, 20)), /truncated: dimensions 2×3×3 need 18 data bytes but only 4/);
  });

  test('a missing file fails with the path', () => {
    assert.throws(() => readIdxFile(path.join(dir, 'nope')), /ENOENT.*nope/);
  });
});

describe('greyscale PNG encoder', () => {
  test('decodes to the same pixels (R=G=B)', async () => {
    for (const [width, height] of [[28, 28], [5, 3], [1, 1], [300, 2]] as const) {
      const grey = images(1, height, width);
      const png = encodeGreyPng(grey, width, height);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const decoded = await decodeImage(png);
      assert.equal(decoded.source.format, 'png');
      assert.deepEqual([decoded.width, decoded.height], [width, height]);
      const expected = new Uint8Array(width * height * 3);
      grey.forEach((v, i) => expected.fill(v, i * 3, i * 3 + 3));
      assert.deepEqual(decoded.data, expected);
    }
  });

  test('every chunk CRC is correct; the fallback CRC matches the standard check value', () => {
    assert.equal(crc32Fallback(Buffer.from('123456789')), 0xcbf43926);
    const png = encodeGreyPng(images(1, 4, 4), 4, 4);
    const types: string[] = [];
    for (let at = 8; at < png.length; ) {
      const length = png.readUInt32BE(at);
      types.push(png.toString('latin1', at + 4, at + 8));
      assert.equal(png.readUInt32BE(at + 8 + length), crc32Fallback(png.subarray(at + 4, at + 8 + length)));
      at += 12 + length;
    }
    assert.deepEqual(types, ['IHDR', 'IDAT', 'IEND']);
  });

  test('rejects a pixel count that does not match the size', () => {
    assert.throws(() => encodeGreyPng(new Uint8Array(5), 2, 3), /2×3 greyscale needs 6 bytes, got 5/);
    assert.throws(() => encodeGreyPng(new Uint8Array(0), 0, 0), RangeError);
  });
});

describe('prepare.ts', () => {
  const TRAIN = 12;
  const TEST = 7;
  let source: string;
  let work: string;
  const trainLabels = Uint8Array.from({ length: TRAIN }, (_, i) => i % 10);
  const testLabels = Uint8Array.from({ length: TEST }, (_, i) => (i * 3) % 10);

  before(async () => {
    source = await mkdtemp(path.join(tmpdir(), 'imgcls-fmnist-src-'));
    work = await mkdtemp(path.join(tmpdir(), 'imgcls-fmnist-out-'));
    // Train gzipped (like the Debian package), test plain.
    await writeFile(path.join(source, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx([TRAIN, 28, 28], images(TRAIN, 28, 28))));
    await writeFile(path.join(source, 'train-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([TRAIN], trainLabels)));
    await writeFile(path.join(source, 't10k-images-idx3-ubyte'), encodeIdx([TEST, 28, 28], images(TEST, 28, 28)));
    await writeFile(path.join(source, 't10k-labels-idx1-ubyte'), encodeIdx([TEST], testLabels));
  });
  after(async () => {
    await rm(source, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  /** split/class/file names under `out`. */
  async function layout(out: string): Promise<string[]> {
    const files: string[] = [];
    for (const split of await readdir(out)) {
      if (split.startsWith('.')) continue;
      for (const label of await readdir(path.join(out, split))) {
        for (const file of await readdir(path.join(out, split, label))) files.push(`${split}/${label}/${file}`);
      }
    }
    return files.sort();
  }

  test('refuses data with counts other than Fashion-MNIST’s unless told to', async () => {
    const r = await prepare('--source', source, '--out', path.join(work, 'strict'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds 12 images of 28×28; Fashion-MNIST's train split has 60000 of 28×28 \(pass --skip-count-check/);
    await assert.rejects(stat(path.join(work, 'strict')), /ENOENT/, 'nothing written before the checks pass');
  });

  test('--limit takes the first N per split into class folders, then a rerun skips', async () => {
    const out = path.join(work, 'limited');
    const r = await prepare('--source', source, '--out', out, '--limit', '10', '--skip-count-check');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Wrote train 10, test 7 PNG images/);
    const expected = [
      ...[...trainLabels.subarray(0, 10)].map((l, i) => `train/${CLASS_NAMES[l]}/${String(i).padStart(5, '0')}.png`),
      ...[...testLabels].map((l, i) => `test/${CLASS_NAMES[l]}/${String(i).padStart(5, '0')}.png`),
    ].sort();
    assert.deepEqual(await layout(out), expected);
    assert.ok(expected.includes('train/T-shirt_top/00000.png') && expected.includes('train/Ankle_boot/00009.png'));

    // Pixels survive the trip: test image 4 is label 2 (Pullover).
    const decoded = await decodeImage(await readFile(path.join(out, 'test/Pullover/00004.png')));
    assert.deepEqual([decoded.width, decoded.height], [28, 28]);
    assert.deepEqual([decoded.data[0], decoded.data[3 * 100]], [pixel(4, 0), pixel(4, 100)]);

    const marker = JSON.parse(await readFile(path.join(out, MARKER), 'utf8'));
    assert.equal(marker.limit, 10);
    assert.deepEqual(marker.splits.train.classes, Object.fromEntries(CLASS_NAMES.map((c) => [c, 1])));
    assert.equal(marker.splits.test.images, 7);

    const again = await prepare('--source', source, '--out', out, '--limit', '10', '--skip-count-check');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already holds the dataset \(train 10, test 7\); nothing to do/);

    // A different limit rebuilds, replacing the earlier files.
    const all = await prepare('--source', source, '--out', out, '--skip-count-check');
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /Wrote train 12, test 7/);
    assert.equal((await layout(out)).filter((f) => f.startsWith('train/')).length, TRAIN);

    // A missing file makes the marker's counts disagree: rebuild.
    await rm(path.join(out, 'train/Trouser/00001.png'));
    const repaired = await prepare('--source', source, '--out', out, '--skip-count-check');
    assert.match(repaired.stdout, /Wrote train 12/);
    await stat(path.join(out, 'train/Trouser/00001.png'));
  });

  test('will not write into a folder holding other files', async () => {
    const out = path.join(work, 'occupied');
    await prepare('--source', source, '--out', out, '--limit', '2', '--skip-count-check');
    await writeFile(path.join(out, 'notes.txt'), 'mine');
    const r = await prepare('--source', source, '--out', out, '--limit', '3', '--skip-count-check');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds files this script did not write \(notes\.txt\)/);
  });

  test('missing IDX files, bad labels and bad options exit 1 with a message', async () => {
    const empty = await mkdtemp(path.join(work, 'empty-'));
    const missing = await prepare('--source', empty, '--out', path.join(work, 'x'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /lacks the IDX files train-images, train-labels, t10k-images, t10k-labels \(plain or \.gz\)/);

    const bad = await mkdtemp(path.join(work, 'bad-'));
    for (const f of await readdir(source)) await writeFile(path.join(bad, f), await readFile(path.join(source, f)));
    await writeFile(path.join(bad, 't10k-labels-idx1-ubyte'), encodeIdx([TEST], Uint8Array.from([0, 1, 2, 10, 4, 5, 6])));
    const badLabel = await prepare('--source', bad, '--out', path.join(work, 'y'), '--skip-count-check');
    assert.equal(badLabel.code, 1);
    assert.match(badLabel.stderr, /label 10 at index 3 is not a class \(0–9\)/);

    await writeFile(path.join(bad, 't10k-labels-idx1-ubyte'), encodeIdx([TEST - 1], testLabels.subarray(1)));
    const mismatch = await prepare('--source', bad, '--out', path.join(work, 'y'), '--skip-count-check');
    assert.match(mismatch.stderr, /holds 7 images but .*t10k-labels-idx1-ubyte holds 6 labels/);

    assert.match((await prepare('--limit', '0')).stderr, /--limit must be a positive integer, got "0"/);
    assert.match((await prepare('--bogus')).stderr, /Unknown option '--bogus'/);
  });
});
