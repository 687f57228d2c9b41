/**
 * Classification as the routes need it: one call per request, which counts
 * the images in the queue gauge, times the stages, records outcomes and
 * saves uploads when asked. Every route that runs a model (/predict, the web
 * page, both V2 input forms) goes through here, so the metrics are kept in
 * one place.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ClassifyResult, ImageTiming } from '../engine/classifier.ts';
import type { TopK } from '../engine/postprocess.ts';
import { createError, type ImgclsError } from '../errors.ts';
import type { ServerContext } from './app.ts';
import type { ModelRegistry, ServedModel } from './registry.ts';
import { saveUpload } from './uploads.ts';

/** An image as it came out of the request: bytes, or the error that kept us from getting them (bad base64, a failed fetch). */
export type ImageInput = Uint8Array | ImgclsError;

export interface Timing {
  decode_ms: number;
  queue_ms: number;
  inference_ms: number;
  total_ms: number;
}

export interface RequestResult {
  results: ClassifyResult[];
  timing: Timing;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
const isBytes = (input: ImageInput): input is Uint8Array => input instanceof Uint8Array;

/**
 * An onRequest hook for routes that classify: a request for a model whose
 * queue is full gets 503 before its body is read, so an overloaded server
 * does not buffer uploads it is going to refuse. (A request that gets in
 * just before the queue fills is refused by the classifier instead.)
 */
export function refuseWhenSaturated(registry: ModelRegistry): (request: { params: unknown }) => Promise<void> {
  return async (request) => {
    const name = (request.params as { name?: string; model?: string }).name ?? (request.params as { model?: string }).model;
    if (!registry.ready || (name !== undefined && !registry.has(name))) return;
    const { classifier } = registry.get(name);
    if (classifier.saturated) {
      throw createError('OVERLOADED', `The server is at capacity (${classifier.pending} images in progress, limit ${classifier.maxQueue}); retry shortly`);
    }
  };
}

/** Count `images` in the queue gauge while `work` runs. */
async function queued<T>(ctx: ServerContext, model: ServedModel, images: number, work: () => Promise<T>): Promise<T> {
  ctx.metrics.queued(model.name, images);
  try {
    return await work();
  } finally {
    ctx.metrics.queued(model.name, -images);
  }
}

export async function classifyImages(ctx: ServerContext, log: FastifyBaseLogger, model: ServedModel, inputs: readonly ImageInput[], topK: TopK, route: string): Promise<RequestResult> {
  const { metrics, config } = ctx;
  const started = performance.now();
  const bytes = inputs.filter(isBytes);
  const classified = await queued(ctx, model, bytes.length, () =>
    model.classifier.classify(bytes, { topK }),
  );
  let next = 0;
  const results = inputs.map((input): ClassifyResult => (isBytes(input) ? classified[next++]! : { ok: false, error: input }));

  // A request's stages are its slowest image's: the images run side by side.
  const timings = classified.flatMap((r) => (r.ok ? [r.timing] : []));
  const slowest = (pick: (t: ImageTiming) => number) => (timings.length > 0 ? Math.max(...timings.map(pick)) : 0);
  const decodeMs = slowest((t) => t.decodeMs + t.resizeMs);
  const queueMs = slowest((t) => t.queueMs);
  const inferMs = slowest((t) => t.preprocessMs + t.inferMs);
  const totalMs = performance.now() - started;
  for (const t of timings) {
    metrics.stage(model.name, 'decode', t.decodeMs + t.resizeMs);
    metrics.stage(model.name, 'queue', t.queueMs);
    metrics.stage(model.name, 'inference', t.preprocessMs + t.inferMs);
  }
  metrics.stage(model.name, 'total', totalMs);
  for (const r of results) metrics.image(model.name, r.ok ? 'ok' : r.error.code);

  if (config.saveUploads !== null) await saveAll(ctx, log, model, bytes, classified, route);
  return { results, timing: { decode_ms: round(decodeMs), queue_ms: round(queueMs), inference_ms: round(inferMs), total_ms: round(totalMs) } };
}

/** Scores for a tensor the client preprocessed (the V2 FP32 input): one class-ordered row per image. */
export async function scoreTensor(ctx: ServerContext, model: ServedModel, values: Float32Array, shape: readonly number[]): Promise<Float64Array[]> {
  const { metrics } = ctx;
  const started = performance.now();
  const scores = await queued(ctx, model, shape[0] ?? 1, () =>
    model.classifier.scoresForTensor(values, shape),
  );
  metrics.stage(model.name, 'inference', performance.now() - started);
  return scores;
}

/** A failed save is logged, not returned: the client's classification succeeded. */
async function saveAll(ctx: ServerContext, log: FastifyBaseLogger, model: ServedModel, bytes: readonly Uint8Array[], results: readonly ClassifyResult[], route: string): Promise<void> {
  const { saveUploads: dir, limits } = ctx.config;
  await Promise.all(
    results.map(async (r, i) => {
      if (!r.ok) return;
      try {
        await saveUpload(dir!, bytes[i]!, { model: model.name, predictions: r.predictions, route }, limits.maxPixels);
      } catch (err) {
        log.warn({ err }, `could not save an upload under ${dir}`);
      }
    }),
  );
}
