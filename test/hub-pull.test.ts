import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { listModels } from '../src/store/store.ts';
import { cli } from './helpers/cli.ts';
import { colourRepo, FakeHub, setEnv, sha256 } from './helpers/hub.ts';
import { fx, tempDir } from './helpers/models.ts';

const TOKEN = 'hf_secretTOKEN123';

describe('imgcls pull hf:...', () => {
  let hub: FakeHub;
  let store: string;
  let cleanup: () => Promise<void>;
  let restoreEnv: () => void;

  before(async () => {
    hub = await new FakeHub().start();
    hub.repos.set('test-org/Colour-Net', colourRepo());
    hub.repos.set('test-org/private-net', colourRepo('b'.repeat(40), TOKEN));
  });
  after(() => hub.stop());
  beforeEach(async () => {
    ({ dir: store, cleanup } = await tempDir('imgcls-hub-'));
    restoreEnv = setEnv({ HF_ENDPOINT: hub.endpoint, HF_TOKEN: undefined });
    hub.reset();
  });
  afterEach(async () => {
    restoreEnv();
    await cleanup();
  });

  test('stores the transformers.js layout under the repo name, verified, with its source', async () => {
    const r = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    const dir = path.join(store, 'models', 'colour-net');
    assert.match(r.out[0]!, /^Pulled hf:test-org\/Colour-Net as colour-net: .*models\/colour-net$/);
    assert.match(r.err.join('\n'), /Pulling hf:test-org\/Colour-Net \(commit c0ffee0\) from http:\/\/127\.0\.0\.1:\d+ into /);
    assert.match(r.err.at(-1)!, /Stored colour-net in .* \(3 files, .*, verified\)/);
    const repo = hub.repos.get('test-org/Colour-Net')!;
    assert.deepEqual(await readFile(path.join(dir, 'onnx', 'model.onnx')), repo.files.get('onnx/model.onnx'));
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'onnx', 'preprocessor_config.json', 'source.json']);
    const source = JSON.parse(await readFile(path.join(dir, 'source.json'), 'utf8'));
    assert.equal(source.kind, 'huggingface');
    assert.equal(source.repo, 'test-org/Colour-Net');
    assert.equal(source.revision, 'main');
    assert.equal(source.commit, repo.commit);
    assert.equal(source.variant, null);
    assert.deepEqual(
      source.files.map((f: { path: string; sha256: string }) => [f.path, f.sha256]),
      ['config.json', 'preprocessor_config.json', 'onnx/model.onnx'].map((p) => [p, sha256(repo.files.get(p)!)]),
    );
    // Files are fetched at the resolved commit, not the moving branch.
    assert.ok(hub.requests.some((q) => q.url.includes(`/resolve/${repo.commit}/onnx/model.onnx`)));
    // The staging area is gone from view: only the model is listed.
    assert.deepEqual((await listModels({ store })).filter((m) => !m.builtin).map((m) => [m.name, m.source]), [['colour-net', `hf:test-org/Colour-Net (main @ c0ffee0)`]]);

    const before = hub.requests.length;
    const again = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(again.code, 0);
    assert.match(again.out[0]!, /colour-net is already in the store/);
    assert.ok(!hub.requests.slice(before).some((q) => q.url.includes('/resolve/')), 'an up-to-date pull only asks for the listing');
  });

  test('the token goes to the hub, never to the CDN the hub redirects to, and never into the output', async () => {
    process.env.HF_TOKEN = TOKEN;
    const r = await cli('pull', 'hf:test-org/private-net', '--store', store, '--name', 'private');
    assert.equal(r.code, 0, r.err.join('\n'));
    const toHub = hub.requests.filter((q) => q.server === 'hub');
    const toCdn = hub.requests.filter((q) => q.server === 'cdn');
    assert.ok(toCdn.length > 0, 'the model came from the CDN');
    assert.ok(toHub.every((q) => q.authorization === `Bearer ${TOKEN}`), 'every hub request, same-origin redirects included, carries the token');
    assert.ok(toCdn.every((q) => q.authorization === undefined), 'the CDN never sees it');
    assert.ok(![...r.out, ...r.err].join('\n').includes(TOKEN));
    assert.ok(![...r.out, ...r.err].join('\n').includes('signature=secret'), 'signed CDN URLs are not printed');
  });

  test('401 without a token says to set HF_TOKEN; a wrong token is named as refused', async () => {
    const r = await cli('pull', 'hf:test-org/private-net', '--store', store);
    assert.equal(r.code, 1);
    assert.match(r.err.at(-1)!, /^imgcls: .* answered 401 for hf:test-org\/private-net: the repository is private or gated, or does not exist; set HF_TOKEN/);
    process.env.HF_TOKEN = 'hf_wrong';
    const wrong = await cli('pull', 'hf:test-org/private-net', '--store', store);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err.at(-1)!, /refused HF_TOKEN for hf:test-org\/private-net \(401\)/);
    assert.ok(!wrong.err.join('\n').includes('hf_wrong'));
    assert.equal(existsSync(path.join(store, 'models', 'private-net')), false);
  });

  test('404: no such repository, revision or file, named', async () => {
    const repo = await cli('pull', 'hf:test-org/no-such-net', '--store', store);
    assert.equal(repo.code, 1);
    assert.match(repo.err.at(-1)!, /No model repository test-org\/no-such-net on http:\/\/127\.0\.0\.1:\d+/);
    const revision = await cli('pull', 'hf:test-org/Colour-Net@v9', '--store', store);
    assert.match(revision.err.at(-1)!, /test-org\/Colour-Net has no revision "v9"/);
    const variant = await cli('pull', 'hf:test-org/Colour-Net', '--variant', 'fp16', '--store', store);
    assert.equal(variant.code, 1);
    assert.match(variant.err.at(-1)!, /hf:test-org\/Colour-Net has no onnx\/model_fp16\.onnx; its ONNX files are onnx\/model\.onnx, onnx\/model_quantized\.onnx/);
  });

  test('an interrupted download resumes with Range where it stopped', async () => {
    hub.faults.truncate.add('onnx/model.onnx');
    const first = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(first.code, 1);
    assert.match(first.err.at(-1)!, /The download of onnx\/model\.onnx was interrupted after \d+ of \d+ bytes .*; run the same command again to resume/);
    assert.equal(existsSync(path.join(store, 'models', 'colour-net')), false, 'nothing half-written in the store');
    assert.deepEqual((await listModels({ store })).filter((m) => !m.builtin), []);
    const part = path.join(store, 'models', '.staging', 'colour-net', 'onnx', 'model.onnx.part');
    const kept = (await stat(part)).size;
    assert.ok(kept > 0);

    hub.requests.length = 0;
    const second = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(second.code, 0, second.err.join('\n'));
    assert.ok(hub.requests.some((q) => q.server === 'cdn' && q.range === `bytes=${kept}-`), 'the CDN was asked for the rest');
    assert.ok(!hub.requests.some((q) => q.url.includes('config.json') && q.url.includes('/resolve/')), 'files finished before are not fetched again');
    assert.match(second.err.join('\n'), /resuming at/);
    const model = await readFile(path.join(store, 'models', 'colour-net', 'onnx', 'model.onnx'));
    assert.deepEqual(model, hub.repos.get('test-org/Colour-Net')!.files.get('onnx/model.onnx'));
    assert.equal(existsSync(path.join(store, 'models', '.staging', 'colour-net')), false);
  });

  test('a server that ignores Range gets a clean restart', async () => {
    hub.faults.truncate.add('onnx/model.onnx');
    assert.equal((await cli('pull', 'hf:test-org/Colour-Net', '--store', store)).code, 1);
    hub.faults.ignoreRange = true;
    const r = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(await readFile(path.join(store, 'models', 'colour-net', 'onnx', 'model.onnx')), hub.repos.get('test-org/Colour-Net')!.files.get('onnx/model.onnx'));
  });

  test('a checksum mismatch leaves nothing behind, staging included', async () => {
    hub.faults.corrupt.add('onnx/model.onnx');
    const before = await listModels({ store });
    const r = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(r.code, 1);
    assert.match(r.err.at(-1)!, /^imgcls: onnx\/model\.onnx has sha256 [0-9a-f]{64} but the source says [0-9a-f]{64}; the download was discarded$/);
    assert.deepEqual(await listModels({ store }), before);
    assert.equal(existsSync(path.join(store, 'models', 'colour-net')), false);
    assert.deepEqual(await readdir(path.join(store, 'models', '.staging')), [], 'no staging directory, no lock');
  });

  test('a corrupted small file is caught by its git blob id', async () => {
    hub.faults.corrupt.add('config.json');
    const r = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
    assert.equal(r.code, 1);
    assert.match(r.err.at(-1)!, /config\.json has git blob id [0-9a-f]{40} but the source says [0-9a-f]{40}/);
  });

  test('--variant quantized is stored as onnx/model.onnx, where the loader looks', async () => {
    const r = await cli('pull', 'hf:test-org/Colour-Net', '--variant', 'quantized', '--name', 'colour-q', '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    const dir = path.join(store, 'models', 'colour-q');
    const files = hub.repos.get('test-org/Colour-Net')!.files;
    assert.deepEqual(await readFile(path.join(dir, 'onnx', 'model.onnx')), files.get('onnx/model_quantized.onnx'));
    const source = JSON.parse(await readFile(path.join(dir, 'source.json'), 'utf8'));
    assert.equal(source.variant, 'quantized');
    assert.deepEqual(source.files[2], { path: 'onnx/model.onnx', from: 'onnx/model_quantized.onnx', size: files.get('onnx/model_quantized.onnx')!.length, sha256: sha256(files.get('onnx/model_quantized.onnx')!) });
    const predicted = await cli('predict', '--model', 'colour-q', '--store', store, '--json', fx('red.jpg'));
    assert.equal(predicted.code, 0, predicted.err.join('\n'));
    assert.equal(JSON.parse(predicted.out[0]!).predictions[0].label, 'red');
  });

  test('a name taken by another model is refused, not overwritten', async () => {
    assert.equal((await cli('pull', 'hf:test-org/Colour-Net', '--store', store)).code, 0);
    process.env.HF_TOKEN = TOKEN;
    const r = await cli('pull', 'hf:test-org/private-net', '--name', 'colour-net', '--store', store);
    assert.equal(r.code, 2);
    assert.match(r.err[0]!, /The store already has a model named "colour-net" \(from hf:test-org\/Colour-Net .*\); pull under another name with --name, or remove it first with imgcls rm colour-net/);
    const builtin = await cli('pull', 'hf:test-org/Colour-Net', '--name', 'nsfw-mobilenet-v2', '--store', store);
    assert.equal(builtin.code, 2);
    assert.match(builtin.err[0]!, /"nsfw-mobilenet-v2" is a built-in model's name/);
  });

  test('bad arguments exit 2 with a message', async () => {
    const cases: [string[], RegExp][] = [
      [['pull', 'hf:nope'], /"hf:nope" is not a hub model: the repository must be <org>\/<repo>.*expected hf:<org>\/<repo>\[@revision\]/],
      [['pull', 'hf:a/b/c'], /is not a hub model/],
      [['pull', 'hf:a/..'], /is not a hub model/],
      [['pull', 'hf:org/repo@'], /the revision "" must be a branch, tag or commit/],
      [['pull', 'hf:org/repo', '--variant', 'int4'], /Expected one of quantized, fp16 for --variant but received "int4"/],
      [['pull', 'hf:org/repo', '--name', '../evil'], /no '\/', '\\' or '\.\.'\) for --name but received "\.\.\/evil"/],
      [['pull', 'hf:org/repo', '--labels', 'x.txt'], /--labels and --sha256 are for URLs/],
      [['pull'], /Expected one model to pull/],
      [['pull', 'resnet50'], /Expected hf:<org>\/<repo>\[@revision\] or an https URL/],
      [['pull', 'ftp://example.com/m.onnx', '--labels', 'x'], /Expected hf:<org>\/<repo>\[@revision\] or an https URL/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args, '--store', store);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err.join('\n')}`);
      assert.match(r.err[0]!, message, args.join(' '));
    }
    assert.equal(hub.requests.length, 0, 'none of these reached the network');
  });

  describe('two pulls into one name', () => {
    test('a live pull holds the name; a dead one\'s lock is taken over', async () => {
      const staging = path.join(store, 'models', '.staging');
      await mkdir(staging, { recursive: true });
      await writeFile(path.join(staging, 'colour-net.lock'), String(process.pid));
      const busy = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
      assert.equal(busy.code, 1);
      assert.match(busy.err.at(-1)!, new RegExp(`Another imgcls \\(pid ${process.pid}\\) is pulling "colour-net" into this store`));
      // A pid no process has: the pull that wrote it is gone.
      await writeFile(path.join(staging, 'colour-net.lock'), '2147483646');
      const taken = await cli('pull', 'hf:test-org/Colour-Net', '--store', store);
      assert.equal(taken.code, 0, taken.err.join('\n'));
      assert.deepEqual(await readdir(staging), []);
    });
  });
});
