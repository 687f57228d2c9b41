/** `GET /models` and `GET /models/{name}`: what is served, its labels and the input it takes. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../app.ts';
import { modelNameParams, modelSchema } from '../schemas.ts';

export const modelRoutes: FastifyPluginAsync<ServerContext> = async (app, { registry }) => {
  app.get(
    '/models',
    {
      schema: {
        tags: ['models'],
        summary: 'List the served models',
        response: {
          200: {
            type: 'object',
            properties: { default: { type: ['string', 'null'] }, models: { type: 'array', items: modelSchema } },
          },
        },
      },
    },
    async () => ({ default: registry.defaultModel, models: registry.names.map((n) => registry.describe(n)) }),
  );

  app.get<{ Params: { name: string } }>(
    '/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'One model: labels, input spec, preprocessing',
        params: modelNameParams,
        response: { 200: modelSchema, 404: { $ref: 'Error#' } },
      },
    },
    async (request) => registry.describe(request.params.name),
  );
};
