/**
 * JSON schemas shared by the routes. Fastify validates requests and
 * serialises responses with them, and the OpenAPI document is generated from
 * them, so the docs cannot drift from the code. Defaults (top_k: 5) live here
 * once.
 */
import { DEFAULT_TOP_K, TOP_K_RULE } from '../engine/postprocess.ts';
import { FILE_FIELDS } from './request-images.ts';

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error: a code from the catalogue and a message saying what was wrong and what is accepted',
  properties: {
    error: { type: 'string', description: 'Error code, e.g. CORRUPT_IMAGE' },
    message: { type: 'string' },
  },
  required: ['error', 'message'],
} as const;

/** The rule of each field whose schema Ajv cannot word well (an anyOf), for validation errors. */
export const FIELD_RULES: Readonly<Record<string, string>> = { top_k: TOP_K_RULE };

const topKSchema = {
  description: 'How many classes to return, best first; "all" returns every class',
  anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', enum: ['all'] }],
} as const;

const predictionSchema = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    index: { type: 'integer', description: 'Class index in the model output' },
    score: { type: 'number', description: 'Probability (after the model activation)' },
  },
  required: ['label', 'index', 'score'],
} as const;

const timingSchema = {
  type: 'object',
  description: 'Milliseconds spent on this request: decode (and resize), queue (waiting for a batch and a free inference worker), inference (tensor and model run), total. With several images, each stage is the slowest image\'s, since they run side by side.',
  properties: {
    decode_ms: { type: 'number' },
    queue_ms: { type: 'number' },
    inference_ms: { type: 'number' },
    total_ms: { type: 'number' },
  },
} as const;

const predictionsSchema = { type: 'array', items: predictionSchema } as const;

/** One image: predictions, or in a batch an error in its slot. */
const resultSchema = {
  type: 'object',
  properties: {
    predictions: predictionsSchema,
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const predictResponseSchema = {
  type: 'object',
  description: 'One image gives `predictions`; several (or `images`) give `results`, in request order',
  properties: {
    model: { type: 'string' },
    predictions: predictionsSchema,
    results: { type: 'array', items: resultSchema },
    timing: timingSchema,
  },
  required: ['model'],
} as const;

export const predictQuerySchema = {
  type: 'object',
  properties: { top_k: { ...topKSchema, default: DEFAULT_TOP_K } },
} as const;

export const jsonImageBodySchema = {
  type: 'object',
  description: 'Exactly one of image, images or url',
  properties: {
    image: { type: 'string', description: 'An image, base64-encoded or as a data: URL' },
    images: { type: 'array', items: { type: 'string' }, description: 'Several images, base64 or data: URLs; the answer has one result per image' },
    url: { type: 'string', format: 'uri', description: 'An http(s) URL to fetch the image from (only when the server runs with --allow-url-fetch)' },
    top_k: topKSchema,
  },
} as const;

/** For the docs only: multipart and raw bodies are read as streams by the handler, not validated by Ajv. */
export const uploadBodyDocs = {
  'multipart/form-data': {
    schema: {
      type: 'object',
      properties: {
        ...Object.fromEntries(FILE_FIELDS.map((f) => [f, { type: 'string', format: 'binary', description: f === 'file' ? 'The image; repeat the field for a batch' : 'Same as file' }])),
        top_k: { type: 'string', description: 'As the query parameter' },
      },
    },
  },
  'image/*': { schema: { type: 'string', format: 'binary', description: 'The image itself' } },
  'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'The image itself' } },
} as const;

export const modelNameParams = {
  type: 'object',
  properties: { name: { type: 'string', description: 'A served model (GET /models lists them)' } },
  required: ['name'],
} as const;

export const modelSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    default: { type: 'boolean', description: 'Answers the routes that name no model' },
    labels: { type: 'array', items: { type: 'string' } },
    input: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        layout: { type: 'string', enum: ['NCHW', 'NHWC'] },
        width: { type: ['integer', 'null'] },
        height: { type: ['integer', 'null'] },
        shape: { type: 'array', items: { type: ['integer', 'string'] } },
      },
    },
    output: {
      type: 'object',
      properties: { name: { type: 'string' }, activation: { type: 'string' }, classes: { type: 'integer' } },
    },
    preprocess: { type: 'object', additionalProperties: true, description: 'How images are resized, cropped and normalised for this model' },
    device: { type: 'string' },
    format: { type: 'string', description: 'The package layout it was loaded from: imgcls, huggingface or bare' },
  },
} as const;
