/**
 * The Open Inference Protocol (KServe V2) over REST, so imgcls can stand in
 * for Triton or a KServe predictor. Inputs are a FP32 tensor already
 * preprocessed for the graph, or a BYTES tensor of encoded images (base64 in
 * JSON, or raw through the binary tensor data extension). Triton's
 * classification extension turns scores into "score:index:label" strings.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createError } from '../../errors.ts';
import { VERSION } from '../../version.ts';
import type { ServerContext } from '../app.ts';
import { topK } from '../../engine/postprocess.ts';
import { classifyImages, refuseWhenSaturated, scoreTensor } from '../inference.ts';
import { checkImageCount } from '../request-images.ts';
import type { ServedModel } from '../registry.ts';
import { bad, BinaryReader, encodeResponse, readBytes, readFp32, type V2Output, type V2Tensor } from '../v2-tensors.ts';

/** The extensions this server implements, as `GET /v2` reports them. */
const V2_EXTENSIONS = ['binary_tensor_data', 'classification'] as const;

const BINARY = Symbol('binary');
const HEADER_LENGTH = 'inference-header-content-length';

interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Tensor[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
  [BINARY]?: Uint8Array;
}

const tensorSchema = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: { type: 'string', enum: ['FP32', 'BYTES'], description: 'FP32: a preprocessed tensor for the graph input; BYTES: encoded images' },
    parameters: { type: 'object', additionalProperties: true },
    data: { type: 'array', description: 'Row-major values (nested arrays are flattened); BYTES elements are base64 strings' },
  },
} as const;

const inferRequestSchema = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: { type: 'object', additionalProperties: true },
    inputs: { type: 'array', minItems: 1, maxItems: 1, items: tensorSchema, description: 'Exactly one input' },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          parameters: {
            type: 'object',
            additionalProperties: true,
            properties: {
              classification: { type: 'integer', minimum: 1, description: 'Return the top k classes as "score:index:label" BYTES' },
              binary_data: { type: 'boolean', description: 'Return this output in the binary tensor data extension' },
            },
          },
        },
      },
    },
  },
} as const;

const outputTensorSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
    datatype: { type: 'string' },
    parameters: { type: 'object', additionalProperties: true },
    data: { type: 'array', items: { type: ['number', 'string'] } },
  },
} as const;

const inferResponseSchema = {
  type: 'object',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    outputs: { type: 'array', items: outputTensorSchema },
  },
} as const;

const metadataTensor = { type: 'object', properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } } } as const;
const v2Error = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const;
const modelParams = {
  type: 'object',
  properties: { model: { type: 'string' }, version: { type: 'string' } },
  required: ['model'],
} as const;

/** Symbolic dimensions are -1 in the protocol. */
const dims = (shape: readonly (number | string)[]): number[] => shape.map((d) => (typeof d === 'number' ? d : -1));

function metadata(model: ServedModel) {
  const { spec, input } = model.classifier;
  return {
    name: model.name,
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [
      { name: spec.inputName, datatype: 'FP32', shape: dims(input.shape) },
      { name: 'image', datatype: 'BYTES', shape: [-1] },
    ],
    outputs: [{ name: spec.outputName, datatype: 'FP32', shape: [-1, spec.labels.length] }],
  };
}

function checkVersion(version: string | undefined): void {
  if (version !== undefined && version !== '1') throw createError('MODEL_NOT_FOUND', `Version "${version}" does not exist; imgcls serves version 1 of each model`);
}

/** Check a FP32 tensor's shape against the graph input before onnxruntime sees it (its error would be a 500). */
function checkShape(model: ServedModel, t: V2Tensor): void {
  const expected = model.classifier.input.shape;
  const fits = t.shape.length === expected.length && expected.every((d, i) => typeof d !== 'number' || d === t.shape[i]);
  if (!fits || t.shape[0] === 0) throw bad(`Input "${t.name}" has shape [${t.shape}]; model "${model.name}" takes FP32 [${dims(expected)}] (-1 is any size)`);
}

/** One row of class-ordered scores per image. */
async function scores(ctx: ServerContext, model: ServedModel, t: V2Tensor, binary: BinaryReader, request: FastifyRequest): Promise<Float64Array[]> {
  if (t.datatype === 'FP32') {
    checkShape(model, t);
    return scoreTensor(ctx, model, readFp32(t, binary), t.shape);
  }
  const images = readBytes(t, binary);
  if (images.length === 0) throw bad(`Input "${t.name}" holds no images`);
  checkImageCount(images.length, ctx.config.limits);
  const out = await classifyImages(ctx, request.log, model, images, 'all', '/v2/models/:model/infer');
  return out.results.map((r, i) => {
    // A tensor has no holes: one bad image fails the request, naming which.
    if (!r.ok) throw createError(r.error.code, `Input "${t.name}" element ${i}: ${r.error.message}`);
    const row = new Float64Array(model.classifier.spec.labels.length);
    for (const p of r.predictions) row[p.index] = p.score;
    return row;
  });
}

function outputsFor(model: ServedModel, body: InferRequest, rows: Float64Array[]): V2Output[] {
  const { spec } = model.classifier;
  const requested = body.outputs ?? [{ name: spec.outputName }];
  return requested.map((o) => {
    if (o.name !== spec.outputName) throw bad(`Unexpected output "${o.name}"; model "${model.name}" has output "${spec.outputName}"`);
    const k = o.parameters?.classification;
    if (k === undefined) {
      return { name: o.name, datatype: 'FP32', shape: [rows.length, spec.labels.length], data: rows.flatMap((r) => Array.from(r, Math.fround)) };
    }
    const n = Math.min(Number(k), spec.labels.length);
    const data = rows.flatMap((row) => topK(row, spec.labels, n).map((p) => `${Math.fround(p.score)}:${p.index}:${p.label}`));
    return { name: o.name, datatype: 'BYTES', shape: [rows.length, n], data };
  });
}

export const v2Routes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { registry, config } = ctx;

  // The binary extension puts raw tensor bytes after the JSON header, so the
  // body is read as bytes and split at Inference-Header-Content-Length.
  // This parser only applies inside this plugin.
  app.removeContentTypeParser(['application/json', 'application/octet-stream']);
  app.addContentTypeParser(['application/json', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: config.limits.jsonBytes }, (request, raw, done) => {
    const body = raw as Buffer;
    const given = request.headers[HEADER_LENGTH];
    const length = given === undefined ? body.length : Number(given);
    if (!Number.isInteger(length) || length < 0 || length > body.length) {
      return done(bad(`Inference-Header-Content-Length is "${String(given)}"; it must be the JSON header's byte length, at most the body's ${body.length}`));
    }
    let header: unknown;
    try {
      header = JSON.parse(body.subarray(0, length).toString('utf8'));
    } catch (err) {
      return done(bad(`The inference request header is not valid JSON: ${(err as Error).message}`));
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) return done(bad('The inference request must be a JSON object'));
    (header as InferRequest)[BINARY] = body.subarray(length);
    done(null, header);
  });

  const tags = ['v2'];
  const serverMeta = { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } } };
  app.get('', { schema: { tags, summary: 'Server metadata and supported extensions', response: { 200: serverMeta } } }, async () => ({ name: 'imgcls', version: VERSION, extensions: [...V2_EXTENSIONS] }));
  app.get('/health/live', { schema: { tags, summary: 'Server liveness', response: { 200: { type: 'object', properties: { live: { type: 'boolean' } } } } } }, async () => ({ live: true }));
  const readiness = { type: 'object', properties: { ready: { type: 'boolean' } } };
  app.get('/health/ready', { schema: { tags, summary: 'Server readiness: every model loaded, not shutting down', response: { 200: readiness, 503: readiness } } }, async (_request, reply) => {
    const ready = ctx.ready();
    return reply.status(ready ? 200 : 503).send({ ready });
  });

  type ModelRoute = FastifyRequest<{ Params: { model: string; version?: string } }>;
  const modelMetadata = async (request: ModelRoute) => {
    checkVersion(request.params.version);
    return metadata(registry.get(request.params.model));
  };
  const modelReady = async (request: ModelRoute) => {
    checkVersion(request.params.version);
    return { name: registry.get(request.params.model).name, ready: true };
  };
  const infer = async (request: ModelRoute, reply: FastifyReply) => {
    checkVersion(request.params.version);
    const model = registry.get(request.params.model);
    const body = request.body as InferRequest;
    const binary = new BinaryReader(body[BINARY] ?? new Uint8Array());
    const rows = await scores(ctx, model, body.inputs[0]!, binary, request);
    const outputs = outputsFor(model, body, rows);
    const allBinary = body.parameters?.binary_data_output === true;
    const wanted = new Map((body.outputs ?? []).map((o) => [o.name, o.parameters?.binary_data]));
    const header = { model_name: model.name, model_version: '1', ...(body.id !== undefined ? { id: body.id } : {}) };
    const encoded = encodeResponse(header, outputs, (o) => wanted.get(o.name) === true || (allBinary && wanted.get(o.name) !== false));
    if (!('binary' in encoded)) return reply.type('application/json; charset=utf-8').send(encoded.json);
    const json = Buffer.from(encoded.json, 'utf8');
    return reply.type('application/octet-stream').header('Inference-Header-Content-Length', String(json.length)).send(Buffer.concat([json, encoded.binary]));
  };

  const metaSchema = { tags, params: modelParams, response: { 200: { type: 'object', properties: { name: { type: 'string' }, versions: { type: 'array', items: { type: 'string' } }, platform: { type: 'string' }, inputs: { type: 'array', items: metadataTensor }, outputs: { type: 'array', items: metadataTensor } } }, '4xx': v2Error } };
  const readySchema = { tags, params: modelParams, response: { 200: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } }, '4xx': v2Error } };
  const inferSchema = {
    tags,
    params: modelParams,
    body: { content: { 'application/json': { schema: inferRequestSchema }, 'application/octet-stream': { schema: inferRequestSchema } } },
    // The body may be binary, so the response is sent pre-serialised; the schema documents the JSON form.
    response: { 200: { description: 'Inference response (JSON; with binary outputs, the JSON header then the bytes)', content: { 'application/json': { schema: inferResponseSchema } } }, '4xx': v2Error, '5xx': v2Error },
  };
  for (const prefix of ['/models/:model', '/models/:model/versions/:version']) {
    app.get(prefix, { schema: { ...metaSchema, summary: 'Model metadata: inputs and outputs' } }, modelMetadata);
    app.get(`${prefix}/ready`, { schema: { ...readySchema, summary: 'Model readiness' } }, modelReady);
    app.post(`${prefix}/infer`, { schema: { ...inferSchema, summary: 'Inference: a FP32 tensor or BYTES images in, scores or classifications out' }, onRequest: refuseWhenSaturated(registry) }, infer);
  }
};
