/**
 * The classification pipeline: decode → preprocess → infer → postprocess.
 * This file admits images, batches them and ranks the scores; the runner
 * (inference workers, in the server) decodes, preprocesses and infers, each
 * stage in its own module.
 */
import { createError, isImgclsError, type ImgclsError } from '../errors.ts';
import type { Pixels } from '../image/pixels.ts';
import { readPackage } from '../model/package.ts';
import { resolveSpec, type ResolvedSpec, type SpecOverrides } from '../model/resolve.ts';
import type { GraphSignature, TensorInfo } from '../model/spec.ts';
import { Batcher } from './batcher.ts';
import { usableCpus } from './cpus.ts';
import type { ImageJob, Resampler, RunTiming } from './image-jobs.ts';
import { DEFAULT_TOP_K, postprocess, scoreRows, type Prediction, type TopK } from './postprocess.ts';
import { InThreadRunner, type InferenceRunner } from './runner.ts';
import type { SessionOptions } from './session.ts';
import { WorkerPool } from './worker-pool.ts';

export interface ClassifierOptions extends SessionOptions {
  overrides?: SpecOverrides;
  /** The most images one inference call takes; larger requests are split. */
  maxBatch?: number;
  /** How long an image waits for others to fill a batch while a worker is free (ms). */
  maxDelayMs?: number;
  /**
   * Inference worker threads; 0 runs the model on the calling thread, which
   * blocks it for every run. Default: one per CPU, each with one
   * onnxruntime thread (see worker-pool.ts for the measurement).
   */
  workers?: number;
  /** Most images admitted at once (decoding, queued or running); past it classify() throws OVERLOADED. */
  maxQueue?: number;
  /** Refuse images whose header claims more pixels than this. */
  maxPixels?: number;
  /**
   * Who resizes: `sharp` (default) resizes while decoding, with shrink-on-load;
   * `pillow` decodes at full size and resizes with our port of Pillow's
   * algorithm, giving the pixels PIL-based stacks (torchvision, transformers)
   * give, at the cost of a full-size decode.
   */
  resampler?: Resampler;
}

export interface ClassifyOptions {
  topK?: TopK;
  /**
   * The caller will not read the bytes again: a worker pool moves each
   * image's buffer to its worker instead of copying it, and the caller's
   * array is left empty. Only an array that covers its whole buffer is moved.
   * A server gains the most: the bytes leave the HTTP thread's heap at once,
   * instead of waiting there for a full collection (BENCHMARKS.md, "Latency
   * at concurrency 1").
   */
  handOver?: boolean;
}

/** Where one image's time went, in ms. */
export interface ImageTiming extends RunTiming {
  /** Waiting for a batch, a free worker and a decode slot, and crossing threads. */
  queueMs: number;
}

export type ClassifyResult =
  | { ok: true; predictions: Prediction[]; timing: ImageTiming }
  | { ok: false; error: ImgclsError };

/**
 * Measured on 2 vCPUs with the workers decoding (BENCHMARKS.md, "Inference workers and batching: the defaults"):
 * batches of 1, 2 and 4 serve MobileNetV2 equally fast, and each image a
 * batch may hold costs each worker onnxruntime activation memory (about
 * 45 MB more per worker at 4 than at 1). Raise it per model where batching
 * pays: a GPU, a large model.
 */
export const DEFAULT_MAX_BATCH = 1;
/** Measured on 2 vCPUs (BENCHMARKS.md, "Inference workers and batching: the defaults"): see there for how it scales. */
export const DEFAULT_MAX_DELAY_MS = 0;
export const DEFAULT_MAX_QUEUE = 256;

export class Classifier {
  /** The graph input that takes the image (resolveSpec checked it exists). */
  readonly input: TensorInfo;
  /** Set by the server to count batches per model. */
  onBatch: ((size: number, ms: number) => void) | undefined;
  private readonly batcher: Batcher;
  private admitted = 0;

  private constructor(
    readonly spec: ResolvedSpec,
    readonly modelPath: string,
    private readonly runner: InferenceRunner,
    private readonly options: ClassifierOptions,
  ) {
    this.input = runner.signature.inputs.find((i) => i.name === spec.inputName)!;
    runner.configure({
      inputName: spec.inputName,
      outputName: spec.outputName,
      preprocess: spec.preprocess,
      resampler: options.resampler ?? 'sharp',
      maxPixels: options.maxPixels,
    });
    // A graph with a fixed batch of 1 is fed one image at a time.
    // Flags first, then the package's own settings, then the measured defaults.
    const maxBatch = this.input.shape[0] === 1 ? 1 : Math.max(1, options.maxBatch ?? spec.batching?.maxBatch ?? DEFAULT_MAX_BATCH);
    const maxDelayMs = options.maxDelayMs ?? spec.batching?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.batcher = new Batcher(runner, { maxBatch, maxDelayMs }, (size, ms) => this.onBatch?.(size, ms));
  }

  /**
   * Load a model package directory, check it against its graph, and open it
   * in the inference workers.
   * @throws ImgclsError MODEL_NOT_FOUND, MODEL_INVALID, LABELS_INVALID or MODEL_MISMATCH.
   */
  static async load(dir: string, options: ClassifierOptions = {}): Promise<Classifier> {
    const pkg = await readPackage(dir);
    const workers = options.workers ?? usableCpus();
    // Only the session's own options go to the workers; one onnxruntime thread each unless told otherwise: the workers are the parallelism.
    const { optimization, device, onWarning } = options;
    const session: SessionOptions = { optimization, device, onWarning, threads: options.threads ?? (workers > 0 ? 1 : undefined) };
    const runner = workers > 0 ? await WorkerPool.open(pkg.modelPath, { ...session, workers }) : await InThreadRunner.open(pkg.modelPath, session);
    try {
      const spec = resolveSpec(pkg.spec, runner.signature, options.overrides);
      return new Classifier(spec, pkg.modelPath, runner, options);
    } catch (err) {
      await runner.close();
      throw err;
    }
  }

  get signature(): GraphSignature {
    return this.runner.signature;
  }

  get device(): string {
    return this.runner.device;
  }

  /** Inference workers (0: the calling thread). */
  get workers(): number {
    return this.runner instanceof WorkerPool ? this.runner.workers : 0;
  }

  get batching(): { maxBatch: number; maxDelayMs: number } {
    return { ...this.batcher.options };
  }

  /** Images admitted and not yet answered. */
  get pending(): number {
    return this.admitted;
  }

  get maxQueue(): number {
    return this.options.maxQueue ?? Infinity;
  }

  /** True when no further image would be admitted. */
  get saturated(): boolean {
    return this.overloaded() !== null;
  }

  /**
   * The error for `n` more images when they would not fit under maxQueue,
   * else null. With n = 0: whether the queue is already full (the server
   * asks before reading a request).
   */
  overloaded(n = 0): ImgclsError | null {
    if (this.admitted + Math.max(n, 1) <= this.maxQueue) return null;
    return createError('OVERLOADED', `The server is at capacity (${this.admitted} images in progress, limit ${this.maxQueue}); retry shortly`);
  }

  /**
   * Count `n` images in for the length of `work`, or refuse them all.
   * @throws ImgclsError OVERLOADED when they do not fit under maxQueue.
   */
  private async admit<T>(n: number, work: () => Promise<T>): Promise<T> {
    const refused = this.overloaded(n);
    if (refused) throw refused;
    this.admitted += n;
    try {
      return await work();
    } finally {
      this.admitted -= n;
    }
  }

  /**
   * Classify encoded images. Each image gets its own result: one that fails
   * to decode carries its error, and the others still run. Each image goes
   * on to inference as soon as it is decoded, in whatever batch it joins.
   * @throws ImgclsError OVERLOADED when the images are more than the queue takes.
   */
  classify(inputs: readonly Uint8Array[], options: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    const k = options.topK ?? DEFAULT_TOP_K;
    const handOver = options.handOver === true;
    return this.admit(inputs.length, () => Promise.all(inputs.map((bytes) => this.classifyOne({ bytes, handOver }, k))));
  }

  /** One image through the batcher; the runner decodes, resizes and runs it, and a bad image fails alone. */
  private async classifyOne(job: ImageJob, k: TopK): Promise<ClassifyResult> {
    try {
      const { row, ...timing } = await this.batcher.submit(job);
      return { ok: true, predictions: postprocess(row, 1, this.spec.labels, this.spec.activation, k)[0]!, timing };
    } catch (err) {
      if (isImgclsError(err)) return { ok: false, error: err };
      throw err;
    }
  }

  /**
   * Classify decoded pixels. Unless `fitted` says they already have the
   * input size, they are resized and cropped by the runner.
   * @throws ImgclsError OVERLOADED, or the image's own error (INFERENCE_FAILED).
   */
  async classifyPixels(images: readonly Pixels[], options: ClassifyOptions = {}, fitted = false): Promise<Prediction[][]> {
    const k = options.topK ?? DEFAULT_TOP_K;
    const results = await this.admit(images.length, () => Promise.all(images.map((pixels) => this.classifyOne({ pixels, fitted }, k))));
    return results.map((r) => {
      if (!r.ok) throw r.error;
      return r.predictions;
    });
  }

  /**
   * Run the model on a tensor the caller already preprocessed (the Open
   * Inference Protocol's FP32 input), and return one row of class-ordered
   * scores per image after the package's activation, so they read like
   * `classify`'s.
   * @throws ImgclsError OVERLOADED, INFERENCE_FAILED when the shape does not fit the graph, MODEL_MISMATCH when the output does not match the labels.
   */
  async scoresForTensor(data: Float32Array, dims: readonly number[]): Promise<Float64Array[]> {
    const batch = dims[0] ?? 1;
    return this.admit(batch, async () => {
      const began = performance.now();
      const output = await this.runner.runTensor(data, dims);
      this.onBatch?.(batch, performance.now() - began);
      return scoreRows(output.data, batch, this.spec.labels, this.spec.activation);
    });
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}
