/**
 * `imgcls predict --shard i/n --format jsonl|csv --output FILE`: sharded batch
 * classification. The shard tests run over a folder of symlinks to the colour
 * fixtures under many names, so that every shard of 3 and of 7 gets files.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OutputFile } from '../src/cli/output-file.ts';
import { fnv1a32 } from '../src/cli/shard.ts';
import { cli } from './helpers/cli.ts';
import { FIXTURES, fx, HF_COLOUR, tempDir } from './helpers/models.ts';

// One model thread on the main thread: these tests are about which files run and what is written, not speed.
const predict = (...args: string[]) => cli('predict', '--model', HF_COLOUR, '--workers', '0', '--top-k', '1', ...args);

/** Published FNV-1a 32-bit test vectors, and one of UTF-8 bytes (computed with Python over `'é'.encode()`). */
const FNV1A_VECTORS: [string, number][] = [
  ['', 0x811c9dc5],
  ['a', 0xe40c292c],
  ['foobar', 0xbf9cf968],
  ['é', 0x1e9de8c1],
];

/** FNV-1a 32 written apart from the one under test, in BigInt over Node's UTF-8 bytes. */
function referenceFnv1a(text: string): number {
  let hash = 0x811c9dc5n;
  for (const byte of Buffer.from(text, 'utf8')) hash = ((hash ^ BigInt(byte)) * 0x01000193n) & 0xffffffffn;
  return Number(hash);
}

/** A strict RFC 4180 reader: quoted fields, doubled quotes, LF between records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' && field === '') {
      for (i++; text[i] !== '"' || text[i + 1] === '"'; i++) {
        assert.ok(i < text.length, 'a quoted field is closed');
        field += text[i];
        if (text[i] === '"') i++;
      }
      i++;
      assert.ok(i === text.length || text[i] === ',' || text[i] === '\n', `a quoted field ends at a delimiter, offset ${i}`);
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      assert.notEqual(ch, '"', `a quote inside an unquoted field, offset ${i}`);
      field += ch;
      i++;
    }
  }
  assert.equal(field + row.join(''), '', 'the text ends with a line break');
  return rows;
}

const HEADER = ['file', 'rank', 'label', 'index', 'score', 'error', 'message'];
/** What was printed, a line per element (the CLI prints a file's CSV rows with one call). */
const lines = (out: string[]) => out.join('\n').split('\n');
const files = (out: string[]) => out.map((l) => JSON.parse(l).file as string);

describe('imgcls predict --shard', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let all: string[];

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const sources = ['red.jpg', 'green.png', 'blue.webp'];
    const names = Array.from({ length: 40 }, (_, i) => `img_${String(i).padStart(4, '0')}${path.extname(sources[i % 3]!)}`);
    names.push('café.jpg', '猫 1.png', 'with space.webp');
    await Promise.all(names.map((n, i) => symlink(fx(sources[i % 3]!), path.join(dir, n))));
    const r = await predict('--json', dir);
    assert.equal(r.code, 0, r.err.join('\n'));
    all = files(r.out);
    assert.equal(all.length, names.length);
  });
  after(() => cleanup());

  for (const n of [1, 3, 7]) {
    test(`shards 0..${n - 1} partition the inputs exactly, each file where FNV-1a of its path mod ${n} says`, async () => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await predict('--json', '--shard', `${i}/${n}`, dir);
        assert.equal(r.code, 0, r.err.join('\n'));
        const mine = files(r.out);
        assert.equal(r.err[0], `shard ${i}/${n}: ${mine.length} of ${all.length} files`);
        for (const f of mine) assert.equal(referenceFnv1a(f) % n, i, f);
        // Each shard keeps the walk's order.
        assert.deepEqual(mine, all.filter((f) => mine.includes(f)));
        if (n > 1) assert.ok(mine.length < all.length, 'a shard is a part');
        seen.push(...mine);
      }
      assert.equal(seen.length, all.length, 'no file is in two shards');
      assert.deepEqual([...seen].sort(), [...all].sort(), 'every file is in a shard');
    });
  }

  test('the same shard twice classifies the same files', async () => {
    const a = await predict('--json', '--shard', '2/3', dir);
    const b = await predict('--json', '--shard=2/3', dir);
    assert.deepEqual(files(a.out), files(b.out));
  });

  test('the hash is FNV-1a 32 of the UTF-8 path, as published', async () => {
    for (const [text, hash] of FNV1A_VECTORS) {
      assert.equal(fnv1a32(text), hash, JSON.stringify(text));
      assert.equal(referenceFnv1a(text), hash, JSON.stringify(text));
    }
    // Paths that do not exist are kept (each gets its FILE_NOT_FOUND line), so known strings can be sharded as they are.
    const known = FNV1A_VECTORS.filter(([text]) => text !== '');
    for (const n of [2, 5]) {
      for (let i = 0; i < n; i++) {
        const r = await predict('--json', '--shard', `${i}/${n}`, ...known.map(([text]) => text));
        assert.deepEqual(files(r.out), known.filter(([, hash]) => hash % n === i).map(([text]) => text), `${i}/${n}`);
      }
    }
  });

  test('a shard with no files writes an empty output (a header-only CSV) and exits 0', async () => {
    const outputs: string[][] = [];
    for (let i = 0; i < 7; i++) {
      const r = await predict('--format', 'csv', '--shard', `${i}/7`, fx('red.jpg'));
      assert.equal(r.code, 0, r.err.join('\n'));
      outputs.push(r.out);
    }
    const owner = referenceFnv1a(fx('red.jpg')) % 7;
    outputs.forEach((out, i) => assert.equal(lines(out).length, i === owner ? 2 : 1, `shard ${i}`));
    assert.ok(outputs.every((out) => out[0] === HEADER.join(',')));

    const empty = (owner + 1) % 7;
    let r = await predict('--format', 'jsonl', '--shard', `${empty}/7`, fx('red.jpg'));
    assert.deepEqual([r.code, r.out], [0, []]);
    const out = path.join(dir, 'empty', 'shard.csv');
    r = await predict('--format', 'csv', '--shard', `${empty}/7`, '--output', out, fx('red.jpg'));
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(await readFile(out, 'utf8'), `${HEADER.join(',')}\n`);
    assert.equal(r.err.at(-1), `wrote 0 results (0 failed) to ${out}`);
  });

  test('no images at all is still an error, with or without --shard', async () => {
    const { dir: nothing, cleanup: done } = await tempDir();
    try {
      for (const flags of [[], ['--shard', '0/2']]) {
        const r = await predict(...flags, nothing);
        assert.equal(r.code, 2);
        assert.match(r.err[0]!, /No images found in/);
      }
    } finally {
      await done();
    }
  });

  test('bad --shard values are refused naming the flag, exit code 2', async () => {
    for (const value of ['3/3', '-1/2', 'a/b', '0/0', '1', '', '1/2/3', '0.5/2', '1/-2']) {
      const r = await predict('--shard', value, fx('red.jpg'));
      assert.equal(r.code, 2, value);
      assert.equal(r.err[0], `imgcls: Expected i/n with 0 <= i < n (like 0/4) for --shard but received "${value}"`);
    }
    const r = await predict(`--shard=-1/2`, fx('red.jpg'));
    assert.equal(r.code, 2);
    assert.match(r.err[0]!, /for --shard but received "-1\/2"/);
  });
});

describe('imgcls predict --format', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let awkward: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    awkward = path.join(dir, 'a,b "c".jpg');
    await symlink(fx('red.jpg'), awkward);
  });
  after(() => cleanup());

  test('csv: a header, a row per prediction, quoted as RFC 4180 asks, scores in full', async () => {
    const csv = await predict('--format', 'csv', '--top-k', '2', awkward, fx('green.png'));
    assert.equal(csv.code, 0, csv.err.join('\n'));
    const json = (await predict('--json', '--top-k', '2', awkward, fx('green.png'))).out.map((l) => JSON.parse(l));
    assert.equal(lines(csv.out)[0], 'file,rank,label,index,score,error,message');
    const score = json[0].predictions[0].score as number;
    assert.equal(lines(csv.out)[1], `"${dir}/a,b ""c"".jpg",1,red,0,${score},,`);

    const rows = parseCsv(`${csv.out.join('\n')}\n`);
    assert.deepEqual(rows[0], HEADER);
    const expected = json.flatMap((j) => j.predictions.map((p: { label: string; index: number; score: number }, k: number) => [j.file, String(k + 1), p.label, String(p.index), String(p.score), '', '']));
    assert.deepEqual(rows.slice(1), expected);
    // Full precision: every score reads back as the very number the JSON holds.
    rows.slice(1).forEach((row, k) => assert.equal(Number(row[4]), json[Math.floor(k / 2)].predictions[k % 2].score));
  });

  test('csv: a failed file is one row with its error code and message', async () => {
    const r = await predict('--format', 'csv', fx('empty.jpg'), fx('red.jpg'), fx('not-an-image.png'), fx('missing.jpg'));
    assert.equal(r.code, 1);
    const rows = parseCsv(`${r.out.join('\n')}\n`);
    assert.deepEqual(
      rows.slice(1).map((row) => [path.basename(row[0]!), ...row.slice(1, 6)]),
      [
        ['empty.jpg', '', '', '', '', 'EMPTY_IMAGE'],
        ['red.jpg', '1', 'red', '0', rows[2]![4]!, ''],
        ['not-an-image.png', '', '', '', '', 'UNSUPPORTED_MEDIA_TYPE'],
        ['missing.jpg', '', '', '', '', 'FILE_NOT_FOUND'],
      ],
    );
    assert.equal(rows[1]![6], 'The image is empty (0 bytes)');
    // This message holds commas, so its field is quoted.
    assert.match(lines(r.out)[3]!, /,UNSUPPORTED_MEDIA_TYPE,"The data is not an image in a supported format \(jpeg, png/);
    assert.match(rows[4]![6]!, /^No such file: .*missing\.jpg$/);
    assert.deepEqual(r.err, [], 'csv keeps failures in the output, as jsonl does');
  });

  test('--format jsonl is what --json prints; --format table is the default', async () => {
    const files = [fx('red.jpg'), fx('empty.jpg')];
    const json = await predict('--json', ...files);
    assert.deepEqual(await predict('--format', 'jsonl', ...files), json);
    assert.deepEqual(await predict('--format', 'jsonl', '--json', ...files), json);
    const table = await predict('--format', 'table', ...files);
    assert.deepEqual(table, await predict(...files));
    assert.equal(table.code, 1);
    assert.deepEqual(table.err.map((l) => l.replace(FIXTURES, '')), ['/empty.jpg: EMPTY_IMAGE: The image is empty (0 bytes)', '1 of 2 images failed']);
  });

  test('--json with another --format, or an unknown format, is refused, exit code 2', async () => {
    let r = await predict('--json', '--format', 'csv', fx('red.jpg'));
    assert.equal(r.code, 2);
    assert.equal(r.err[0], 'imgcls: --json is short for --format jsonl, so it cannot be combined with --format csv');
    r = await predict('--format', 'table', '--json', fx('red.jpg'));
    assert.equal(r.code, 2);
    r = await predict('--format', 'xml', fx('red.jpg'));
    assert.equal(r.code, 2);
    assert.equal(r.err[0], 'imgcls: Expected one of table, jsonl, csv for --format but received "xml"');
  });
});

describe('imgcls predict --output', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  test('writes the output to the file, creating its folders, and leaves no .partial', async () => {
    const inputs = [fx('red.jpg'), fx('empty.jpg'), fx('blue.webp')];
    for (const format of ['csv', 'jsonl', 'table']) {
      const out = path.join(dir, format, 'deep', `results.${format}`);
      const r = await predict('--format', format, '--output', out, ...inputs);
      assert.equal(r.code, 1, 'a failed image still makes exit code 1');
      assert.equal(r.err.at(-1), `wrote 3 results (1 failed) to ${out}`);
      const stdout = await predict('--format', format, ...inputs);
      assert.deepEqual(r.out, []);
      assert.equal(await readFile(out, 'utf8'), `${stdout.out.join('\n')}\n`, format);
      assert.deepEqual(await readdir(path.dirname(out)), [`results.${format}`]);
    }
  });

  test('an existing file is replaced only when the run finishes', async () => {
    const out = path.join(dir, 'replace.jsonl');
    await writeFile(out, 'old\n');
    await writeFile(`${out}.partial`, 'left by a killed run\n');
    const r = await predict('--json', '--output', out, fx('green.png'));
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(JSON.parse(await readFile(out, 'utf8')).predictions[0].label, 'green');
    assert.equal(existsSync(`${out}.partial`), false);
  });

  test('results stream into FILE.partial; FILE appears only on commit', async () => {
    const out = path.join(dir, 'stream', 'r.csv');
    const file = await OutputFile.open(out);
    await file.write('a\n');
    await file.write('b\n');
    assert.equal(await readFile(`${out}.partial`, 'utf8'), 'a\nb\n');
    assert.equal(existsSync(out), false, 'an unfinished run has no FILE');
    await file.commit();
    assert.deepEqual([await readFile(out, 'utf8'), existsSync(`${out}.partial`)], ['a\nb\n', false]);

    const failed = await OutputFile.open(path.join(dir, 'stream', 'failed.csv'));
    await failed.write('a\n');
    await failed.discard();
    assert.deepEqual(await readdir(path.join(dir, 'stream')), ['r.csv']);
  });

  test('an output that cannot be written is a clear error, exit code 1, before the model loads', async () => {
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, '');
    const cases: [string, RegExp][] = [
      [path.join(blocker, 'out.csv'), /^imgcls: Cannot write --output .*a-file\/out\.csv: ENOTDIR/],
      [path.join(blocker, 'sub', 'out.csv'), /^imgcls: Cannot write --output .*a-file\/sub\/out\.csv: ENOTDIR/],
      [dir, /^imgcls: Cannot write --output .*: EISDIR/],
    ];
    // Node's own recursive mkdir spins forever here; ours must not.
    if (existsSync('/proc/self')) cases.push(['/proc/imgcls-nope/out.csv', /^imgcls: Cannot write --output \/proc\/imgcls-nope\/out\.csv: ENOENT/]);
    for (const [out, pattern] of cases) {
      const r = await predict('--format', 'csv', '--output', out, fx('red.jpg'));
      assert.equal(r.code, 1, out);
      assert.match(r.err.join('\n'), pattern);
    }
    // Checked before the model is loaded: a wrong --model would otherwise be the error.
    const r = await cli('predict', '--model', path.join(dir, 'missing-model'), '--output', path.join(blocker, 'x.csv'), fx('red.jpg'));
    assert.match(r.err[0]!, /Cannot write --output/);
    const empty = await predict('--output', '', fx('red.jpg'));
    assert.deepEqual([empty.code, empty.err[0]], [2, 'imgcls: Expected a file path for --output but received ""']);
  });

  test('a run that fails as a whole leaves neither FILE nor FILE.partial', async () => {
    const out = path.join(dir, 'failed-run', 'out.csv');
    const r = await cli('predict', '--model', path.join(dir, 'missing-model'), '--output', out, fx('red.jpg'));
    assert.equal(r.code, 1);
    assert.deepEqual(await readdir(path.dirname(out)), []);
  });

  test('predict --help lists the new flags', async () => {
    const text = (await cli('predict', '--help')).out.join('\n');
    for (const flag of ['--shard', '--format', '--output', '--json']) assert.ok(text.includes(flag), flag);
  });
});
