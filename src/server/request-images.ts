/**
 * Getting the images out of a request, in every form `/predict` accepts:
 * multipart files, a raw image body, or JSON with base64, data: URLs or a URL
 * to fetch. The result keeps request order; an image we could not even get
 * (bad base64, a refused URL) is an error in its slot, so a batch still runs.
 */
import type { FastifyRequest } from 'fastify';
import { createError, isImgclsError } from '../errors.ts';
import type { TopK } from '../engine/postprocess.ts';
import type { Limits, ServerConfig } from './config.ts';
import { fetchImage } from './fetch-url.ts';
import { FormParser, formBoundary, isMultipart, readForm } from './multipart.ts';
import type { ImageInput } from './inference.ts';

/** Multipart field names that carry an image: what Flask, FastAPI and TorchServe clients send. */
export const FILE_FIELDS = ['file', 'image', 'image-file', 'data'] as const;

export interface ImageRequest {
  inputs: ImageInput[];
  /** Several images (or the `images` array): answer with `results`, not `predictions`. */
  batch: boolean;
  /** Non-file multipart fields, such as `top_k` and the page's `model`. */
  fields: Map<string, string>;
  /** A JSON body's `top_k`, already typed by the route schema. */
  topK?: TopK;
}

interface JsonImageBody {
  image?: string;
  images?: string[];
  url?: string;
  top_k?: TopK;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decode base64 or a `data:` URL.
 * @throws ImgclsError INVALID_BASE64 naming where the bad data was.
 */
export function decodeBase64Image(text: string, where: string): Uint8Array {
  let payload = text;
  if (payload.startsWith('data:')) {
    const comma = payload.indexOf(',');
    if (comma < 0 || !/;base64$/i.test(payload.slice(0, comma))) {
      throw createError('INVALID_BASE64', `${where} is a data: URL without ";base64,"; send data:image/png;base64,<data> or plain base64`);
    }
    payload = payload.slice(comma + 1);
  }
  payload = payload.replace(/\s+/g, '');
  if (!BASE64.test(payload) || payload.length % 4 === 1) {
    throw createError('INVALID_BASE64', `${where} is not valid base64; send the image's bytes base64-encoded, or as a data: URL`);
  }
  // Node's base64 decoder reads the URL-safe alphabet (- and _) as well, so one pass covers both.
  return Buffer.from(payload, 'base64');
}

function attempt(f: () => Uint8Array): ImageInput {
  try {
    return f();
  } catch (err) {
    if (isImgclsError(err)) return err;
    throw err;
  }
}

/**
 * @throws ImgclsError TOO_MANY_IMAGES past the per-request limit.
 */
export function checkImageCount(count: number, limits: Limits): void {
  if (count > limits.files) throw createError('TOO_MANY_IMAGES', `${count} images in one request; the limit is ${limits.files}`);
}

async function fromJson(body: JsonImageBody, config: ServerConfig): Promise<ImageRequest> {
  const fields = new Map<string, string>();
  const topK = body.top_k;
  const given = (['image', 'images', 'url'] as const).filter((k) => body[k] !== undefined);
  if (given.length !== 1) {
    throw createError('MISSING_IMAGE', given.length === 0
      ? 'The JSON body has no image; send {"image": "<base64 or data: URL>"}, {"images": [...]} or {"url": "https://..."}'
      : `The JSON body has ${given.join(' and ')}; send exactly one of image, images or url`);
  }
  if (body.image !== undefined) return { inputs: [decodeBase64Image(body.image, 'image')], batch: false, fields, topK };
  if (body.images !== undefined) {
    if (body.images.length === 0) throw createError('MISSING_IMAGE', '"images" is empty; send at least one image');
    checkImageCount(body.images.length, config.limits);
    return { inputs: body.images.map((b, i) => attempt(() => decodeBase64Image(b, `images[${i}]`))), batch: true, fields, topK };
  }
  if (!config.urlFetch.enabled) {
    throw createError('URL_FETCH_DISABLED', 'Fetching images by URL is turned off on this server (start it with --allow-url-fetch); send the image itself instead');
  }
  const { timeoutMs, maxRedirects, allow } = config.urlFetch;
  const bytes = await fetchImage(body.url!, { maxBytes: config.limits.fileBytes, timeoutMs, maxRedirects, allow });
  return { inputs: [bytes], batch: false, fields, topK };
}

/** Largest non-file form field (top_k, the page's model name): anything longer is not one of ours. */
const FIELD_BYTES = 64 * 1024;

async function fromMultipart(request: FastifyRequest, config: ServerConfig): Promise<ImageRequest> {
  const { limits } = config;
  const parser = new FormParser(
    formBoundary(request.headers['content-type']),
    { fileBytes: limits.fileBytes, files: limits.files, fields: limits.fields, fieldBytes: FIELD_BYTES, parts: limits.parts },
    {
      sizeHint: Number(request.headers['content-length']),
      checkFile: (field) => {
        if (!(FILE_FIELDS as readonly string[]).includes(field)) {
          throw createError('INVALID_REQUEST', `Unexpected file field "${field.slice(0, 40)}"; send images in a field named ${FILE_FIELDS.join(', ')}`);
        }
      },
    },
  );
  const form = await readForm(request.raw, parser);
  if (form.files.length === 0) {
    throw createError('MISSING_IMAGE', `The form has no image; send the image in a file field named ${FILE_FIELDS.join(', ')}`);
  }
  return { inputs: form.files.map((f) => f.data), batch: form.files.length > 1, fields: form.fields };
}

/**
 * Read the images of a `/predict`-style request.
 * @throws ImgclsError MISSING_IMAGE, INVALID_REQUEST, TOO_MANY_IMAGES,
 * URL_FETCH_DISABLED, URL_NOT_ALLOWED, URL_FETCH_FAILED, or the form's
 * limit errors, PAYLOAD_TOO_LARGE (multipart.ts).
 */
export async function readImageRequest(request: FastifyRequest, config: ServerConfig): Promise<ImageRequest> {
  if (isMultipart(request.headers['content-type'])) return fromMultipart(request, config);
  const body = request.body;
  if (body instanceof Uint8Array) return { inputs: [body], batch: false, fields: new Map() };
  if (body !== null && typeof body === 'object') return fromJson(body as JsonImageBody, config);
  throw createError('MISSING_IMAGE', 'The request has no image; send multipart/form-data with a "file" field, a raw image/* body, or JSON');
}

