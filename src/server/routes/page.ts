/**
 * The web page: `GET /` renders the upload form; `POST /` is the path
 * without JavaScript, a plain form post classified here and answered with
 * the same page and a result card per image. web/app.js enhances the form
 * to call the JSON API instead. Its files are served from web/ under
 * /static/, so the page loads nothing from anywhere else.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TOP_K } from '../../engine/postprocess.ts';
import { createError } from '../../errors.ts';
import { thumbnailJpeg } from '../../image/decode.ts';
import type { ServerContext } from '../app.ts';
import { answerFor, setRetryAfter } from '../http-errors.ts';
import { classifyImages } from '../inference.ts';
import { renderPage, type PageView, type ResultCard } from '../page-html.ts';
import { readImageRequest } from '../request-images.ts';
import { parseTopKField } from './predict.ts';

/** From src/server/routes/ (tsx) and dist/server/routes/ (built) alike. */
const WEB_ROOT = fileURLToPath(new URL('../../../web/', import.meta.url));

const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'";
const THUMBNAIL_SIDE = 320;

export const pageRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { registry, config } = ctx;

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  const view = (over: Partial<PageView> = {}): PageView => ({
    models: registry.names,
    selected: registry.defaultModel,
    topK: String(DEFAULT_TOP_K),
    limits: config.limits,
    ...over,
  });
  const html = (reply: FastifyReply, status: number, page: PageView) =>
    reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderPage(page));

  // Errors before the handler runs (a body that is not multipart) still get the page, not JSON.
  app.setErrorHandler((error, request, reply) => {
    const err = answerFor(request, error);
    setRetryAfter(reply, err);
    return html(reply, err.status, view({ error: err }));
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => html(reply, 200, view()));

  app.post('/', { schema: { hide: true } }, async (request, reply) => {
    let page = view();
    try {
      const images = await readImageRequest(request, config);
      const model = images.fields.get('model');
      const topKField = images.fields.get('top_k')?.trim() || String(DEFAULT_TOP_K);
      page = view({ topK: topKField.slice(0, 12), selected: model && registry.has(model) ? model : registry.defaultModel });
      // A file input left empty still sends one part: a file with no bytes.
      const inputs = images.inputs.filter((b) => !(b instanceof Uint8Array) || b.length > 0);
      if (inputs.length === 0) throw createError('MISSING_IMAGE', 'No image was chosen; choose one or more image files, then press Classify');
      const served = registry.get(model || undefined);
      const topK = parseTopKField(topKField);
      const out = await classifyImages(ctx, request.log, served, inputs, topK, '/', { keepBytes: true });
      const cards = await Promise.all(
        out.results.map(async (r, i): Promise<ResultCard> => {
          const title = inputs.length === 1 ? 'Your image' : `Image ${i + 1}`;
          if (!r.ok) return { title, thumbnail: null, error: { code: r.error.code, message: r.error.message } };
          return { title, thumbnail: await thumbnail(inputs[i] as Uint8Array, config.limits.maxPixels), predictions: r.predictions };
        }),
      );
      // Every image failing is the request failing; otherwise the page shows each image's fate.
      const failed = out.results.find((r) => !r.ok);
      const status = failed && out.results.every((r) => !r.ok) ? failed.error.status : 200;
      return html(reply, status, { ...page, results: { model: served.name, timing: out.timing, cards } });
    } catch (error) {
      const err = answerFor(request, error);
      // As the JSON routes do: an overloaded or loading server says when to come back.
      setRetryAfter(reply, err);
      return html(reply, err.status, { ...page, error: err });
    }
  });

  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/static/',
    decorateReply: false,
    index: false,
  });
};

async function thumbnail(bytes: Uint8Array, maxPixels: number): Promise<string | null> {
  try {
    const jpeg = await thumbnailJpeg(bytes, THUMBNAIL_SIDE, { maxPixels });
    return `data:image/jpeg;base64,${Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength).toString('base64')}`;
  } catch {
    return null;
  }
}
