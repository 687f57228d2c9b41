/**
 * `imgcls evaluate` on real (tiny) datasets: the colour model on a folder of
 * colour fixtures, one of them deliberately mislabelled, so every number is
 * known in advance.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.ts';
import { colourModel, tempDir, writeBarePackage } from './helpers/models.ts';
import { FIXTURES } from './helpers/server.ts';

let root: Awaited<ReturnType<typeof tempDir>>;
let model: string;
let folder: string;

/** red: 3 red images; green: 2 green; blue: 2 blue + 1 red (mislabelled) + 1 unreadable file. */
const LAYOUT: Record<string, string[]> = {
  red: ['red.jpg', 'red-cmyk.jpg', 'red.avif'],
  green: ['green.png', 'green-16bit.png'],
  blue: ['blue.webp', 'blue-rgba.png', 'red.jpg', 'truncated.jpg'],
};

before(async () => {
  root = await tempDir('imgcls-evaluate-');
  model = await writeBarePackage(path.join(root.dir, 'model'), colourModel({ size: 16 }), 'labels.txt');
  folder = path.join(root.dir, 'colours');
  for (const [label, files] of Object.entries(LAYOUT)) {
    await mkdir(path.join(folder, 'test', label), { recursive: true });
    await mkdir(path.join(folder, 'train', label), { recursive: true });
    for (const f of files) await copyFile(path.join(FIXTURES, f), path.join(folder, 'test', label, f));
    // A different file per class in train/, so no cross-split duplicate.
    await writeFile(path.join(folder, 'train', label, 'x.png'), `train ${label}`);
  }
});
after(async () => root.cleanup());

describe('imgcls evaluate', () => {
  test('--json has accuracy, top-5, per-class metrics and the confusion matrix', async () => {
    const r = await cli('evaluate', '--model', model, folder, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const m = JSON.parse(r.out.join(''));
    assert.equal(m.split, 'test');
    assert.equal(m.images, 8);
    assert.equal(m.skipped, 1);
    assert.equal(m.accuracy, 7 / 8);
    assert.equal(m.top5_accuracy, 1);
    assert.deepEqual(m.confusion.labels, ['red', 'green', 'blue']);
    assert.deepEqual(m.confusion.matrix, [[3, 0, 0], [0, 2, 0], [1, 0, 2]]);
    const red = m.per_class.find((c: { label: string }) => c.label === 'red');
    assert.equal(red.precision, 3 / 4);
    assert.equal(red.recall, 1);
    assert.equal(red.support, 3);
    assert.match(r.err.join('\n'), /1 image\(s\) could not be read.*\n.*truncated\.jpg: CORRUPT_IMAGE/);
  });

  test('the table prints the same figures', async () => {
    const r = await cli('evaluate', '--model', model, folder);
    assert.equal(r.code, 0);
    const out = r.out.join('\n');
    assert.match(out, /accuracy\s+87\.50%/);
    assert.match(out, /red\s+75\.00%\s+100\.00%/);
    assert.match(out, /blue\s+1\s+0\s+2/);
  });

  test('a split that does not exist is an error naming those that do', async () => {
    const r = await cli('evaluate', '--model', model, folder, '--split', 'val');
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /no "val" split; it has (train, test|test, train)/);
  });

  test('classes that are not labels of the model are an error', async () => {
    const other = path.join(root.dir, 'animals');
    for (const label of ['cat', 'dog']) {
      await mkdir(path.join(other, label), { recursive: true });
      await copyFile(path.join(FIXTURES, 'red.jpg'), path.join(other, label, `${label}.jpg`));
    }
    const r = await cli('evaluate', '--model', model, other);
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /"cat", "dog" are not labels of the model \(its labels: red, green, blue\)/);
  });

  test('a CSV dataset works the same', async () => {
    const csv = path.join(folder, 'test', 'labels.csv');
    await writeFile(csv, 'path,label\nred/red.jpg,red\ngreen/green.png,green\nblue/blue.webp,blue\nblue/red.jpg,blue\n');
    const r = await cli('evaluate', '--model', model, csv, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const m = JSON.parse(r.out.join(''));
    assert.equal(m.images, 4);
    assert.equal(m.accuracy, 3 / 4);
  });
});
