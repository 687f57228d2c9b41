/**
 * Classification as the routes need it: one call per request, which counts
 * the images in the queue gauge, times the stages, records outcomes and
 * saves uploads when asked. Every route that takes encoded images
 * (/predict, the web page, the V2 BYTES input) goes through here.
 */
import type { ClassifyResult } from '../engine/classifier.ts';
import type { TopK } from '../engine/postprocess.ts';
import type { ImgclsError } from '../errors.ts';
import type { FastifyBaseLogger } from 'fastify';
import type { ServerMetrics } from './metrics.ts';
import type { ServedModel } from './registry.ts';
import { saveUpload } from './uploads.ts';

/** An image as it came out of the request: bytes, or the error that kept us from getting them (bad base64, a failed fetch). */
export type ImageInput = Uint8Array | ImgclsError;

export interface Timing {
  decode_ms: number;
  inference_ms: number;
  total_ms: number;
}

export interface RequestResult {
  results: ClassifyResult[];
  timing: Timing;
}

export interface InferenceContext {
  metrics: ServerMetrics;
  log: FastifyBaseLogger;
  saveUploads: string | null;
  maxPixels: number;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

export async function classifyImages(ctx: InferenceContext, model: ServedModel, inputs: readonly ImageInput[], topK: TopK, route: string): Promise<RequestResult> {
  const started = performance.now();
  const bytes: Uint8Array[] = [];
  const at: number[] = [];
  inputs.forEach((input, i) => {
    if (input instanceof Uint8Array) {
      bytes.push(input);
      at.push(i);
    }
  });
  ctx.metrics.queued(model.name, bytes.length);
  let classified: ClassifyResult[];
  try {
    classified = await model.classifier.classify(bytes, { topK, onBatch: (size) => ctx.metrics.batch(model.name, size) });
  } finally {
    ctx.metrics.queued(model.name, -bytes.length);
  }
  const results: ClassifyResult[] = inputs.map((input) => (input instanceof Uint8Array ? undefined! : { ok: false, error: input }));
  classified.forEach((r, j) => (results[at[j]!] = r));

  const firstOk = classified.find((r) => r.ok);
  const decodeMs = firstOk?.ok ? firstOk.timing.decodeMs : 0;
  const inferMs = firstOk?.ok ? firstOk.timing.inferMs : 0;
  const totalMs = performance.now() - started;
  if (firstOk) {
    ctx.metrics.stage(model.name, 'decode', decodeMs);
    ctx.metrics.stage(model.name, 'inference', inferMs);
  }
  ctx.metrics.stage(model.name, 'total', totalMs);
  for (const r of results) ctx.metrics.image(model.name, r.ok ? 'ok' : r.error.code);

  if (ctx.saveUploads !== null) await saveAll(ctx, model, bytes, classified, route);
  return { results, timing: { decode_ms: round(decodeMs), inference_ms: round(inferMs), total_ms: round(totalMs) } };
}

/** A failed save is logged, not returned: the client's classification succeeded. */
async function saveAll(ctx: InferenceContext, model: ServedModel, bytes: readonly Uint8Array[], results: readonly ClassifyResult[], route: string): Promise<void> {
  const dir = ctx.saveUploads!;
  await Promise.all(
    results.map(async (r, i) => {
      if (!r.ok) return;
      try {
        await saveUpload(dir, bytes[i]!, { model: model.name, predictions: r.predictions, route }, ctx.maxPixels);
      } catch (err) {
        ctx.log.warn({ err }, `could not save an upload under ${dir}`);
      }
    }),
  );
}
