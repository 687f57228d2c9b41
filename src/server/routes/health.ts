/**
 * Probes and metrics. `/healthz` answers as long as the process can answer
 * at all (liveness); `/readyz` only once every model is loaded (readiness),
 * so a load balancer waits out a first-start model conversion, and not while
 * draining on shutdown.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../app.ts';

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, models: { type: 'array', items: { type: 'string' } } },
} as const;

export const healthRoutes: FastifyPluginAsync<ServerContext> = async (app, { registry, metrics, lifecycle, ready: isReady }) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness: the process answers', response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'Readiness: every model is loaded', response: { 200: statusSchema, 503: statusSchema } } },
    async (_request, reply) => {
      // A draining server is alive but must get no new traffic.
      const ready = isReady();
      const status = lifecycle.isDraining ? 'draining' : ready ? 'ready' : 'loading';
      return reply.status(ready ? 200 : 503).send({ status, models: registry.names });
    },
  );

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } }, async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });
};
