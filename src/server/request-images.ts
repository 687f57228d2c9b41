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

/** RFC 2046: a multipart boundary is 1 to 70 characters. Longer ones only serve to make the parser's search slower. */
const MAX_BOUNDARY = 70;

function checkBoundary(contentType: string | undefined): void {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  if (!m) throw createError('INVALID_REQUEST', 'Malformed multipart body: the Content-Type has no boundary parameter');
  const boundary = m[1] ?? m[2] ?? '';
  if (boundary.length < 1 || boundary.length > MAX_BOUNDARY) {
    throw createError('INVALID_REQUEST', `Malformed multipart body: the boundary is ${boundary.length} characters; RFC 2046 allows 1 to ${MAX_BOUNDARY}`);
  }
}

/**
 * Stop parsing the form and let the rest of the body drain. Given up on
 * part-way (an unexpected field, a limit), busboy stays piped from the
 * request, holding parts nobody will read, and pauses the socket for good:
 * the request never ends, so its keep-alive connection stalls and a graceful
 * shutdown waits on it. Node's own drain for unread bodies does not apply
 * once a body has been piped.
 */
function discardRest(request: FastifyRequest): void {
  request.raw.unpipe();
  request.raw.resume();
}

/** How often, and for how long after the whole body has arrived, the multipart parser may make no progress. */
const STALL_CHECK_MS = 250;
const STALL_AFTER_BODY_MS = 1000;

/**
 * Rejects when the whole body has arrived and the multipart parser has still
 * not finished a second later. @fastify/busboy 3.2 stalls for ever on a part
 * whose Content-Disposition is not form-data once it exceeds 16 KiB; the body
 * is then complete, so Node's request timeout (which covers bodies still
 * arriving) never fires, and the connection would be held until the client
 * gave up.
 */
function stallWatch(request: FastifyRequest): { stalled: Promise<never>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    let completeSince: number | null = null;
    timer = setInterval(() => {
      if (!request.raw.complete) return;
      completeSince ??= Date.now();
      if (Date.now() - completeSince >= STALL_AFTER_BODY_MS) {
        reject(createError('INVALID_REQUEST', 'Malformed multipart body: the parser could not get through it (is every part "Content-Disposition: form-data"?)'));
      }
    }, STALL_CHECK_MS);
  });
  // Nobody listens once parsing has finished first.
  stalled.catch(() => {});
  return { stalled, stop: () => clearInterval(timer) };
}

async function fromMultipart(request: FastifyRequest, config: ServerConfig): Promise<ImageRequest> {
  checkBoundary(request.headers['content-type']);
  const { limits } = config;
  const inputs: ImageInput[] = [];
  // A Map, not an object: field names such as __proto__ must stay plain keys.
  const fields = new Map<string, string>();
  const parts = request.parts({
    limits: { fileSize: limits.fileBytes, files: limits.files, fields: limits.fields, parts: limits.parts, fieldSize: 64 * 1024 },
  });
  const collect = async () => {
    for await (const part of parts) {
      if (part.type === 'file') {
        if (!(FILE_FIELDS as readonly string[]).includes(part.fieldname)) {
          // Drain it so the parser can go on to tell us about the rest.
          part.file.resume();
          throw createError('INVALID_REQUEST', `Unexpected file field "${part.fieldname}"; send images in a field named ${FILE_FIELDS.join(', ')}`);
        }
        inputs.push(await part.toBuffer());
      } else {
        fields.set(part.fieldname, String(part.value));
      }
    }
  };
  const watch = stallWatch(request);
  const parsing = collect();
  // When the stall watch wins, a late failure of the abandoned parse must not become an unhandled rejection.
  parsing.catch(() => {});
  try {
    await Promise.race([parsing, watch.stalled]);
  } catch (err) {
    discardRest(request);
    // The parser's own limit errors carry a status; busboy's syntax errors are plain Errors and mean a malformed body.
    if (isImgclsError(err) || (err as { statusCode?: number }).statusCode !== undefined) throw err;
    throw createError('INVALID_REQUEST', `Malformed multipart body: ${(err as Error).message}`, err);
  } finally {
    watch.stop();
  }
  if (inputs.length === 0) {
    throw createError('MISSING_IMAGE', `The form has no image; send the image in a file field named ${FILE_FIELDS.join(', ')}`);
  }
  return { inputs, batch: inputs.length > 1, fields };
}

/**
 * Read the images of a `/predict`-style request.
 * @throws ImgclsError MISSING_IMAGE, INVALID_REQUEST, TOO_MANY_IMAGES,
 * URL_FETCH_DISABLED, URL_NOT_ALLOWED, URL_FETCH_FAILED, or the multipart
 * parser's limit errors (mapped by the app's error handler).
 */
export async function readImageRequest(request: FastifyRequest, config: ServerConfig): Promise<ImageRequest> {
  if (request.isMultipart()) return fromMultipart(request, config);
  const body = request.body;
  if (body instanceof Uint8Array) return { inputs: [body], batch: false, fields: new Map() };
  if (body !== null && typeof body === 'object') return fromJson(body as JsonImageBody, config);
  throw createError('MISSING_IMAGE', 'The request has no image; send multipart/form-data with a "file" field, a raw image/* body, or JSON');
}

