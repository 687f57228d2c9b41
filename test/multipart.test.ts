/**
 * The form reader (src/server/multipart.ts) on its own: against bodies that
 * undici's FormData writes, cut into chunks at every position, and against
 * each limit and each kind of malformed body. test/hardening-inputs.test.ts
 * and test/multipart-drain.test.ts check the same over HTTP.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { isImgclsError } from '../src/errors.ts';
import { multipart, type Part } from './helpers/server.ts';
import { BufferPool } from '../src/server/form-buffers.ts';
import { FormParser, formBoundary, isMultipart, MAX_PART_HEADER_BYTES, MAX_PREAMBLE_BYTES, parseParams, readForm, type Form, type FormLimits } from '../src/server/multipart.ts';

const LIMITS: FormLimits = { fileBytes: 1000, files: 3, fields: 3, fieldBytes: 100, parts: 5 };
const B = 'testBoundary12';

/** A body by hand, for what FormData will not write. */
function body(parts: { headers: string[]; data: string | Uint8Array }[], { preamble = '', epilogue = '\r\n' } = {}): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) chunks.push(Buffer.from(`--${B}\r\n${p.headers.map((h) => `${h}\r\n`).join('')}\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${B}--${epilogue}`));
  return Buffer.concat(chunks);
}
const file = (name: string, data: string | Uint8Array, filename = 'a.jpg') => ({ headers: [`Content-Disposition: form-data; name="${name}"; filename="${filename}"`, 'Content-Type: image/jpeg'], data });
const field = (name: string, data: string) => ({ headers: [`Content-Disposition: form-data; name="${name}"`], data });

/** Parse `bytes` pushed in chunks of the given sizes (the rest in one chunk). */
function parse(bytes: Uint8Array, sizes: number[] = [], limits = LIMITS, boundary = B, checkFile?: (f: string) => void): Form {
  const parser = new FormParser(boundary, limits, { checkFile });
  let at = 0;
  for (const size of sizes) {
    parser.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (at < bytes.length) parser.push(bytes.subarray(at));
  return parser.end();
}

function plain(form: Form) {
  return { files: form.files.map((f) => [f.field, Buffer.from(f.data).toString('base64')]), fields: [...form.fields] };
}

function throwsCode(f: () => unknown, code: string, message?: RegExp): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(isImgclsError(err), `an ImgclsError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** What undici sends for a FormData of these parts (test/helpers/server.ts): the body bytes and its boundary. */
async function undiciForm(parts: readonly Part[]): Promise<{ bytes: Buffer; boundary: string }> {
  const { payload, headers } = await multipart(parts);
  return { bytes: payload, boundary: formBoundary(headers['content-type']) };
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('forms as clients write them', () => {
  test('undici FormData: files and fields, binary and Unicode, come back exactly', async () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0x0d, 0x0a, 0x2d, 0x2d, 0x00, 0xff, 0xd9]);
    const { bytes, boundary } = await undiciForm([['top_k', '3'], ['file', jpeg, 'photo "1".jpg', 'image/jpeg'], ['model', 'café ☕'], ['image', new Uint8Array(0), 'empty.png']]);
    const got = parse(bytes, [], LIMITS, boundary);
    assert.deepEqual(got.files.map((f) => [f.field, [...f.data]]), [['file', [...jpeg]], ['image', []]]);
    assert.deepEqual([...got.fields], [['top_k', '3'], ['model', 'café ☕']]);
  });

  test('cut into two chunks at every position, and into chunks of 1 to 7 bytes, the result is the same', () => {
    const bytes = body([field('top_k', '2'), file('file', '\r\n--testBoundary1\r\n-- almost a boundary \r\n'), file('image', Buffer.from([0, 1, 2, 13, 10]))], { preamble: 'ignored preamble\r\n', epilogue: '\r\nignored epilogue' });
    const whole = plain(parse(bytes));
    assert.equal(whole.files.length, 2);
    for (let cut = 0; cut <= bytes.length; cut++) assert.deepEqual(plain(parse(bytes, [cut])), whole, `cut at ${cut}`);
    for (let size = 1; size <= 7; size++) assert.deepEqual(plain(parse(bytes, Array(bytes.length).fill(size))), whole, `chunks of ${size}`);
  });

  test('200 seeded random forms round-trip through undici FormData in random chunks', async () => {
    const rnd = random(42);
    const limits = { fileBytes: 5000, files: 8, fields: 8, fieldBytes: 5000, parts: 16 };
    for (let n = 0; n < 200; n++) {
      const form: Part[] = [];
      const files: [string, number[]][] = [];
      const fields: [string, string][] = [];
      for (let p = Math.floor(rnd() * 6); p >= 0; p--) {
        if (rnd() < 0.5) {
          // Bytes weighted towards CR, LF and dashes, the ones a delimiter is made of.
          const data = Array.from({ length: Math.floor(rnd() * 3000) }, () => (rnd() < 0.3 ? [13, 10, 45][Math.floor(rnd() * 3)]! : Math.floor(rnd() * 256)));
          form.push(['file', new Uint8Array(data), `f${p}.bin`]);
          files.push(['file', data]);
        } else {
          const name = `field${p}`;
          const value = Array.from({ length: Math.floor(rnd() * 40) }, () => String.fromCodePoint(rnd() < 0.8 ? 32 + Math.floor(rnd() * 95) : 0x4e00 + Math.floor(rnd() * 100))).join('');
          form.push([name, value]);
          fields.push([name, value]);
        }
      }
      const { bytes, boundary } = await undiciForm(form);
      const sizes: number[] = [];
      for (let left = bytes.length; left > 0; ) {
        const size = 1 + Math.floor(rnd() * 700);
        sizes.push(size);
        left -= size;
      }
      const got = parse(bytes, sizes, limits, boundary);
      assert.deepEqual(got.files.map((f) => [f.field, [...f.data]]), files, `form ${n}`);
      assert.deepEqual([...got.fields], fields, `form ${n}`);
    }
  });

  test('headers: any case, folded lines, transport padding after the boundary, no Content-Type', () => {
    const bytes = Buffer.from(`--${B}  \t\r\ncontent-DISPOSITION: form-data;\r\n name="file";\r\n\tfilename="x.png"\r\n\r\nPNG\r\n--${B}\r\nContent-Disposition: form-data; name=top_k\r\n\r\n4\r\n--${B}--`);
    const got = parse(bytes);
    assert.deepEqual(plain(got), { files: [['file', Buffer.from('PNG').toString('base64')]], fields: [['top_k', '4']] });
  });

  test('a filename* in a charset we cannot decode still makes the part a file', () => {
    const got = parse(body([{ headers: [`Content-Disposition: form-data; name="file"; filename*=us-ascii''a.jpg`], data: 'abc' }]));
    assert.equal(got.files.length, 1);
    assert.equal(parseParams(`form-data; filename*=UTF8''%C3%A9.jpg`).params.get('filename'), 'é.jpg');
  });

  test('a part typed application/octet-stream is a file even without a file name, as busboy had it', () => {
    const got = parse(body([{ headers: ['Content-Disposition: form-data; name="file"', 'Content-Type: application/octet-stream'], data: 'abc' }]));
    assert.equal(got.files.length, 1);
    assert.equal(got.fields.size, 0);
  });

  test('parameters: quoted with escapes, unquoted, RFC 5987 file names, valueless ones skipped', () => {
    assert.deepEqual(parseParams('form-data; name="a\\"b"; filename=plain.jpg'), { type: 'form-data', params: new Map([['name', 'a"b'], ['filename', 'plain.jpg']]) });
    assert.deepEqual(parseParams(`Form-Data; flag; filename*=UTF-8''na%C3%AFve.jpg; filename="naive.jpg"`).params.get('filename'), 'naïve.jpg');
    assert.deepEqual(parseParams('form-data; name="x;y"').params.get('name'), 'x;y');
    assert.equal(parseParams('').type, '');
  });

  test('the Content-Type: multipart/form-data with a boundary, quoted or not', () => {
    assert.ok(isMultipart('multipart/form-data; boundary=x'));
    assert.ok(isMultipart('Multipart/Form-Data'));
    assert.ok(!isMultipart('multipart/form-datax'));
    assert.ok(!isMultipart('multipart/mixed; boundary=x'));
    assert.ok(!isMultipart(undefined));
    assert.equal(formBoundary('multipart/form-data; boundary="a b;c"'), 'a b;c');
    assert.equal(formBoundary('multipart/form-data; charset=utf-8; BOUNDARY=abc'), 'abc');
    throwsCode(() => formBoundary('multipart/form-data'), 'INVALID_REQUEST', /no boundary/);
    throwsCode(() => formBoundary('multipart/form-data; boundary='), 'INVALID_REQUEST', /0 characters/);
    throwsCode(() => formBoundary(`multipart/form-data; boundary=${'b'.repeat(71)}`), 'INVALID_REQUEST', /71 characters/);
  });
});

describe('limits, checked as the bytes arrive', () => {
  test('a file of exactly the limit passes; one byte more is refused before the body ends', () => {
    assert.equal(parse(body([file('file', 'x'.repeat(1000))])).files[0]!.data.length, 1000);
    const bytes = body([file('file', 'x'.repeat(5000))]);
    const parser = new FormParser(B, LIMITS);
    let pushed = 0;
    assert.throws(() => {
      for (; pushed < bytes.length; pushed += 100) parser.push(bytes.subarray(pushed, pushed + 100));
    }, /larger than the server allows \(1000 bytes/);
    assert.ok(pushed < 1300, `refused after ${pushed} of ${bytes.length} bytes`);
    throwsCode(() => parse(body([file('file', 'x'.repeat(1001))])), 'PAYLOAD_TOO_LARGE');
  });

  test('too many files is TOO_MANY_IMAGES; too many fields, parts, or too long a field is PAYLOAD_TOO_LARGE', () => {
    throwsCode(() => parse(body(Array.from({ length: 4 }, () => file('file', 'x')))), 'TOO_MANY_IMAGES', /More than 3 files/);
    throwsCode(() => parse(body(Array.from({ length: 4 }, (_, i) => field(`f${i}`, 'x')))), 'PAYLOAD_TOO_LARGE', /More than 3 fields/);
    // A repeated field name still counts each time.
    throwsCode(() => parse(body(Array.from({ length: 4 }, () => field('same', 'x')))), 'PAYLOAD_TOO_LARGE', /More than 3 fields/);
    throwsCode(() => parse(body([...Array.from({ length: 3 }, (_, i) => field(`f${i}`, 'x')), file('file', 'x'), file('file', 'x'), file('file', 'x')])), 'PAYLOAD_TOO_LARGE', /More than 5 parts/);
    throwsCode(() => parse(body([field('top_k', '1'.repeat(101))])), 'PAYLOAD_TOO_LARGE', /"top_k" is over 100 bytes/);
    assert.equal(parse(body([field('top_k', '1'.repeat(100))])).fields.get('top_k')!.length, 100);
  });

  test('header blocks and preambles are bounded', () => {
    throwsCode(() => parse(body([{ headers: ['Content-Disposition: form-data; name="file"; filename="a.jpg"', `X-Pad: ${'p'.repeat(MAX_PART_HEADER_BYTES)}`], data: 'x' }])), 'PAYLOAD_TOO_LARGE', /headers are over/);
    const parser = new FormParser(B, LIMITS);
    assert.throws(() => parser.push(Buffer.alloc(MAX_PREAMBLE_BYTES + 64, 0x41)), /no boundary line in the first/);
    // Under the bound, a preamble is skipped.
    assert.equal(parse(body([file('file', 'x')], { preamble: `${'p'.repeat(MAX_PREAMBLE_BYTES - 100)}\r\n` })).files.length, 1);
  });

  test('a limit does not depend on where the chunks end: the largest header block and preamble pass whole or split anywhere in their ends', () => {
    // A header block of exactly the limit, up to its blank line.
    const disposition = 'Content-Disposition: form-data; name="file"; filename="a.jpg"';
    const pad = `X-Pad: ${'p'.repeat(MAX_PART_HEADER_BYTES - disposition.length - 2 - 'X-Pad: '.length)}`;
    const headers = body([{ headers: [disposition, pad], data: 'x' }]);
    const preamble = body([file('file', 'x')], { preamble: `${'p'.repeat(MAX_PREAMBLE_BYTES - 2)}\r\n` });
    for (const [label, bytes, end] of [['headers', headers, headers.indexOf('\r\n\r\n')], ['preamble', preamble, preamble.indexOf(`\r\n--${B}`)]] as const) {
      assert.equal(parse(bytes).files.length, 1, `${label}, whole`);
      for (let cut = end - 8; cut <= end + 8; cut++) assert.equal(parse(bytes, [cut]).files.length, 1, `${label}, cut at ${cut - end} from its end`);
    }
  });

  test('a header block sent a byte at a time is searched once, not once per byte', () => {
    // Bare CRs are the worst case for the search; 20 kB of them, one byte per push.
    const bytes = Buffer.concat([Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\nX: `), Buffer.alloc(20_000, 0x0d)]);
    const parser = new FormParser(B, LIMITS);
    const indexOf = Buffer.prototype.indexOf;
    let searched = 0;
    Buffer.prototype.indexOf = function (this: Buffer, ...args: Parameters<Buffer['indexOf']>) {
      searched += this.length - Number(args[1] ?? 0);
      return indexOf.apply(this, args);
    } as Buffer['indexOf'];
    try {
      for (let i = 0; i < bytes.length; i++) parser.push(bytes.subarray(i, i + 1));
    } finally {
      Buffer.prototype.indexOf = indexOf;
    }
    assert.ok(searched < 4 * bytes.length, `${searched} bytes searched for ${bytes.length} received`);
  });

  test('the file check runs at the file\'s headers, before its data', () => {
    const seen: string[] = [];
    const bytes = body([file('other', 'x'.repeat(900))]);
    const parser = new FormParser(B, LIMITS, { checkFile: (f) => {
      seen.push(f);
      throw new Error(`refused ${f}`);
    } });
    assert.throws(() => parser.push(bytes.subarray(0, 120)), /refused other/);
    assert.deepEqual(seen, ['other']);
  });
});

describe('malformed bodies are INVALID_REQUEST naming the problem', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['an empty body', Buffer.alloc(0), /no boundary line was found/],
    ['a body cut before the closing boundary', body([file('file', 'abc')]).subarray(0, -10), /ended before the closing boundary/],
    ['no closing boundary at all', Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx`), /ended before the closing boundary/],
    ['a part with no Content-Disposition', body([{ headers: ['Content-Type: image/png'], data: 'x' }]), /part 1 has no Content-Disposition/],
    ['a part with no headers at all', body([{ headers: [], data: 'x' }]), /part 1 has no Content-Disposition/],
    ['a part that is not form-data', body([{ headers: ['Content-Disposition: attachment; name="file"; filename="a.jpg"'], data: 'x' }]), /"Content-Disposition: attachment"; each part must be "Content-Disposition: form-data/],
    ['a header line without a name', body([{ headers: ['Content-Disposition: form-data; name="a"', 'no colon here'], data: 'x' }]), /header line without a name: "no colon here"/],
    ['a boundary that runs on into other text', Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--${B}X\r\n--${B}--`), /goes on after the boundary/],
  ];
  for (const [label, bytes, message] of cases) {
    test(label, () => throwsCode(() => parse(bytes), 'INVALID_REQUEST', message));
  }
  for (const name of ['__proto__', 'constructor', 'toString']) {
    test(`a field named ${name}`, () => throwsCode(() => parse(body([field(name, '{}')])), 'INVALID_REQUEST', new RegExp(`may not be named "${name}"`)));
  }
});

describe('readForm on a stream', () => {
  const asRequest = (s: PassThrough) => s as unknown as IncomingMessage;

  test('resolves with the form at the end of the body', async () => {
    const s = new PassThrough();
    const reading = readForm(asRequest(s), new FormParser(B, LIMITS));
    const bytes = body([file('file', 'abc'), field('top_k', '2')]);
    s.write(bytes.subarray(0, 50));
    s.end(bytes.subarray(50));
    assert.deepEqual(plain(await reading), { files: [['file', Buffer.from('abc').toString('base64')]], fields: [['top_k', '2']] });
  });

  test('a refused form rejects at once, and the rest of the body is still read to its end', async () => {
    const s = new PassThrough();
    const reading = readForm(asRequest(s), new FormParser(B, LIMITS));
    s.write(body([file('file', 'x'.repeat(2000))]).subarray(0, 1500));
    await assert.rejects(reading, /larger than the server allows/);
    const ended = new Promise((resolve) => s.once('end', resolve));
    s.end(Buffer.alloc(1024 * 1024));
    await ended;
    assert.equal(s.readableLength, 0);
  });

  test('a stream closed part-way rejects', async () => {
    const s = new PassThrough();
    const reading = readForm(asRequest(s), new FormParser(B, LIMITS));
    s.write(body([file('file', 'abc')]).subarray(0, 30));
    s.destroy();
    await assert.rejects(reading, /closed the connection before the body ended/);
  });

  test('a stream already closed when reading starts rejects at once', async () => {
    const s = new PassThrough();
    s.write(body([file('file', 'abc')]).subarray(0, 30));
    s.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(readForm(asRequest(s), new FormParser(B, LIMITS)), /closed the connection before the body ended/);
  });

  test('a stream error rejects with the reason', async () => {
    const s = new PassThrough();
    const reading = readForm(asRequest(s), new FormParser(B, LIMITS));
    s.destroy(new Error('aborted'));
    await assert.rejects(reading, /could not be read: aborted/);
  });
});

describe('the buffer pool', () => {
  test('take gives the smallest spare that fits, else a new buffer; give keeps only what fits the count and size', () => {
    const pool = new BufferPool({ count: 3, maxBytes: 1000 });
    const small = pool.take(100);
    const large = pool.take(500);
    assert.equal(small.length, 100);
    assert.notEqual(small.buffer, large.buffer);
    pool.give(large);
    pool.give(small);
    // With room for it, a second give of the same buffer would let two forms share it.
    pool.give(small);
    assert.deepEqual(pool.held, { count: 2, bytes: 600 });
    assert.equal(pool.take(50), small, 'the smallest spare that fits');
    assert.equal(pool.take(50), large, 'then the next that fits');
    assert.equal(pool.take(50).length, 50, 'then a new one');
    assert.equal(pool.take(2000).length, 2000);
  });

  test('past the count the smallest spare makes way for a larger one; too large or empty ones are not kept', () => {
    const pool = new BufferPool({ count: 2, maxBytes: 1000 });
    const [a, b, c] = [Buffer.alloc(10), Buffer.alloc(20), Buffer.alloc(30)];
    pool.give(a);
    pool.give(b);
    pool.give(c);
    pool.give(Buffer.alloc(5));
    pool.give(Buffer.alloc(1001));
    pool.give(Buffer.alloc(0));
    // Views: one on a larger buffer, and a small allocUnsafe, which is a slice of Node's shared pool slab.
    pool.give(Buffer.alloc(200).subarray(0, 100));
    pool.give(Buffer.allocUnsafe(40));
    assert.deepEqual(pool.held, { count: 2, bytes: 50 });
    assert.equal(pool.take(25), c);
    assert.equal(pool.take(15), b);
    assert.deepEqual(pool.held, { count: 0, bytes: 0 });
  });

  test('a form read to its end gives its buffer back, and the next form, in that same buffer, reads only its own bytes', () => {
    const buffers = new BufferPool({ count: 4, maxBytes: 1 << 20 });
    const first = body([file('file', 'A'.repeat(400)), field('top_k', '12345')]);
    const p1 = new FormParser(B, LIMITS, { sizeHint: first.length, buffers });
    p1.push(first);
    const f1 = p1.end();
    assert.deepEqual(buffers.held, { count: 1, bytes: first.length });
    // Shorter, and cut so that each piece would run into the first form's stale bytes if the reader looked past what it wrote.
    const second = body([file('image', 'BB'), field('top_k', '7')]);
    const p2 = new FormParser(B, LIMITS, { sizeHint: second.length, buffers });
    assert.equal(buffers.held.count, 0, 'the spare was taken');
    for (let at = 0; at < second.length; at += 3) p2.push(second.subarray(at, at + 3));
    const f2 = p2.end();
    assert.deepEqual(plain(f2), { files: [['image', Buffer.from('BB').toString('base64')]], fields: [['top_k', '7']] });
    assert.equal(f1.files[0]!.data.toString(), 'A'.repeat(400), 'the first form\'s file is its own memory, untouched');
    assert.equal(buffers.held.count, 1);
  });

  test('a buffer outgrown is given back, and a refused form keeps its buffer out of the pool', () => {
    const buffers = new BufferPool({ count: 4, maxBytes: 1 << 20 });
    const grows = body([file('file', `${'x'.repeat(450)}${'y'.repeat(450)}`)]);
    const p = new FormParser(B, LIMITS, { sizeHint: 100, buffers });
    // In pieces, so that each growth has bytes to carry over.
    for (let at = 0; at < grows.length; at += 70) p.push(grows.subarray(at, at + 70));
    assert.equal(p.end().files[0]!.data.toString(), `${'x'.repeat(450)}${'y'.repeat(450)}`);
    assert.ok(buffers.held.count >= 2, 'the 100-byte first buffer, the ones it grew through, and the last');
    const spares = buffers.held.count;
    const refused = new FormParser(B, LIMITS, { sizeHint: 100, buffers });
    assert.equal(buffers.held.count, spares - 1, 'it took the 100-byte spare');
    throwsCode(() => refused.push(Buffer.from(`--${B}\r\nX-Not-A-Disposition: 1\r\n\r\n`)), 'INVALID_REQUEST', /no Content-Disposition/);
    assert.equal(buffers.held.count, spares - 1, 'a refused form, whose reader may still be in the middle of it, gives nothing back');
  });

  test('a refused form stays refused: the limit check had moved on, but more bytes do not finish it', () => {
    const buffers = new BufferPool({ count: 4, maxBytes: 1 << 20 });
    const parser = new FormParser(B, { ...LIMITS, parts: 1 }, { buffers });
    const form = body([field('a', 'x'), field('b', 'y')]);
    throwsCode(() => parser.push(form), 'PAYLOAD_TOO_LARGE', /More than 1 parts/);
    throwsCode(() => parser.push(new Uint8Array(0)), 'PAYLOAD_TOO_LARGE', /More than 1 parts/);
    throwsCode(() => parser.push(form), 'PAYLOAD_TOO_LARGE', /More than 1 parts/);
    throwsCode(() => parser.end(), 'PAYLOAD_TOO_LARGE', /More than 1 parts/);
    assert.deepEqual(buffers.held, { count: 0, bytes: 0 });
  });
});
