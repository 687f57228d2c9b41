import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import sharp from 'sharp';
import { tempDir } from './helpers/models.ts';
import { fixture, multipart, testApp, type Part, type TestApp } from './helpers/server.ts';

interface Prediction {
  label: string;
  index: number;
  score: number;
}

interface Sidecar {
  image: string;
  model: string;
  route: string;
  predictions: Prediction[];
  width: number;
  height: number;
  bytes: number;
}

/** What `--save-uploads` names files: an ISO timestamp made file-safe, then a UUID. */
const GENERATED = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(jpg|png|json)$/;

/** Unique to this run, so a file a hostile name produced can be found in the shared temp directory. */
const TOKEN = `imgcls-evil-${randomUUID().slice(0, 8)}`;

/**
 * Client filenames that must not reach the file system. The uploads dir is
 * root/a/b/uploads, so `../../` stays under root (scanned), while `../` x4 and
 * the absolute path land in the temp directory (scanned for TOKEN).
 */
const HOSTILE_FILENAMES = [
  '../../evil.png',
  `../../../../${TOKEN}-up.png`,
  '/etc/x',
  path.join(tmpdir(), `${TOKEN}-absolute.png`),
  '..\\..\\evil.png',
  'evil.png',
  '.evil',
  'evil.png\u0000.jpg',
  `${TOKEN}\u0000.png`,
  `../../../../${TOKEN}\u0000/x.png`,
  // Longer than NAME_MAX (255) on every common file system.
  `${TOKEN}-${'a'.repeat(300 - TOKEN.length - 5)}.png`,
];

/** Every file under `dir`, as paths relative to it. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

/** The saved uploads: each image with its sidecar, checked to pair up and to have generated names. */
async function saved(dir: string): Promise<{ image: string; ext: string; sidecar: Sidecar }[]> {
  const files = existsSync(dir) ? await readdir(dir) : [];
  for (const f of files) assert.match(f, GENERATED, `${f} has a generated name`);
  const images = files.filter((f) => !f.endsWith('.json'));
  const sidecars = files.filter((f) => f.endsWith('.json'));
  assert.equal(images.length, sidecars.length, `one sidecar per image: ${files.join(', ')}`);
  return Promise.all(
    images.map(async (image) => {
      const base = image.slice(0, image.lastIndexOf('.'));
      assert.ok(sidecars.includes(`${base}.json`), `${image} has a sidecar`);
      const sidecar = JSON.parse(await readFile(path.join(dir, `${base}.json`), 'utf8')) as Sidecar;
      return { image, ext: path.extname(image), sidecar };
    }),
  );
}

describe('--save-uploads', () => {
  let root: string;
  let removeRoot: () => Promise<void>;
  /** Nested two deep in root, so `../../x` from it still lands inside root, where the test can see it. */
  let uploads: string;
  let t: TestApp;

  before(async () => {
    ({ dir: root, cleanup: removeRoot } = await tempDir('imgcls-uploads-'));
    uploads = path.join(root, 'a', 'b', 'uploads');
    t = await testApp({ models: [{ name: 'colour' }, { name: 'other' }], config: { saveUploads: uploads } });
  });
  after(async () => {
    await t.cleanup();
    await removeRoot();
  });
  beforeEach(async () => {
    await rm(path.join(root, 'a'), { recursive: true, force: true });
    await mkdir(path.join(root, 'a', 'b'), { recursive: true });
  });

  async function post(parts: Part[], url = '/predict') {
    const m = await multipart(parts);
    return t.app.inject({ method: 'POST', url, payload: m.payload, headers: m.headers });
  }

  test('a JPEG is stored as one .jpg with a .json sidecar holding model and predictions', async () => {
    const res = await post([['file', await fixture('red.jpg'), 'holiday.jpg', 'image/jpeg']]);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ model: string; predictions: Prediction[] }>();
    assert.equal(body.predictions[0]!.label, 'red');

    const files = await saved(uploads);
    assert.equal(files.length, 1);
    const [{ image, ext, sidecar }] = files as [(typeof files)[0]];
    assert.equal(ext, '.jpg');
    assert.deepEqual(await tree(uploads), [image, image.replace(/\.jpg$/, '.json')].sort(), 'nothing else, no temporary files');
    assert.equal(sidecar.image, image);
    assert.equal(sidecar.model, 'colour');
    assert.equal(sidecar.route, '/predict');
    assert.deepEqual(sidecar.predictions, body.predictions);
    assert.equal(sidecar.width, 32);
    assert.equal(sidecar.height, 24);
    assert.equal(sidecar.bytes, (await fixture('red.jpg')).length);

    const meta = await sharp(path.join(uploads, image)).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 32);
    assert.equal(meta.height, 24);
    // The stored file classifies like the original.
    const again = await t.app.inject({ method: 'POST', url: '/models/other/predict', payload: await readFile(path.join(uploads, image)), headers: { 'content-type': 'image/jpeg' } });
    assert.equal(again.json<{ predictions: Prediction[] }>().predictions[0]!.label, 'red');
    assert.ok(!image.includes('holiday'), 'the client filename is not used');
  });

  // Bigger than Node's 8 kB buffer pool, so the upload has a buffer of its own, which the server would otherwise move to the worker.
  test('a photo larger than the buffer pool is stored whole', async () => {
    const photo = await fixture('photo-chelsea.jpg');
    const res = await post([['file', photo, 'cat.jpg', 'image/jpeg']]);
    assert.equal(res.statusCode, 200, res.body);
    const [stored] = await saved(uploads);
    assert.ok(stored);
    assert.equal(stored.sidecar.bytes, photo.length);
    const meta = await sharp(path.join(uploads, stored.image)).metadata();
    assert.deepEqual([meta.width, meta.height], [451, 300]);
  });

  for (const [file, type, label] of [
    ['green.png', 'image/png', 'green'],
    ['blue.webp', 'image/webp', 'blue'],
    ['red.avif', 'image/avif', 'red'],
    ['green-then-red.gif', 'image/gif', 'green'],
    ['blue-then-red.tiff', 'image/tiff', 'blue'],
  ] as const) {
    test(`${file} is stored re-encoded as .png`, async () => {
      const original = await fixture(file);
      const res = await post([['file', original, file, type]]);
      assert.equal(res.statusCode, 200, res.body);
      const [only, ...rest] = await saved(uploads);
      assert.equal(rest.length, 0);
      assert.equal(only!.ext, '.png');
      const stored = await readFile(path.join(uploads, only!.image));
      assert.equal((await sharp(stored).metadata()).format, 'png');
      // green.png was itself written by sharp, so its re-encoding may be byte-identical.
      if (type !== 'image/png') assert.notDeepEqual(stored, original, 're-encoded, not the client bytes');
      assert.equal(only!.sidecar.predictions[0]!.label, label);
    });
  }

  test('the stored JPEG has EXIF orientation applied and metadata dropped', async () => {
    const res = await post([['file', await fixture('orientation-6.jpg'), 'o.jpg', 'image/jpeg']]);
    assert.equal(res.statusCode, 200, res.body);
    const [only] = await saved(uploads);
    const meta = await sharp(path.join(uploads, only!.image)).metadata();
    assert.equal(meta.width, 24);
    assert.equal(meta.height, 32);
    assert.equal(meta.exif, undefined, 'no EXIF');
    assert.ok(meta.orientation === undefined || meta.orientation === 1, `orientation ${meta.orientation}`);
    assert.equal(only!.sidecar.width, 24);
    assert.equal(only!.sidecar.height, 32);
  });

  for (const filename of HOSTILE_FILENAMES) {
    const shown = JSON.stringify(filename.replaceAll(TOKEN, '<token>'));
    test(`client filename ${shown.length > 60 ? `${shown.slice(0, 40)}... (${filename.length} characters)` : shown} never reaches the disk`, async () => {
      const etcExisted = existsSync('/etc/x');
      const m = await multipart([['file', await fixture('green.png'), filename, 'image/png']]);
      assert.ok(m.payload.includes(Buffer.from(filename)), 'the request carries the filename verbatim');
      const res = await t.app.inject({ method: 'POST', url: '/predict', payload: m.payload, headers: m.headers });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<{ predictions: Prediction[] }>().predictions[0]!.label, 'green');
      const files = await saved(uploads);
      assert.equal(files.length, 1);
      // Everything written anywhere under root is the one pair in the uploads dir.
      const all = await tree(root);
      assert.deepEqual(all, (await tree(uploads)).map((f) => path.join('a', 'b', 'uploads', f)).sort(), `only uploads/ was written: ${all.join(', ')}`);
      assert.equal(all.length, 2);
      for (const f of all) assert.doesNotMatch(f, /evil|etc/);
      assert.equal(existsSync('/etc/x'), etcExisted, '/etc/x was not created');
      // Nor next to root, in the temp directory, where `../` x4 or an absolute path would land.
      assert.deepEqual((await readdir(tmpdir())).filter((f) => f.includes(TOKEN)), [], `nothing named after the client in ${tmpdir()}`);
      assert.equal(existsSync(path.resolve(uploads, filename)), false, 'the path the client named does not exist');
      assert.ok(!JSON.stringify(files[0]!.sidecar).includes('evil'), 'nor is it in the sidecar');
    });
  }

  test('a batch stores each classified image; a failed one is not stored', async () => {
    const res = await post([
      ['file', await fixture('red.jpg'), 'a.jpg', 'image/jpeg'],
      ['file', await fixture('truncated.jpg'), 'b.jpg', 'image/jpeg'],
      ['image', await fixture('blue.webp'), 'c.webp', 'image/webp'],
    ]);
    assert.equal(res.statusCode, 200, res.body);
    const results = res.json<{ results: { predictions?: Prediction[]; error?: string }[] }>().results;
    assert.equal(results[1]!.error, 'CORRUPT_IMAGE');
    const files = await saved(uploads);
    assert.equal(files.length, 2);
    assert.deepEqual(files.map((f) => f.ext).sort(), ['.jpg', '.png']);
    const byExt = Object.fromEntries(files.map((f) => [f.ext, f.sidecar]));
    assert.deepEqual(byExt['.jpg']!.predictions, results[0]!.predictions);
    assert.deepEqual(byExt['.png']!.predictions, results[2]!.predictions);
    assert.equal(new Set(files.map((f) => f.image)).size, 2, 'distinct names');
  });

  test('a failed single image stores nothing', async () => {
    const res = await post([['file', await fixture('broken.png'), 'b.png', 'image/png']]);
    assert.equal(res.statusCode, 422);
    assert.deepEqual(await saved(uploads), []);
  });

  test('raw and JSON bodies are stored too, with the named model and its route', async () => {
    const raw = await t.app.inject({ method: 'POST', url: '/models/other/predict', payload: await fixture('red.jpg'), headers: { 'content-type': 'image/jpeg' } });
    assert.equal(raw.statusCode, 200, raw.body);
    const json = await t.app.inject({ method: 'POST', url: '/predict?top_k=1', payload: JSON.stringify({ image: (await fixture('green.png')).toString('base64') }), headers: { 'content-type': 'application/json' } });
    assert.equal(json.statusCode, 200, json.body);
    const files = await saved(uploads);
    assert.equal(files.length, 2);
    const jpg = files.find((f) => f.ext === '.jpg')!.sidecar;
    assert.equal(jpg.model, 'other');
    assert.equal(jpg.route, '/models/:name/predict');
    assert.equal(jpg.predictions[0]!.label, 'red');
    const png = files.find((f) => f.ext === '.png')!.sidecar;
    assert.equal(png.model, 'colour');
    assert.equal(png.route, '/predict');
    assert.deepEqual(png.predictions.map((p) => p.label), ['green'], 'top_k applies to what is stored');
  });
});

describe('without --save-uploads', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  test('nothing is written next to the models', async () => {
    const filesBefore = await tree(t.dir);
    const res = await t.app.inject({ method: 'POST', url: '/predict', payload: await fixture('red.jpg'), headers: { 'content-type': 'image/jpeg' } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await tree(t.dir), filesBefore);
  });
});
