/**
 * Issue 7's battery, input side: one real `imgcls serve` process takes every
 * hostile or malformed request below over real sockets. Each case asserts
 * its status and catalogue code; after each, the process is alive and
 * /healthz answers within a second; at the end its peak memory grew by less
 * than 100 MB and it wrote nothing outside the --save-uploads directory.
 *
 * The URL-fetching cases (9) are in server-url-fetch.test.ts, overload,
 * shutdown and bad models (11-13) in hardening-lifecycle.test.ts, fuzzing
 * (14) in fuzz.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { getOnce, sleep, startServer, type ServerHandle } from '../scripts/lib/server-process.ts';
import { animation, jpegClaiming, pngBomb, solidPng } from './helpers/hostile.ts';
import { colourModel, COLOURS, identityModel, tempDir, writeBarePackage } from './helpers/models.ts';
import { assertFetchError, assertRawError, exchange, head, sendWhole } from './helpers/raw-http.ts';
import { fixture, LABELLED_FIXTURES } from './helpers/server.ts';

const MiB = 1024 * 1024;
const FILE_LIMIT = 2 * MiB;
const HEADER_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2500;
const IDENTITY_SIZE = 4;

let server: ServerHandle;
let work: { dir: string; cleanup: () => Promise<void> };
let baselineHwmMB = 0;

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

const predictUrl = (route = '/predict') => `${server.url}${route}`;
const IDENTITY_ALL = '/models/identity/predict?top_k=all';

/** multipart/form-data by hand: fetch's FormData escapes filenames, and some cases need what it will not write. */
function multipart(parts: { name: string; filename?: string; type?: string; data: Buffer | string }[], boundary = 'hardeningBoundary42'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`, 'latin1'));
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function postFile(data: Buffer, type = 'application/octet-stream', filename = 'upload.bin', route = '/predict'): Promise<Response> {
  const { body, contentType } = multipart([{ name: 'file', filename, type, data }]);
  return fetch(predictUrl(route), { method: 'POST', body, headers: { 'content-type': contentType } });
}

/** The identity model's scores in tensor order (labels v0, v1, ...). */
function identityScores(predictions: { label: string; score: number }[]): number[] {
  return [...predictions].sort((a, b) => Number(a.label.slice(1)) - Number(b.label.slice(1))).map((p) => p.score);
}

async function expectClassified(response: Response): Promise<{ predictions: { label: string; score: number }[] }> {
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const json = JSON.parse(text) as { predictions: { label: string; score: number }[] };
  assert.ok(json.predictions.length > 0);
  return json;
}

before(async () => {
  work = await tempDir('imgcls-hardening-');
  const models = path.join(work.dir, 'models');
  await writeBarePackage(path.join(models, 'colour'), colourModel({ size: 16 }), 'labels.txt', COLOURS);
  const pixels = Array.from({ length: 3 * IDENTITY_SIZE * IDENTITY_SIZE }, (_, i) => `v${i}`);
  await writeBarePackage(path.join(models, 'identity'), identityModel(IDENTITY_SIZE), 'labels.txt', pixels);
  const cwd = path.join(work.dir, 'cwd');
  await mkdir(path.join(cwd, 'tmp'), { recursive: true });
  server = await startServer(
    [
      ...['--model', `colour=${path.join(models, 'colour')}`, '--model', `identity=${path.join(models, 'identity')}`],
      ...['--workers', '1', '--save-uploads', path.join(cwd, 'uploads'), '--max-file-size', `${FILE_LIMIT}`, '--max-files', '4', '--max-fields', '4', '--max-parts', '6'],
      ...['--header-timeout', String(HEADER_TIMEOUT_MS), '--request-timeout', String(REQUEST_TIMEOUT_MS)],
    ],
    // Temporary files (libvips, Node) and caches (onnxruntime's telemetry, were it on) land under cwd too, where the last check looks.
    { cwd, env: { ...process.env, TMPDIR: path.join(cwd, 'tmp'), HOME: path.join(cwd, 'home'), XDG_CACHE_HOME: path.join(cwd, 'cache') }, readyTimeoutMs: 60_000 },
  );
  // Warm up (first decode, first inference), then take the memory baseline.
  for (const f of ['red.jpg', 'green.png', 'photo-chelsea.jpg']) await expectClassified(await postFile(await fixture(f)));
  baselineHwmMB = (await server.memory())!.hwmMB;
});

after(async () => {
  const status = await server.stop();
  await work.cleanup();
  assert.deepEqual(status, { code: 0, signal: null }, server.stderr());
});

afterEach(async () => {
  assert.ok(server.alive(), `the server died:\n${server.stderr()}`);
  const started = performance.now();
  const health = await getOnce(`${server.url}/healthz`, 1000);
  assert.equal(health.status, 200);
  assert.ok(performance.now() - started < 1000);
});

describe('1. valid uploads get 200', () => {
  for (const [file, type, label] of [['red.jpg', 'image/jpeg', 'red'] as const, ...LABELLED_FIXTURES]) {
    test(`${file} is ${label}`, async () => {
      const json = await expectClassified(await postFile(await fixture(file), type, file));
      assert.equal(json.predictions[0]!.label, label);
    });
  }
  for (const file of ['grey.png', 'grey-alpha.png']) {
    test(`${file} (greyscale) is classified`, async () => {
      await expectClassified(await postFile(await fixture(file), 'image/png', file));
    });
  }
  test('a JPEG with EXIF orientation 6 gives the model exactly the tensor of its physically rotated copy', async () => {
    // The identity model's scores are a softmax of the pixels it was fed, in order.
    const scores = async (file: string) => {
      const json = await expectClassified(await postFile(await fixture(file), 'image/jpeg', file, IDENTITY_ALL));
      return Object.fromEntries(json.predictions.map((p) => [p.label, p.score]));
    };
    const oriented = await scores('orientation-6.jpg');
    const rotated = await scores('orientation-rotated.jpg');
    // Two JPEGs of one picture differ by compression noise; a wrong orientation moves whole halves (tenfold this).
    for (const [label, score] of Object.entries(rotated)) assert.ok(Math.abs(score - oriented[label]!) < 0.005, `${label}: ${score} vs ${oriented[label]}`);
  });
});

describe('2. empty, truncated and broken files', () => {
  test('a zero-byte file is 400 EMPTY_IMAGE', async () => {
    await assertFetchError(await postFile(Buffer.alloc(0), 'image/jpeg'), 'EMPTY_IMAGE');
  });
  test('a truncated JPEG is 422 CORRUPT_IMAGE', async () => {
    await assertFetchError(await postFile(await fixture('truncated.jpg'), 'image/jpeg'), 'CORRUPT_IMAGE');
  });
  test('a PNG with broken data is 422 CORRUPT_IMAGE', async () => {
    await assertFetchError(await postFile(await fixture('broken.png'), 'image/png'), 'CORRUPT_IMAGE');
  });
});

describe('3. non-images', () => {
  test('text labelled image/png is 415', async () => {
    await assertFetchError(await postFile(Buffer.from('hello, this is not a picture\n'.repeat(20)), 'image/png', 'x.png'), 'UNSUPPORTED_MEDIA_TYPE');
  });
  test('random bytes labelled image/png are 415', async () => {
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));
    await assertFetchError(await postFile(random, 'image/png', 'x.png'), 'UNSUPPORTED_MEDIA_TYPE');
  });
  test('SVG is refused: 415 saying so', async () => {
    const body = await assertFetchError(await postFile(await fixture('drawing.svg'), 'image/svg+xml', 'x.svg'), 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(body.message, /SVG is not accepted/);
  });
});

describe('4. decompression bombs are refused from their headers', () => {
  test('a 20000x20000 single-colour PNG (about 1 MB) is 413 IMAGE_TOO_LARGE', async () => {
    const bomb = await pngBomb(20_000);
    assert.ok(bomb.length < FILE_LIMIT, `${bomb.length} bytes: within the upload limit, so only the pixel check stops it`);
    const body = await assertFetchError(await postFile(bomb, 'image/png', 'bomb.png'), 'IMAGE_TOO_LARGE');
    assert.match(body.message, /20000x20000/);
  });
  test('a JPEG whose header claims 65500x65500 is 413 IMAGE_TOO_LARGE', async () => {
    const body = await assertFetchError(await postFile(jpegClaiming(await fixture('red.jpg'), 65500, 65500), 'image/jpeg', 'bomb.jpg'), 'IMAGE_TOO_LARGE');
    assert.match(body.message, /65500x65500/);
  });
  test('the same bombs as raw and base64 JSON bodies', async () => {
    const jpeg = jpegClaiming(await fixture('red.jpg'), 65500, 65500);
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } }), 'IMAGE_TOO_LARGE');
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body: JSON.stringify({ image: jpeg.toString('base64') }), headers: { 'content-type': 'application/json' } }), 'IMAGE_TOO_LARGE');
  });
  test('resident memory grew by less than 100 MB through them', async () => {
    const { hwmMB } = (await server.memory())!;
    assert.ok(hwmMB - baselineHwmMB < 100, `peak RSS ${hwmMB.toFixed(0)} MB against ${baselineHwmMB.toFixed(0)} MB before`);
  });
});

describe('5. animations with thousands of frames: the first frame only', () => {
  for (const format of ['gif', 'webp'] as const) {
    test(`a 5000-frame animated ${format} is classified from its first frame`, async () => {
      const frames = await animation(format, 5000);
      // Frame 0 is black and every later frame a different grey: the identity model (NCHW, labels v0..v47) shows what it was fed.
      const scores = identityScores((await expectClassified(await postFile(frames, `image/${format}`, `anim.${format}`, IDENTITY_ALL))).predictions);
      const black = identityScores((await expectClassified(await postFile(await solidPng(0), 'image/png', 'black.png', IDENTITY_ALL))).predictions);
      assert.deepEqual(scores.map((s) => s.toFixed(5)), black.map((s) => s.toFixed(5)));
      const { hwmMB } = (await server.memory())!;
      assert.ok(hwmMB - baselineHwmMB < 100, `peak RSS ${hwmMB.toFixed(0)} MB against ${baselineHwmMB.toFixed(0)} MB before`);
    });
  }
});

describe('6. size and count limits, malformed multipart', () => {
  test('a file over --max-file-size is 413 PAYLOAD_TOO_LARGE', async () => {
    await assertFetchError(await postFile(Buffer.alloc(FILE_LIMIT + 1, 1), 'image/jpeg'), 'PAYLOAD_TOO_LARGE');
  });
  test('a raw body over --max-file-size is 413 before it is read', async () => {
    // The head alone claims too much; no body follows, so only an early answer can come back.
    // Staying connected past the request timeout must not bring a second answer.
    const r = await exchange(server.url, (s) => void s.write(head('POST', '/predict', { 'content-type': 'image/jpeg', 'content-length': FILE_LIMIT + 1 })), REQUEST_TIMEOUT_MS + 2500);
    assertRawError(r, 'PAYLOAD_TOO_LARGE');
    assert.equal(r!.statusLines, 1);
  });
  test('more files than --max-files is 413 TOO_MANY_IMAGES', async () => {
    const red = await fixture('red.jpg');
    const { body, contentType } = multipart(Array.from({ length: 5 }, () => ({ name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: red })));
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body, headers: { 'content-type': contentType } }), 'TOO_MANY_IMAGES');
  });
  test('more fields than --max-fields is 413', async () => {
    const { body, contentType } = multipart([...Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: 'x' })), { name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: await fixture('red.jpg') }]);
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body, headers: { 'content-type': contentType } }), 'PAYLOAD_TOO_LARGE');
  });
  test('more parts than --max-parts is 413', async () => {
    const red = await fixture('red.jpg');
    const parts = [...Array.from({ length: 4 }, (_, i) => ({ name: `f${i}`, data: 'x' })), ...Array.from({ length: 3 }, () => ({ name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: red }))];
    const { body, contentType } = multipart(parts);
    const r = await fetch(predictUrl(), { method: 'POST', body, headers: { 'content-type': contentType } });
    await assertFetchError(r, 'PAYLOAD_TOO_LARGE');
  });
  test('multipart without a boundary is 400', async () => {
    const r = await sendWhole(server.url, 'POST', '/predict', { 'content-type': 'multipart/form-data' }, 'whatever');
    assertRawError(r, 'INVALID_REQUEST');
  });
  test('an over-long boundary (over RFC 2046\'s 70 characters) is 400', async () => {
    const { body, contentType } = multipart([{ name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: await fixture('red.jpg') }], 'b'.repeat(71));
    const json = await assertFetchError(await fetch(predictUrl(), { method: 'POST', body, headers: { 'content-type': contentType } }), 'INVALID_REQUEST');
    assert.match(json.message, /boundary/);
  });
  test('a body that closes prematurely is 400', async () => {
    const { body, contentType } = multipart([{ name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: await fixture('red.jpg') }]);
    const cut = body.subarray(0, body.length - 40);
    assertRawError(await sendWhole(server.url, 'POST', '/predict', { 'content-type': contentType }, cut), 'INVALID_REQUEST');
  });
  test('a part that is not form-data (which stalled @fastify/busboy once over 16 KiB) is 400 naming the rule, at once', async () => {
    const photo = await fixture('photo-chelsea.jpg');
    assert.ok(photo.length > 16 * 1024);
    const boundary = 'stallBoundary';
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: attachment; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), photo, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const started = performance.now();
    const r = await sendWhole(server.url, 'POST', '/predict', { 'content-type': `multipart/form-data; boundary=${boundary}` }, body);
    assertRawError(r, 'INVALID_REQUEST');
    assert.match(JSON.parse(r!.body).message as string, /"Content-Disposition: attachment"; each part must be "Content-Disposition: form-data/);
    assert.ok(performance.now() - started < REQUEST_TIMEOUT_MS, 'answered before the request timeout');
  });
  for (const name of ['__proto__', 'constructor']) {
    test(`a field named ${name} is refused with 400, and pollutes nothing`, async () => {
      // The form reader refuses these names outright, though a Map holds the fields anyway (multipart.ts).
      const { body, contentType } = multipart([
        { name, data: '{"polluted": true}' },
        { name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: await fixture('red.jpg') },
      ]);
      await assertFetchError(await fetch(predictUrl(), { method: 'POST', body, headers: { 'content-type': contentType } }), 'INVALID_REQUEST');
      // Later requests, fields included, behave normally.
      const normal = multipart([{ name: 'top_k', data: '1' }, { name: 'file', filename: 'g.png', type: 'image/png', data: await fixture('green.png') }]);
      const json = await expectClassified(await fetch(predictUrl(), { method: 'POST', body: normal.body, headers: { 'content-type': normal.contentType } }));
      assert.deepEqual(json.predictions.map((p) => p.label), ['green']);
    });
  }
  test('__proto__ as the file field name is 400 naming the accepted names', async () => {
    const { body, contentType } = multipart([{ name: '__proto__', filename: 'r.jpg', type: 'image/jpeg', data: await fixture('red.jpg') }]);
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body, headers: { 'content-type': contentType } }), 'INVALID_REQUEST');
  });
});

describe('7. JSON bodies', () => {
  test('an oversized JSON body is 413 before it is read', async () => {
    const r = await exchange(server.url, (s) => void s.write(head('POST', '/predict', { 'content-type': 'application/json', 'content-length': 64 * MiB })));
    assertRawError(r, 'PAYLOAD_TOO_LARGE');
  });
  test('invalid base64 is 400 INVALID_BASE64', async () => {
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body: JSON.stringify({ image: '@@not base64@@' }), headers: { 'content-type': 'application/json' } }), 'INVALID_BASE64');
  });
  test('an unknown content type is 415', async () => {
    await assertFetchError(await fetch(predictUrl(), { method: 'POST', body: 'a,b\n1,2\n', headers: { 'content-type': 'text/csv' } }), 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('8. client filenames never reach the file system', () => {
  const names = ['../../x.jpg', '/etc/passwd', 'a\u0000b.jpg', `${'n'.repeat(300)}.jpg`, '..\\..\\win.jpg'];
  for (const name of names) {
    test(`filename ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}...(${name.length})` : name)} is classified and stored under a generated name`, async () => {
      await expectClassified(await postFile(await fixture('red.jpg'), 'image/jpeg', name));
    });
  }
  test('the uploads directory holds only generated names, and nothing was written anywhere else', async () => {
    const cwd = path.join(work.dir, 'cwd');
    const files = await filesUnder(cwd);
    assert.ok(files.length > 0);
    for (const f of files) assert.match(f, /^uploads\/[\w-]+\.(jpg|png|json)$/, `${f} is not a generated upload name`);
    assert.deepEqual(await filesUnder(path.join(work.dir, 'models')), ['colour/labels.txt', 'colour/model.onnx', 'identity/labels.txt', 'identity/model.onnx']);
  });
});

describe('10. slow clients are cut by the timeouts while others are served', () => {
  test('headers that never finish get 408 REQUEST_TIMEOUT and a closed connection', async () => {
    const slow = exchange(server.url, (s) => void s.write('POST /predict HTTP/1.1\r\nHost: localhost\r\nX-Slow: '));
    // Meanwhile a normal request is served.
    await sleep(200);
    assert.equal((await expectClassified(await postFile(await fixture('red.jpg'), 'image/jpeg'))).predictions[0]!.label, 'red');
    const r = await slow;
    assertRawError(r, 'REQUEST_TIMEOUT');
    assert.ok(r!.closedByServer);
    assert.ok(r!.closedAfterMs >= HEADER_TIMEOUT_MS - 50 && r!.closedAfterMs < HEADER_TIMEOUT_MS + 3000, `closed after ${r!.closedAfterMs} ms`);
  });
  test('a body that stalls half-way gets 408 REQUEST_TIMEOUT and a closed connection', async () => {
    const red = await fixture('red.jpg');
    const slow = exchange(server.url, (s) => {
      s.write(head('POST', '/predict', { 'content-type': 'image/jpeg', 'content-length': red.length }));
      s.write(red.subarray(0, red.length >> 1));
    });
    await sleep(200);
    assert.equal((await expectClassified(await postFile(await fixture('green.png'), 'image/png'))).predictions[0]!.label, 'green');
    const r = await slow;
    assertRawError(r, 'REQUEST_TIMEOUT');
    assert.ok(r!.closedByServer);
    assert.ok(r!.closedAfterMs >= REQUEST_TIMEOUT_MS - 50 && r!.closedAfterMs < REQUEST_TIMEOUT_MS + 3000, `closed after ${r!.closedAfterMs} ms`);
  });
  test('a multipart body that trickles forever is cut too', async () => {
    const { body, contentType } = multipart([{ name: 'file', filename: 'r.jpg', type: 'image/jpeg', data: await fixture('red.jpg') }]);
    let timer: NodeJS.Timeout | undefined;
    const r = await exchange(server.url, (s) => {
      s.write(head('POST', '/predict', { 'content-type': contentType, 'content-length': body.length }));
      let at = 0;
      timer = setInterval(() => {
        if (at < body.length - 1 && !s.destroyed) s.write(body.subarray(at, ++at));
      }, 100);
    });
    clearInterval(timer);
    assertRawError(r, 'REQUEST_TIMEOUT');
  });
  test('malformed HTTP is 400 in the catalogue shape', async () => {
    const r = await exchange(server.url, (s) => void s.write('THIS IS NOT HTTP\r\n\r\n'));
    assertRawError(r, 'INVALID_REQUEST');
  });
});
