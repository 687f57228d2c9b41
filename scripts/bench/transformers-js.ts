/**
 * Hugging Face transformers.js's `pipeline('image-classification')` on a
 * local model directory (see hf-layout.ts), for benchmarks against imgcls.
 *
 * What transformers.js 4.x does with an image in Node, all of it its own:
 * - decoding: RawImage.fromBlob hands the bytes to sharp, which decodes at
 *   full size (EXIF rotation applied, no shrink-on-load) to raw RGB(A);
 * - resizing (resample 2, bilinear): sharp's `affine` with the bilinear
 *   interpolator, which samples without antialiasing (unlike PIL's and
 *   imgcls's filters), so big photos downscaled to 224x224 get slightly
 *   different pixels from imgcls's;
 * - rescale, NCHW tensor, onnxruntime-node (the same 1.30.0 imgcls uses),
 *   softmax in JS, top k.
 *
 * Threads: transformers.js sets no onnxruntime threading of its own in Node;
 * `session_options` go to InferenceSession.create as given, so
 * `intraOpNumThreads` works. Unset (the default here) is onnxruntime's own
 * default, one thread per physical core, as imgcls's threads: 0.
 */
import { resolve } from 'node:path';
import { env, pipeline, RawImage } from '@huggingface/transformers';

export interface TransformersJsPrediction {
  label: string;
  score: number;
}

export interface TransformersJsClassifier {
  /** Every class, best first, for one encoded image (JPEG, PNG, WebP…). */
  classify(bytes: Uint8Array): Promise<TransformersJsPrediction[]>;
  close(): Promise<void>;
}

export interface TransformersJsOptions {
  /** onnxruntime intra-op threads; unset or 0 leaves onnxruntime's default. */
  threads?: number;
}

/**
 * Build the pipeline once from `dir` (config.json, preprocessor_config.json,
 * onnx/model.onnx): CPU, fp32, local files only.
 */
export async function openTransformersJs(dir: string, options: TransformersJsOptions = {}): Promise<TransformersJsClassifier> {
  // Local only: no hub lookups. An absolute path is taken as a directory
  // (a relative one that looks like "org/name" would be a hub id under
  // env.localModelPath). No file cache: it would only copy what is on disk.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  const path = resolve(dir);
  const threads = options.threads ?? 0;
  const classifier = await pipeline('image-classification', path, {
    device: 'cpu',
    dtype: 'fp32',
    local_files_only: true,
    session_options: threads > 0 ? { intraOpNumThreads: threads } : {},
  });
  // The pipeline returns the top 5 by default; ask for every class.
  const config = classifier.model.config as unknown as { id2label?: Record<string, string> };
  const classes = Object.keys(config.id2label ?? {}).length;
  if (classes === 0) throw new Error(`${path}/config.json has no id2label`);

  return {
    async classify(bytes) {
      // Copied into a fresh ArrayBuffer: a Blob takes no SharedArrayBuffer-backed views.
      const image = await RawImage.fromBlob(new Blob([new Uint8Array(bytes)]));
      const out = await classifier(image, { top_k: classes });
      return out.map(({ label, score }) => ({ label, score }));
    },
    async close() {
      await classifier.dispose();
    },
  };
}
