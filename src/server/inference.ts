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
import type { ImgclsError } from '../errors.ts';
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

const IMAGE_STAGES = ['decode', 'queue', 'inference'] as const;
type ImageStage = (typeof IMAGE_STAGES)[number];

/** An image's timing in the metrics' stages: decode includes a JS resize, inference the tensor. */
const imageStages = (t: ImageTiming): Record<ImageStage, number> => ({ decode: t.decodeMs + t.resizeMs, queue: t.queueMs, inference: t.preprocessMs + t.inferMs });
const isBytes = (input: ImageInput): input is Uint8Array => input instanceof Uint8Array;

/**
 * An onRequest hook for routes that classify: a request for a model whose
 * queue is full gets 503 before its body is read, so an overloaded server
 * does not buffer uploads it is going to refuse. (A request that gets in
 * just before the queue fills is refused by the classifier instead.)
 */
export function refuseWhenSaturated(registry: ModelRegistry): (request: { params: unknown }) => Promise<void> {
  return async (request) => {
    const params = request.params as { name?: string; model?: string };
    const name = params.name ?? params.model;
    if (!registry.ready || (name !== undefined && !registry.has(name))) return;
    const refused = registry.get(name).classifier.overloaded();
    if (refused) throw refused;
  };
}

/**
 * Classify a request's images. Unless the route reads the bytes after
 * (`keepBytes`: the web page draws thumbnails) or uploads are being saved,
 * the bytes are handed over to the model's workers and left empty here.
 */
export async function classifyImages(
  ctx: ServerContext,
  log: FastifyBaseLogger,
  model: ServedModel,
  inputs: readonly ImageInput[],
  topK: TopK,
  route: string,
  { keepBytes = false }: { keepBytes?: boolean } = {},
): Promise<RequestResult> {
  const { metrics, config } = ctx;
  const started = performance.now();
  const bytes = inputs.filter(isBytes);
  const handOver = !keepBytes && config.saveUploads === null;
  const classified = await model.classifier.classify(bytes, { topK, handOver });
  let next = 0;
  const results = inputs.map((input): ClassifyResult => (isBytes(input) ? classified[next++]! : { ok: false, error: input }));

  const stages = classified.flatMap((r) => (r.ok ? [imageStages(r.timing)] : []));
  for (const s of stages) for (const stage of IMAGE_STAGES) metrics.stage(model.name, stage, s[stage]);
  // A request's stages are its slowest image's: the images run side by side.
  const slowest = (stage: ImageStage) => Math.max(0, ...stages.map((s) => s[stage]));
  const totalMs = performance.now() - started;
  metrics.stage(model.name, 'total', totalMs);
  for (const r of results) metrics.image(model.name, r.ok ? 'ok' : r.error.code);

  if (config.saveUploads !== null) await saveAll(ctx, log, model, bytes, classified, route);
  return { results, timing: { decode_ms: round(slowest('decode')), queue_ms: round(slowest('queue')), inference_ms: round(slowest('inference')), total_ms: round(totalMs) } };
}

/** Scores for a tensor the client preprocessed (the V2 FP32 input): one class-ordered row per image. */
export async function scoreTensor(ctx: ServerContext, model: ServedModel, values: Float32Array, shape: readonly number[]): Promise<Float64Array[]> {
  const { metrics } = ctx;
  const started = performance.now();
  const scores = await model.classifier.scoresForTensor(values, shape);
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
