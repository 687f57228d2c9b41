import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isImgclsError, type ErrorCode } from '../src/errors.ts';
import { parseDelimited, sniffDelimiter } from '../src/train/csv.ts';
import { loadDataset, type DatasetOptions } from '../src/train/dataset.ts';
import { tempDir } from './helpers/models.ts';

let tmp: string;
let cleanup: () => Promise<void>;
let counter = 0;
before(async () => ({ dir: tmp, cleanup } = await tempDir('imgcls-dataset-')));
after(() => cleanup());

/**
 * Write a dataset into a fresh folder. Each file holds its own name unless
 * given bytes, so contents differ (the reader never decodes images).
 */
async function build(files: Record<string, string | Uint8Array | null>): Promise<string> {
  const root = path.join(tmp, `d${++counter}`);
  await mkdir(root, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const full = path.join(root, name);
    if (name.endsWith('/')) {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content ?? `bytes of ${name}`);
  }
  return root;
}

/** Files named by path → null (default content), for brevity. */
function images(...names: string[]): Record<string, null> {
  return Object.fromEntries(names.map((n) => [n, null]));
}

async function rejects(location: string, options: DatasetOptions, code: ErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(loadDataset(location, options), (err: unknown) => {
    assert.ok(isImgclsError(err), `expected an ImgclsError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

function labelsOf(list: { path: string; label: string }[] | undefined, root: string): string[] {
  return (list ?? []).map((im) => `${path.relative(root, im.path)}:${im.label}`);
}

describe('csv parser', () => {
  test('quoted fields, escaped quotes, CRLF, line breaks inside quotes and a BOM', () => {
    const text = '\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\r\nlines",z\n3,,\n';
    const { records, unterminatedQuoteLine } = parseDelimited(text, ',');
    assert.deepEqual(
      records.map((r) => r.fields),
      [['a', 'b', 'c'], ['1', 'x, y', 'say "hi"'], ['2', 'two\r\nlines', 'z'], ['3', '', '']],
    );
    assert.deepEqual(records.map((r) => r.line), [1, 2, 4, 6]);
    assert.equal(unterminatedQuoteLine, undefined);
  });

  test('an unterminated quote is reported, not thrown', () => {
    assert.equal(parseDelimited('a,b\n1,"oops\n2,3\n', ',').unterminatedQuoteLine, 2);
  });

  test('the delimiter comes from the extension, or from the header when it lacks that one', () => {
    assert.equal(sniffDelimiter('x.tsv', 'a\tb\n'), '\t');
    assert.equal(sniffDelimiter('x.csv', 'a,b\n'), ',');
    assert.equal(sniffDelimiter('x.csv', '\ufeffa;b;c\n1;2,5;3'), ';');
    assert.equal(sniffDelimiter('x.csv', 'a\tb\n'), '\t');
    assert.equal(sniffDelimiter('x.csv', '"a,b"\tc\n'), '\t', 'a comma inside quotes does not count');
    assert.equal(sniffDelimiter('x.csv', 'image\n'), ',', 'one column: the extension decides');
  });
});

describe('folder datasets', () => {
  test('flat class folders: split "all", sorted classes and paths, absolute paths', async () => {
    const root = await build(images('dog/b.jpg', 'dog/a.png', 'cat/x.JPEG', 'Bird/1.webp'));
    const ds = await loadDataset(root);
    assert.equal(ds.source, 'folder');
    assert.deepEqual(ds.classes, ['Bird', 'cat', 'dog'], 'code-unit order, as Python sorted()');
    assert.deepEqual(Object.keys(ds.splits), ['all']);
    assert.deepEqual(labelsOf(ds.splits.all, root), ['Bird/1.webp:Bird', 'cat/x.JPEG:cat', 'dog/a.png:dog', 'dog/b.jpg:dog']);
    assert.ok(ds.splits.all!.every((im) => path.isAbsolute(im.path)));
    assert.deepEqual(ds.warnings, []);
  });

  test('train/, val/ and test/ folders are splits holding class folders', async () => {
    const root = await build(images('train/cat/1.jpg', 'train/dog/1.jpg', 'val/cat/2.jpg', 'val/dog/2.jpg', 'test/cat/3.jpg', 'test/dog/3.jpg'));
    const ds = await loadDataset(root);
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.deepEqual(Object.keys(ds.splits), ['train', 'val', 'test']);
    assert.deepEqual(labelsOf(ds.splits.test, root), ['test/cat/3.jpg:cat', 'test/dog/3.jpg:dog']);
    assert.deepEqual(ds.warnings, []);
  });

  test('valid/ (and validation/) is the val split; having two of them is an error', async () => {
    const root = await build(images('train/cat/1.jpg', 'train/dog/1.jpg', 'valid/cat/2.jpg', 'valid/dog/2.jpg'));
    const ds = await loadDataset(root);
    assert.deepEqual(labelsOf(ds.splits.val, root), ['valid/cat/2.jpg:cat', 'valid/dog/2.jpg:dog']);
    const both = await build(images('train/cat/1.jpg', 'train/dog/1.jpg', 'val/cat/2.jpg', 'validation/cat/3.jpg'));
    await rejects(both, {}, 'INVALID_OPTION', /both val\/ and validation\/.*keep one/);
  });

  test('images in nested subfolders of a class belong to that class', async () => {
    const root = await build(images('cat/2020/jan/a.jpg', 'cat/b.jpg', 'dog/deep/er/c.png'));
    const ds = await loadDataset(root);
    assert.deepEqual(labelsOf(ds.splits.all, root), ['cat/2020/jan/a.jpg:cat', 'cat/b.jpg:cat', 'dog/deep/er/c.png:dog']);
  });

  test('hidden files and folders are ignored without a warning', async () => {
    const root = await build(images('cat/a.jpg', 'cat/.DS_Store', 'cat/._a.jpg', 'dog/b.jpg', 'dog/.thumbs/t.jpg', '.cache/x/y.jpg'));
    const ds = await loadDataset(root);
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.equal(ds.splits.all!.length, 2);
    assert.deepEqual(ds.warnings, []);
  });

  test('non-image files are skipped and listed; loose images and stray folders are warned about', async () => {
    const root = await build(images('train/cat/a.jpg', 'train/cat/notes.txt', 'train/dog/b.jpg', 'train/dog/c.bmp', 'train/stray.jpg', 'extra/x.jpg', 'README.md'));
    const ds = await loadDataset(root);
    assert.equal(ds.splits.train!.length, 2);
    const text = ds.warnings.join('\n');
    assert.match(text, /Skipped 2 files that are not an image .*train\/cat\/notes\.txt, train\/dog\/c\.bmp\./);
    assert.match(text, /Ignored 1 image outside any class folder: train\/stray\.jpg\./);
    assert.match(text, /Ignored 1 folder next to the split folders: extra\/\./);
    assert.doesNotMatch(text, /README/, 'loose non-image files at the top are documentation, not noise');
  });

  test('unreadable images (empty, broken symlink) are skipped and listed', async () => {
    const root = await build({ ...images('cat/a.jpg', 'dog/b.jpg'), 'dog/empty.jpg': new Uint8Array(0) });
    await symlink(path.join(root, 'nowhere.jpg'), path.join(root, 'cat/broken.jpg'));
    await symlink(path.join(root, 'cat/a.jpg'), path.join(root, 'dog/linked.jpg'));
    const ds = await loadDataset(root);
    assert.deepEqual(labelsOf(ds.splits.all, root), ['cat/a.jpg:cat', 'dog/b.jpg:dog', 'dog/linked.jpg:dog'], 'symlinked files count');
    assert.match(ds.warnings.join('\n'), /Skipped 2 unreadable images: cat\/broken\.jpg \(broken link\), dog\/empty\.jpg \(empty file\)\./);
  });

  test('more than 20 listed files end in "and N more"', async () => {
    const junk = Array.from({ length: 25 }, (_, i) => `cat/n${String(i).padStart(2, '0')}.txt`);
    const root = await build(images('cat/a.jpg', 'dog/b.jpg', ...junk));
    const ds = await loadDataset(root);
    assert.match(ds.warnings[0]!, /Skipped 25 files .*cat\/n19\.txt and 5 more\.$/);
  });

  test('empty class folders are one error naming each class and split', async () => {
    const split = await build({ ...images('train/cat/notes.txt', 'train/dog/a.jpg'), 'test/cat/': null });
    await rejects(split, {}, 'INVALID_OPTION', /class "cat" in train\/ has no images; class "cat" in test\/ has no images\. Every class folder needs/i);
    const flat = await build({ ...images('dog/a.jpg', 'bird/b.jpg'), 'cat/': null });
    await rejects(flat, {}, 'INVALID_OPTION', /class "cat" in \/.*\/d\d+\/ has no images/i);
  });

  test('a class whose images are all unreadable is an error too', async () => {
    const root = await build({ ...images('dog/a.jpg', 'bird/b.jpg'), 'cat/a.jpg': new Uint8Array(0) });
    await rejects(root, {}, 'INVALID_OPTION', /class "cat" .*has no readable images: cat\/a\.jpg \(empty file\)/i);
  });

  test('no class folders, or only one class, is an error', async () => {
    await rejects(await build(images('a.jpg')), {}, 'INVALID_OPTION', /has no class folders/);
    await rejects(await build(images('styles.csv')), {}, 'INVALID_OPTION', /To read styles\.csv, pass the file itself/);
    await rejects(await build(images('cat/a.jpg', 'cat/b.jpg')), {}, 'INVALID_OPTION', /only one class \("cat"\).*at least 2/);
    await rejects(await build({ 'train/': null, 'test/cat/a.jpg': null }), {}, 'INVALID_OPTION', /train\/ in .* has no class folders/);
  });

  test('a train class missing from test/ is a warning; a test class missing from train/ is an error', async () => {
    const missing = await build(images('train/cat/1.jpg', 'train/dog/1.jpg', 'train/bird/1.jpg', 'test/cat/2.jpg', 'test/dog/2.jpg'));
    const ds = await loadDataset(missing);
    assert.deepEqual(ds.classes, ['bird', 'cat', 'dog']);
    assert.deepEqual(ds.warnings, ['Class "bird" has no images in test/.']);

    const extra = await build(images('train/cat/1.jpg', 'train/dog/1.jpg', 'test/cat/2.jpg', 'test/dog/2.jpg', 'test/fox/2.jpg'));
    await rejects(extra, {}, 'INVALID_OPTION', /class "fox" in test\/ has no images in train\/.*could never predict it/i);
  });

  test('the same bytes in two splits is an error listing the pairs', async () => {
    const same = 'identical bytes';
    const root = await build({ ...images('train/cat/1.jpg', 'train/dog/1.jpg', 'test/dog/2.jpg'), 'train/cat/leak.jpg': same, 'test/cat/copy.jpg': same });
    await rejects(root, {}, 'INVALID_OPTION', /1 image of one split is also in another.*leak evaluation images into training: train\/cat\/leak\.jpg = test\/cat\/copy\.jpg\./);
  });

  test('the same bytes twice within one split is a warning', async () => {
    const same = 'identical bytes';
    const root = await build({ ...images('cat/1.jpg', 'dog/1.jpg'), 'cat/a.jpg': same, 'dog/b.jpg': same, 'dog/c.jpg': 'identical BYTES' });
    const ds = await loadDataset(root);
    assert.equal(ds.splits.all!.length, 5, 'duplicates within a split are kept');
    assert.deepEqual(ds.warnings, ['Found 1 duplicate image within a split (same content): cat/a.jpg = dog/b.jpg.']);
  });

  test('minCount drops rare labels with one warning', async () => {
    const root = await build(images('cat/1.jpg', 'cat/2.jpg', 'cat/3.jpg', 'dog/1.jpg', 'dog/2.jpg', 'dog/3.jpg', 'fox/1.jpg', 'owl/1.jpg', 'owl/2.jpg'));
    const ds = await loadDataset(root, { minCount: 3 });
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.equal(ds.splits.all!.length, 6);
    assert.deepEqual(ds.warnings, ['Dropped 2 labels with fewer than 3 images: "fox" (1), "owl" (2).']);
    await rejects(root, { minCount: 4 }, 'INVALID_OPTION', /has no classes after dropping labels with fewer than 4 images/);
    await rejects(root, { minCount: 0 }, 'INVALID_OPTION', /--min-count must be a whole number/);
  });

  test('CSV options on a folder are an error', async () => {
    const root = await build(images('cat/1.jpg', 'dog/1.jpg'));
    await rejects(root, { imageColumn: 'x', splitColumn: 'y' }, 'INVALID_OPTION', /--image-column, --split-column only apply to a CSV/);
  });
});

describe('CSV and TSV datasets', () => {
  test('a path column, relative to the CSV folder', async () => {
    const root = await build({ ...images('pics/a.jpg', 'pics/b.png', 'c.webp'), 'labels.csv': 'path,label\npics/b.png,dog\npics/a.jpg,cat\nc.webp,cat\n' });
    const ds = await loadDataset(path.join(root, 'labels.csv'));
    assert.equal(ds.source, 'csv');
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.deepEqual(labelsOf(ds.splits.all, root), ['c.webp:cat', 'pics/a.jpg:cat', 'pics/b.png:dog']);
    assert.deepEqual(ds.warnings, []);
  });

  test('styles.csv: BOM, CRLF, ids with images/, quoted commas and a malformed row', async () => {
    const csv = [
      '\ufeffid,gender,masterCategory,subCategory,articleType,productDisplayName',
      '15970,Men,Apparel,Topwear,Shirts,Turtle Check Men Navy Blue Shirt',
      '39386,Men,Apparel,Bottomwear,Jeans,"Peter England Men Party Blue Jeans, Slim"',
      '59263,Women,Accessories,Watches,Watches,Titan Women Silver Watch',
      '21379,Men,Apparel,Bottomwear,Jeans,"Manchester United Men Solid ""Black"" Track Pants"',
      '11,Men,Apparel,Topwear,Shirts,Unquoted, extra, commas',
      '',
    ].join('\r\n');
    const root = await build({ ...images('images/15970.jpg', 'images/39386.jpg', 'images/59263.jpg', 'images/21379.jpg', 'images/11.jpg'), 'styles.csv': csv });
    const file = path.join(root, 'styles.csv');

    const ds = await loadDataset(file, { extension: 'jpg' });
    assert.deepEqual(ds.classes, ['Jeans', 'Shirts', 'Watches'], 'articleType is the first default label column present');
    assert.deepEqual(labelsOf(ds.splits.all, root), ['images/15970.jpg:Shirts', 'images/21379.jpg:Jeans', 'images/39386.jpg:Jeans', 'images/59263.jpg:Watches']);
    assert.deepEqual(ds.warnings, ["Skipped 1 malformed row in styles.csv whose number of fields is not the header's 6 (an unquoted delimiter inside a value?): line 6."]);

    const guessed = await loadDataset(file, { labelColumn: 'masterCategory' });
    assert.deepEqual(guessed.classes, ['Accessories', 'Apparel'], 'without --extension, .jpg is tried');
  });

  test('a TSV file', async () => {
    const root = await build({ ...images('a.jpg', 'b.jpg'), 'data.tsv': 'file\tclass\tnote\na.jpg\tcat\tx, y\nb.jpg\tdog\t\n' });
    const ds = await loadDataset(path.join(root, 'data.tsv'));
    assert.deepEqual(labelsOf(ds.splits.all, root), ['a.jpg:cat', 'b.jpg:dog']);
  });

  test('missing columns are an error listing the columns there are', async () => {
    const root = await build({ 'x.csv': 'name,kind\na.jpg,cat\n' });
    const file = path.join(root, 'x.csv');
    await rejects(file, {}, 'INVALID_OPTION', /no image column \(looked for "image", .*\) and no label column .*its columns are: "name", "kind"\. Pass --image-column and --label-column/);
    await rejects(file, { imageColumn: 'name', labelColumn: 'tag' }, 'INVALID_OPTION', /has no label column "tag"; its columns are: "name", "kind"\.$/);
    await rejects(file, { imageColumn: 'name', labelColumn: 'kind', splitColumn: 'fold' }, 'INVALID_OPTION', /no split column "fold"/);
    await rejects(file, { imageColumn: 'name', labelColumn: 'name' }, 'INVALID_OPTION', /both "name"/);
  });

  test('rows whose image is missing, or whose label is empty, are skipped with warnings', async () => {
    const root = await build({ ...images('a.jpg', 'b.jpg', 'c.jpg'), 'x.csv': 'image,label\na.jpg,cat\ngone.jpg,cat\nb.jpg,dog\nc.jpg,\n' });
    const ds = await loadDataset(path.join(root, 'x.csv'));
    assert.deepEqual(labelsOf(ds.splits.all, root), ['a.jpg:cat', 'b.jpg:dog']);
    const text = ds.warnings.join('\n');
    assert.match(text, /Skipped 1 row with an empty "label" label: line 5\./);
    assert.match(text, /Skipped 1 row whose image was not found under .*: "gone\.jpg" \(line 3\)\./);
  });

  test('when no listed image exists, the error says where it looked', async () => {
    const root = await build({ 'x.csv': 'id,label\n1,cat\n2,dog\n' });
    await rejects(path.join(root, 'x.csv'), { imageDir: tmp }, 'INVALID_OPTION', /None of the 2 images .* were found.*--image-dir.*not found under .*"1" \(line 2\)/s);
  });

  test('--image-dir and --extension', async () => {
    const root = await build({ ...images('pix/1.png', 'pix/2.png'), 'meta/x.csv': 'id,label\n1,cat\n2.png,dog\n' });
    const ds = await loadDataset(path.join(root, 'meta/x.csv'), { imageDir: path.join(root, 'pix'), extension: '.png' });
    assert.deepEqual(labelsOf(ds.splits.all, root), ['pix/1.png:cat', 'pix/2.png:dog']);
    await rejects(path.join(root, 'meta/x.csv'), { extension: 'txt' }, 'INVALID_OPTION', /--extension txt is not an image type/);
  });

  test('a split column', async () => {
    const csv = 'image,label,split\na.jpg,cat,train\nb.jpg,dog,train\nc.jpg,cat,Validation\nd.jpg,dog,test\ne.jpg,dog,holdout\n';
    const root = await build({ ...images('a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg'), 'x.csv': csv });
    const ds = await loadDataset(path.join(root, 'x.csv'), { splitColumn: 'split' });
    assert.deepEqual(Object.keys(ds.splits), ['train', 'val', 'test']);
    assert.deepEqual(labelsOf(ds.splits.val, root), ['c.jpg:cat']);
    assert.deepEqual(ds.warnings, [
      'Skipped rows whose "split" value is not train, val or test: "holdout" (1).',
      'Class "dog" has no images in the "val" split.',
      'Class "cat" has no images in the "test" split.',
    ]);
  });

  test('one file listed in two splits is a leak', async () => {
    const root = await build({ ...images('a.jpg', 'b.jpg'), 'x.csv': 'image,label,split\na.jpg,cat,train\nb.jpg,dog,train\na.jpg,cat,test\n' });
    await rejects(path.join(root, 'x.csv'), { splitColumn: 'split' }, 'INVALID_OPTION', /a\.jpg \[cat\] \(listed twice\)/);
  });

  test('minCount counts rows over all splits', async () => {
    const csv = 'image,label\na.jpg,cat\nb.jpg,cat\nc.jpg,dog\nd.jpg,dog\ne.jpg,fox\n';
    const root = await build({ ...images('a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg'), 'x.csv': csv });
    const ds = await loadDataset(path.join(root, 'x.csv'), { minCount: 2 });
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.deepEqual(ds.warnings, ['Dropped 1 label with fewer than 2 images: "fox" (1).']);
  });
});

describe('locations', () => {
  test('a path that does not exist is FILE_NOT_FOUND', async () => {
    await rejects(path.join(tmp, 'no-such-dataset'), {}, 'FILE_NOT_FOUND', /No such dataset: .*no-such-dataset/);
  });

  test('a file that is not .csv or .tsv is an INVALID_OPTION', async () => {
    const root = await build(images('x.json'));
    await rejects(path.join(root, 'x.json'), {}, 'INVALID_OPTION', /not a dataset: pass a folder of class folders, or a \.csv or \.tsv file/);
  });
});
