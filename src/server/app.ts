/**
 * The app factory: `buildApp(config, registry)` returns a Fastify instance
 * with every route registered. It never listens; `imgcls serve` does, and
 * tests use `app.inject()`.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { createError, type ImgclsError } from '../errors.ts';
import { VERSION } from '../version.ts';
import type { ServerConfig } from './config.ts';
import { collectRequestBodies } from './body-collection.ts';
import { clientErrorHandler } from './client-errors.ts';
import { Lifecycle } from './lifecycle.ts';
import { answerFor, errorBody, setRetryAfter } from './http-errors.ts';
import { ServerMetrics } from './metrics.ts';
import type { ModelRegistry } from './registry.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes } from './routes/models.ts';
import { pageRoutes } from './routes/page.ts';
import { predictRoutes } from './routes/predict.ts';
import { v2Routes } from './routes/v2.ts';
import { errorSchema } from './schemas.ts';

/** What every route plugin gets. */
export interface ServerContext {
  config: ServerConfig;
  registry: ModelRegistry;
  metrics: ServerMetrics;
  lifecycle: Lifecycle;
  /** Readiness: every model loaded and not draining (`/readyz`, `/v2/health/ready`). */
  ready: () => boolean;
}

/** Routes under this prefix answer errors in the Open Inference Protocol's shape: `{"error": "..."}`. */
export const V2_PREFIX = '/v2';

export interface AppOptions {
  /** Collect process metrics (RSS, GC, event loop); off in tests that build many apps. */
  processMetrics?: boolean;
  /** In-flight requests and draining; `imgcls serve` keeps it to drain on SIGTERM. A fresh one when omitted. */
  lifecycle?: Lifecycle;
  /** Where the JSON log lines go (default stdout): for embedding, and for tests that read the log. */
  logStream?: NodeJS.WritableStream;
}

/** How often Node checks the header and request timeouts; its default, 30 s, would let a 10 s timeout run to 40 s. */
const TIMEOUT_CHECK_MS = 1000;

/**
 * Query strings and path parameters are all text, so Ajv coerces them
 * (`?top_k=3` becomes 3). JSON bodies already have types: coercing them would
 * turn `{"image": 42}` into the string "42" and `{"images": "x"}` into an
 * array, so bodies are validated without coercion.
 */
type ValidatorFactory = (external: unknown, options: { customOptions?: object }) => (route: { httpPart?: string }) => unknown;
const ajvFactory = AjvCompiler() as unknown as ValidatorFactory;
const strictBodies: ValidatorFactory = (external, options) => {
  const coercing = ajvFactory(external, options);
  const strict = ajvFactory(external, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } });
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
};

export async function buildApp(config: ServerConfig, registry: ModelRegistry, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logLevel === false ? false : { level: config.logLevel, ...(options.logStream && { stream: options.logStream }) },
    bodyLimit: config.limits.jsonBytes,
    requestTimeout: config.timeouts.requestMs,
    keepAliveTimeout: config.timeouts.keepAliveMs,
    http: { headersTimeout: config.timeouts.headersMs, connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, config.timeouts.headersMs) },
    // Timeouts and malformed HTTP never reach a route: answer them in the catalogue's shape too.
    clientErrorHandler,
    // Keep a client's X-Request-Id when it sends one, so logs can be joined across services.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildValidator: strictBodies as never } },
  });
  const metrics = new ServerMetrics({
    processMetrics: options.processMetrics,
    queueDepths: () => registry.names.map((name) => [name, registry.get(name).classifier.pending]),
  });
  const lifecycle = options.lifecycle ?? new Lifecycle();
  const ctx: ServerContext = { config, registry, metrics, lifecycle, ready: () => registry.ready && !lifecycle.isDraining };
  // First of all hooks: a draining server refuses before reading anything, and counts what it admits.
  app.addHook('onRequest', async (request, reply) => {
    if (lifecycle.isDraining) {
      void reply.header('connection', 'close');
      if (lifecycle.refuses(request.url.split('?')[0]!)) {
        throw createError('SHUTTING_DOWN', 'The server is shutting down; retry on another instance or after it restarts');
      }
    }
    lifecycle.admit(reply.raw);
  });

  registry.observe((model) => {
    model.classifier.onBatch = (size) => metrics.batch(model.name, size);
  });

  // Raw image bodies arrive whole (bounded by the file limit); text/plain is not an image, so it gets 415.
  app.removeContentTypeParser('text/plain');
  for (const type of ['application/octet-stream', /^image\/[\w.+-]+$/i]) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: config.limits.fileBytes }, (_req, body, done) => done(null, body));
  }
  // Forms are left unread here: the route reads them from the stream, enforcing the limits as the bytes arrive (multipart.ts).
  app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));

  app.addSchema(errorSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'imgcls',
        version: VERSION,
        description: 'Image classification over REST and the Open Inference Protocol (KServe V2). Every error is `{"error": CODE, "message": ...}`; V2 routes answer `{"error": message}` as the protocol says.',
      },
      tags: [
        { name: 'predict', description: 'Classify images' },
        { name: 'models', description: 'Served models' },
        { name: 'health', description: 'Probes and metrics' },
        { name: 'v2', description: 'Open Inference Protocol (KServe V2) REST' },
      ],
    },
  });
  // Swagger UI's files come from the npm package; no CDN. The validator badge would call swagger.io, so it is off.
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null, deepLinking: true }, staticCSP: true });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.request(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  collectRequestBodies(app);

  app.setNotFoundHandler((request, reply) => {
    const err = createError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`);
    void sendError(request.url, reply, err);
  });

  app.setErrorHandler((error, request, reply) => sendError(request.url, reply, answerFor(request, error)));

  await app.register(healthRoutes, ctx);
  await app.register(modelRoutes, ctx);
  await app.register(predictRoutes, ctx);
  await app.register(v2Routes, { ...ctx, prefix: V2_PREFIX });
  await app.register(pageRoutes, ctx);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.addHook('onClose', async () => registry.close());
  return app;
}

function sendError(url: string, reply: FastifyReply, err: ImgclsError): FastifyReply {
  const v2 = url === V2_PREFIX || url.startsWith(`${V2_PREFIX}/`);
  const body = v2 ? { error: `${err.code}: ${err.message}` } : errorBody(err);
  setRetryAfter(reply, err);
  // A client that asked for text/plain or HTML still gets JSON for an error: it is what names the problem.
  return reply.status(err.status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}
