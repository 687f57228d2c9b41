/**
 * `POST /predict` and `POST /models/{name}/predict`. The image arrives as
 * multipart, a raw body or JSON (request-images.ts); the answer is JSON, or
 * the top label alone for `Accept: text/plain`, like the Flask apps imgcls
 * replaces.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { ClassifyResult } from '../../engine/classifier.ts';
import { parseTopKText, TOP_K_RULE, type TopK } from '../../engine/postprocess.ts';
import { createError } from '../../errors.ts';
import type { ServerContext } from '../app.ts';
import { errorBody } from '../http-errors.ts';
import { classifyImages, refuseWhenSaturated, type RequestResult } from '../inference.ts';
import { preferredType } from '../negotiate.ts';
import { readImageRequest } from '../request-images.ts';
import { jsonImageBodySchema, modelNameParams, predictQuerySchema, predictResponseSchema, uploadBodyDocs } from '../schemas.ts';

/** `top_k` from a form field; the query's and JSON's are already checked by their schemas. */
export function parseTopKField(value: string): TopK {
  const topK = parseTopKText(value);
  if (topK === null) throw createError('INVALID_REQUEST', `top_k must be ${TOP_K_RULE}; got "${value.slice(0, 40)}"`);
  return topK;
}

function resultBody(r: ClassifyResult) {
  return r.ok ? { predictions: r.predictions } : errorBody(r.error);
}

function reply200(reply: FastifyReply, model: string, batch: boolean, out: RequestResult, request: FastifyRequest) {
  const type = preferredType(request.headers.accept, ['application/json', 'text/plain']);
  if (type === 'text/plain') {
    // One line per image: its top label, or the error code for an image that failed.
    const lines = out.results.map((r) => (r.ok ? (r.predictions[0]?.label ?? '') : `error: ${r.error.code}`));
    return reply.type('text/plain; charset=utf-8').send(`${lines.join('\n')}\n`);
  }
  if (batch) return reply.send({ model, results: out.results.map(resultBody), timing: out.timing });
  return reply.send({ model, predictions: (out.results[0] as ClassifyResult & { ok: true }).predictions, timing: out.timing });
}

export const predictRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { registry, config } = ctx;
  const schema = {
    tags: ['predict'],
    querystring: predictQuerySchema,
    body: { content: { 'application/json': { schema: jsonImageBodySchema } } },
    response: { 200: predictResponseSchema, '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } },
  };
  // The docs list every body form; Ajv only validates JSON, since the others are binary and read as streams.
  const swaggerTransform = ({ schema: s, url }: { schema: FastifySchema; url: string }) => ({
    schema: { ...s, body: { content: { ...(s.body as { content: object }).content, ...uploadBodyDocs } } },
    url,
  });

  const handler = async (request: FastifyRequest<{ Params: { name?: string }; Querystring: { top_k: TopK } }>, reply: FastifyReply) => {
    const model = registry.get(request.params.name);
    const images = await readImageRequest(request, config);
    const field = images.fields.get('top_k');
    const topK = images.topK ?? (field !== undefined ? parseTopKField(field) : request.query.top_k);
    const out = await classifyImages(ctx, request.log, model, images.inputs, topK, request.routeOptions.url ?? '/predict');
    if (!images.batch && !out.results[0]!.ok) throw out.results[0]!.error;
    return reply200(reply, model.name, images.batch, out, request);
  };

  app.post('/predict', {
    schema: { ...schema, summary: 'Classify one image or several with the default model' },
    config: { swaggerTransform },
    onRequest: refuseWhenSaturated(registry),
  }, handler);
  app.post('/models/:name/predict', {
    schema: { ...schema, params: modelNameParams, summary: 'Classify with a named model' },
    config: { swaggerTransform },
    onRequest: refuseWhenSaturated(registry),
  }, handler);
};
