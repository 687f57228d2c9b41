/**
 * What a runner is given per image, and how it brings one to the input size.
 * Runners decode (the worker threads, in the server), so the HTTP thread
 * never holds full-size pixels, never resizes in JavaScript and never pays
 * sharp's synchronous setup (about 1 ms a call, measured in the server's CPU
 * profile): BENCHMARKS.md, "Where the HTTP thread's time went".
 */
import { createError, isImgclsError, type ErrorCode, type ImgclsError } from '../errors.ts';
import { decodeImage } from '../image/decode.ts';
import type { Pixels, RgbImage } from '../image/pixels.ts';
import { fitToInput } from '../image/preprocess.ts';
import type { PreprocessSpec } from '../model/spec.ts';
import type { Slots } from './slots.ts';

/**
 * One image: encoded bytes the runner decodes, or decoded pixels (already at
 * the input size when `fitted`). `handOver` says the caller will not read the
 * bytes again, so a worker pool may move their buffer instead of copying it.
 */
export type ImageJob = { bytes: Uint8Array; handOver?: boolean } | { pixels: Pixels; fitted: boolean };

/**
 * Who resizes encoded images: `sharp` resizes while decoding, with
 * shrink-on-load (a model whose spec asks for TF.js's align-corners resize is
 * still resized in JS: libvips has no such kernel); `pillow` decodes at full
 * size and resizes with our port of Pillow's algorithm.
 */
export type Resampler = 'sharp' | 'pillow';

/** How a runner turns an image job into pixels at the input size. */
export interface PrepareSpec {
  preprocess: PreprocessSpec;
  resampler: Resampler;
  /** Refuse images whose header claims more pixels than this. */
  maxPixels?: number;
}

export type Prepared = { ok: true; pixels: Pixels; decodeMs: number; resizeMs: number } | { ok: false; error: ImgclsError };

/**
 * Decode and fit one image to the input size, holding one of `slots`
 * throughout: when the model's resize is done in JS, the full-size pixels
 * stay alive until it ends, so the slots bound how many exist at once
 * (holding it only while libvips decoded let each worker keep a second 36 MB
 * photo waiting for its resize). `onFullSizeDropped` hears the size of
 * full-size pixels once they are garbage, for a runner that wants them
 * collected sooner than V8 would: V8 does not see the memory behind sharp's
 * buffers (BENCHMARKS.md, "Memory at large photos").
 * A bad image comes back as its catalogue error; anything else is a bug and throws.
 */
export async function prepareImage(job: ImageJob, spec: PrepareSpec, slots: Slots, onFullSizeDropped?: (bytes: number) => void): Promise<Prepared> {
  if ('pixels' in job) {
    const began = performance.now();
    const pixels = job.fitted ? job.pixels : fitToInput(job.pixels as RgbImage, spec.preprocess);
    return { ok: true, pixels, decodeMs: 0, resizeMs: performance.now() - began };
  }
  await slots.acquire();
  try {
    const began = performance.now();
    let decoded;
    try {
      decoded = await decodeImage(job.bytes, { spec: spec.resampler === 'sharp' ? spec.preprocess : undefined, maxPixels: spec.maxPixels });
    } catch (err) {
      // decodeImage maps every decoding failure onto the catalogue.
      if (isImgclsError(err)) return { ok: false, error: err };
      throw err;
    }
    const decodedAt = performance.now();
    if (decoded.fitted) return { ok: true, pixels: decoded, decodeMs: decodedAt - began, resizeMs: 0 };
    const pixels = fitToInput(decoded, spec.preprocess);
    // fitToInput returns its input when the size already matches: then those pixels live on as the result.
    if (pixels.data !== decoded.data) onFullSizeDropped?.(decoded.data.byteLength);
    return { ok: true, pixels, decodeMs: decodedAt - began, resizeMs: performance.now() - decodedAt };
  } finally {
    slots.release();
  }
}

/** One image's result from a runner. */
export type ImageOutcome = { ok: true; row: Float32Array; timing: RunTiming } | { ok: false; error: ImgclsError };

/** Where one image's time went inside the runner, in ms. */
export interface RunTiming {
  /** Decoding, with sharp's resize and crop when it does them. */
  decodeMs: number;
  /** Resizing in JS (align-corners, Pillow's resampler); 0 when sharp resized. */
  resizeMs: number;
  /** Its batch's float tensor. */
  preprocessMs: number;
  /** Its batch's onnxruntime run. */
  inferMs: number;
  /** Images in the onnxruntime run it was part of. */
  batchSize: number;
}

/** An outcome as it crosses a thread: errors as code and message. */
export type WireOutcome = { ok: true; row: Float32Array; timing: RunTiming } | { ok: false; code: ErrorCode; message: string };

export function toWire(outcome: ImageOutcome): WireOutcome {
  return outcome.ok ? outcome : { ok: false, code: outcome.error.code, message: outcome.error.message };
}

export function fromWire(outcome: WireOutcome): ImageOutcome {
  return outcome.ok ? outcome : { ok: false, error: createError(outcome.code, outcome.message) };
}
