/**
 * The Open Inference Protocol (KServe V2) REST routes: metadata, health,
 * inference with FP32 and BYTES inputs, JSON and binary tensor data, the
 * classification extension, and the protocol's error shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixture, testApp, type TestApp } from './helpers/server.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(async () => t.cleanup());

const infer = (payload: unknown, url = '/v2/models/colour/infer') => t.app.inject({ method: 'POST', url, payload: payload as object });

/** A uniformly coloured NCHW tensor of the colour model's 16×16 input. */
function solid(rgb: [number, number, number], batch = 1): number[] {
  const plane = 16 * 16;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) for (const c of rgb) for (let i = 0; i < plane; i++) out.push(c);
  return out;
}

/** A request in the binary tensor data extension: the JSON header, then the raw bytes. */
function binaryRequest(header: object, data: Buffer) {
  const json = Buffer.from(JSON.stringify(header));
  return {
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
    payload: Buffer.concat([json, data]),
  };
}

function lengthPrefixed(...items: Buffer[]): Buffer {
  return Buffer.concat(items.flatMap((b) => {
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return [n, b];
  }));
}

describe('server metadata and health', () => {
  test('GET /v2 names the server and the extensions it implements', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/v2' });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.name, 'imgcls');
    assert.deepEqual(body.extensions, ['binary_tensor_data', 'classification']);
  });

  test('live and ready', async () => {
    assert.deepEqual((await t.app.inject({ method: 'GET', url: '/v2/health/live' })).json(), { live: true });
    const ready = await t.app.inject({ method: 'GET', url: '/v2/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true });
  });

  test('not ready until the models are loaded', async () => {
    const loading = await testApp({ ready: false });
    try {
      const r = await loading.app.inject({ method: 'GET', url: '/v2/health/ready' });
      assert.equal(r.statusCode, 503);
      assert.deepEqual(r.json(), { ready: false });
    } finally {
      await loading.cleanup();
    }
  });

  test('model metadata lists the FP32 graph input, the BYTES image input and the output', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/v2/models/colour' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), {
      name: 'colour',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, 16, 16] },
        { name: 'image', datatype: 'BYTES', shape: [-1] },
      ],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 3] }],
    });
    const versioned = await t.app.inject({ method: 'GET', url: '/v2/models/colour/versions/1' });
    assert.deepEqual(versioned.json(), r.json());
  });

  test('model ready', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/v2/models/colour/ready' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { name: 'colour', ready: true });
  });

  test('an unknown model or version is a 404 in the protocol error shape', async () => {
    for (const url of ['/v2/models/nope', '/v2/models/nope/ready', '/v2/models/colour/versions/2', '/v2/models/colour/versions/2/ready']) {
      const r = await t.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, url);
      const body = r.json();
      assert.deepEqual(Object.keys(body), ['error'], url);
      assert.match(body.error, /MODEL_NOT_FOUND/);
    }
    const r = await infer({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['AAAA'] }] }, '/v2/models/nope/infer');
    assert.equal(r.statusCode, 404);
    assert.match(r.json().error, /No model named "nope"/);
  });
});

describe('inference with a FP32 tensor', () => {
  test('JSON data gives class-ordered probabilities per image', async () => {
    const r = await infer({ id: 'req-1', inputs: [{ name: 'pixel_values', shape: [2, 3, 16, 16], datatype: 'FP32', data: [...solid([1, 0, 0]), ...solid([0, 0, 1])] }] });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.model_name, 'colour');
    assert.equal(body.model_version, '1');
    assert.equal(body.id, 'req-1');
    const [out] = body.outputs;
    assert.equal(out.name, 'logits');
    assert.equal(out.datatype, 'FP32');
    assert.deepEqual(out.shape, [2, 3]);
    // logits are 10×channel means, so (10, 0, 0) → softmax.
    const e = Math.exp(10);
    assert.ok(Math.abs(out.data[0] - e / (e + 2)) < 1e-6);
    assert.ok(out.data[2] > 0.99 === false && out.data[5] > 0.99);
    const rowSums = [out.data.slice(0, 3), out.data.slice(3)].map((row: number[]) => row.reduce((a, b) => a + b, 0));
    for (const s of rowSums) assert.ok(Math.abs(s - 1) < 1e-5);
  });

  test('nested arrays are flattened in row-major order', async () => {
    const flat = solid([0, 1, 0]);
    const nested = [[0, 1, 2].map((c) => Array.from({ length: 16 }, (_, y) => flat.slice(c * 256 + y * 16, c * 256 + y * 16 + 16)))];
    const r = await infer({ inputs: [{ name: 'pixel_values', shape: [1, 3, 16, 16], datatype: 'FP32', data: nested }] });
    assert.equal(r.statusCode, 200);
    const scores: number[] = r.json().outputs[0].data;
    assert.equal(scores.indexOf(Math.max(...scores)), 1);
  });

  test('binary FP32 input and binary output', async () => {
    const values = new Float32Array(solid([0, 0, 1]));
    const req = binaryRequest(
      { inputs: [{ name: 'pixel_values', shape: [1, 3, 16, 16], datatype: 'FP32', parameters: { binary_data_size: values.byteLength } }], outputs: [{ name: 'logits', parameters: { binary_data: true } }] },
      Buffer.from(values.buffer),
    );
    const r = await t.app.inject({ method: 'POST', url: '/v2/models/colour/infer', ...req });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    const headerLength = Number(r.headers['inference-header-content-length']);
    const header = JSON.parse(r.rawPayload.subarray(0, headerLength).toString());
    assert.deepEqual(header.outputs[0], { name: 'logits', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } });
    const bytes = r.rawPayload.subarray(headerLength);
    assert.equal(bytes.length, 12);
    const scores = [0, 1, 2].map((i) => bytes.readFloatLE(i * 4));
    assert.equal(scores.indexOf(Math.max(...scores)), 2);
  });

  test('a shape that does not fit the graph is a 400 naming both shapes', async () => {
    const r = await infer({ inputs: [{ name: 'pixel_values', shape: [1, 16, 16, 3], datatype: 'FP32', data: solid([1, 0, 0]) }] });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /\[1,16,16,3\].*\[-1,3,16,16\]/);
  });

  test('data that does not fill the shape is a 400', async () => {
    const r = await infer({ inputs: [{ name: 'pixel_values', shape: [1, 3, 16, 16], datatype: 'FP32', data: [1, 2, 3] }] });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /768 values\) but 3 values/);
  });

  test('non-numeric FP32 data is a 400', async () => {
    const data: unknown[] = solid([1, 0, 0]);
    data[5] = 'x';
    const r = await infer({ inputs: [{ name: 'pixel_values', shape: [1, 3, 16, 16], datatype: 'FP32', data }] });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /value 5 is "x"/);
  });
});

describe('inference with BYTES images', () => {
  test('base64 images in JSON, with the classification extension', async () => {
    const images = await Promise.all(['red.jpg', 'green.png', 'blue.webp'].map(fixture));
    const r = await infer({
      inputs: [{ name: 'image', shape: [3], datatype: 'BYTES', data: images.map((b) => b.toString('base64')) }],
      outputs: [{ name: 'logits', parameters: { classification: 2 } }],
    });
    assert.equal(r.statusCode, 200);
    const [out] = r.json().outputs;
    assert.equal(out.datatype, 'BYTES');
    assert.deepEqual(out.shape, [3, 2]);
    const top = [out.data[0], out.data[2], out.data[4]].map((s: string) => s.split(':'));
    assert.deepEqual(top.map((p: string[]) => [p[1], p[2]]), [['0', 'red'], ['1', 'green'], ['2', 'blue']]);
    for (const p of top) assert.ok(Number(p[0]) > 0.5 && Number(p[0]) <= 1);
  });

  test('raw images through the binary extension', async () => {
    const images = await Promise.all(['blue.webp', 'red.jpg'].map(fixture));
    const data = lengthPrefixed(...images);
    const req = binaryRequest(
      { inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: data.length } }], outputs: [{ name: 'logits', parameters: { classification: 1 } }] },
      data,
    );
    const r = await t.app.inject({ method: 'POST', url: '/v2/models/colour/infer', ...req });
    assert.equal(r.statusCode, 200);
    const out = r.json().outputs[0];
    assert.deepEqual(out.data.map((s: string) => s.split(':').slice(1).join(':')), ['2:blue', '0:red']);
  });

  test('classification output in binary is length-prefixed strings', async () => {
    const image = await fixture('green.png');
    const r = await infer({
      inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [image.toString('base64')] }],
      outputs: [{ name: 'logits', parameters: { classification: 1, binary_data: true } }],
    });
    assert.equal(r.statusCode, 200);
    const headerLength = Number(r.headers['inference-header-content-length']);
    const bytes = r.rawPayload.subarray(headerLength);
    const length = bytes.readUInt32LE(0);
    assert.equal(length + 4, bytes.length);
    assert.match(bytes.subarray(4).toString(), /^(0\.\d+|1):1:green$/);
  });

  test('one bad image fails the tensor with a 4xx naming the element', async () => {
    const good = await fixture('red.jpg');
    const r = await infer({ inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: [good.toString('base64'), Buffer.from('not an image').toString('base64')] }] });
    assert.equal(r.statusCode, 415);
    assert.match(r.json().error, /UNSUPPORTED_MEDIA_TYPE: Input "image" element 1/);
  });

  test('invalid base64 is a 400', async () => {
    const r = await infer({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['%%%'] }] });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /INVALID_BASE64/);
  });

  test('element count must match the shape', async () => {
    const good = (await fixture('red.jpg')).toString('base64');
    const r = await infer({ inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: [good] }] });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /2 elements\) but 1 elements/);
  });

  test('a binary_data_size beyond the body is a 400', async () => {
    const req = binaryRequest({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 1000 } }] }, Buffer.alloc(10));
    const r = await t.app.inject({ method: 'POST', url: '/v2/models/colour/infer', ...req });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /binary_data_size 1000, but only 10 bytes/);
  });

  test('a cut-short length prefix is a 400', async () => {
    const data = Buffer.from([5, 0, 0, 0, 1, 2]);
    const req = binaryRequest({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: data.length } }] }, data);
    const r = await t.app.inject({ method: 'POST', url: '/v2/models/colour/infer', ...req });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /claims 5 bytes but 2 remain/);
  });
});

describe('request errors in the protocol shape', () => {
  const cases: [string, Record<string, string>, string | object, RegExp][] = [
    ['invalid JSON', { 'content-type': 'application/json' }, '{"inputs": [', /not valid JSON/],
    ['a JSON array', { 'content-type': 'application/json' }, '[]', /must be a JSON object/],
    ['no inputs', { 'content-type': 'application/json' }, { outputs: [] }, /inputs/],
    ['two inputs', { 'content-type': 'application/json' }, { inputs: [{ name: 'a', shape: [1], datatype: 'BYTES', data: [] }, { name: 'b', shape: [1], datatype: 'BYTES', data: [] }] }, /inputs/],
    ['an unsupported datatype', { 'content-type': 'application/json' }, { inputs: [{ name: 'a', shape: [1], datatype: 'INT64', data: [1] }] }, /datatype/],
    ['an unknown output', { 'content-type': 'application/json' }, { inputs: [{ name: 'pixel_values', shape: [1, 3, 16, 16], datatype: 'FP32', data: solid([1, 1, 1]) }], outputs: [{ name: 'probs' }] }, /Unexpected output "probs".*"logits"/],
    ['a header length past the body', { 'content-type': 'application/octet-stream', 'inference-header-content-length': '999' }, '{}', /Inference-Header-Content-Length is "999"/],
  ];
  for (const [name, headers, payload, message] of cases) {
    test(`${name} is a 400 with {"error": ...} only`, async () => {
      const r = await t.app.inject({ method: 'POST', url: '/v2/models/colour/infer', headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
      assert.equal(r.statusCode, 400, r.body);
      const body = r.json();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.match(body.error, message);
    });
  }

  test('V2 routes appear in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of ['/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/{model}', '/v2/models/{model}/ready', '/v2/models/{model}/infer']) {
      assert.ok(doc.paths[path], path);
    }
    assert.ok(doc.paths['/v2/models/{model}/infer'].post.requestBody.content['application/json'].schema.properties.inputs);
  });
});
