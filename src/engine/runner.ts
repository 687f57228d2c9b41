/**
 * Where a model runs. onnxruntime-node's `session.run()` computes on the
 * thread that calls it, so the server runs models in worker threads
 * (worker-pool.ts) and keeps its own thread for I/O. A runner takes images
 * as encoded bytes and does the whole per-image pipeline itself: decode,
 * resize, tensor, run. `InThreadRunner` is the same contract on the calling
 * thread: for tools that have nothing else to do meanwhile, and as the
 * benchmark's reference.
 */
import { createError, isImgclsError } from '../errors.ts';
import type { Pixels } from '../image/pixels.ts';
import { batchDims, writeTensor } from '../image/preprocess.ts';
import type { GraphSignature } from '../model/spec.ts';
import { usableCpus } from './cpus.ts';
import { prepareImage, type ImageJob, type ImageOutcome, type PrepareSpec } from './image-jobs.ts';
import { ModelSession, type Device, type SessionOptions } from './session.ts';
import { Slots } from './slots.ts';

/** What a runner needs to turn images into the graph's input and read its output. */
export interface RunSpec extends PrepareSpec {
  inputName: string;
  outputName: string;
}

export interface RunOutput {
  /** The output tensor, row-major, `dims[0]` rows. */
  data: Float32Array;
  dims: readonly number[];
  /** onnxruntime's run. */
  inferMs: number;
}

export interface InferenceRunner {
  readonly signature: GraphSignature;
  readonly device: Device;
  /** Batches it runs at the same time (one per worker). */
  readonly capacity: number;
  /** Set once the spec is resolved against the signature; runImages needs it. */
  configure(spec: RunSpec): void;
  /** One outcome per image, in order: a bad image fails alone. */
  runImages(images: readonly ImageJob[]): Promise<ImageOutcome[]>;
  runTensor(data: Float32Array, dims: readonly number[]): Promise<RunOutput>;
  close(): Promise<void>;
}

/** The work both runners do once they hold a session: prepare each image, batch them by size, run. Shared with the worker. */
export class SessionRunner {
  private spec: RunSpec | null = null;
  private tensor: Float32Array | undefined;
  /** One batch writes the reused tensor and runs at a time; the next batch's images decode meanwhile. */
  private readonly running = new Slots(1);

  /** `decodeSlots` bounds the images this runner decodes (and resizes in JS) at once; see prepareImage for `onFullSizeDropped`. */
  constructor(
    readonly session: ModelSession,
    private readonly decodeSlots: Slots,
    private readonly onFullSizeDropped?: (bytes: number) => void,
  ) {}

  configure(spec: RunSpec): void {
    this.spec = spec;
  }

  async runImages(jobs: readonly ImageJob[]): Promise<ImageOutcome[]> {
    const spec = this.mustSpec();
    const prepared = await Promise.all(jobs.map((job) => prepareImage(job, spec, this.decodeSlots, this.onFullSizeDropped)));
    const outcomes: ImageOutcome[] = new Array(jobs.length);
    // A model without a fixed input size can get images of several sizes: one run per size.
    const bySize = new Map<string, number[]>();
    prepared.forEach((p, i) => {
      if (!p.ok) {
        outcomes[i] = p;
        return;
      }
      const key = `${p.pixels.width}x${p.pixels.height}`;
      const same = bySize.get(key);
      if (same) same.push(i);
      else bySize.set(key, [i]);
    });
    for (const indices of bySize.values()) {
      const images = indices.map((i) => prepared[i] as Extract<(typeof prepared)[number], { ok: true }>);
      await this.running.acquire();
      try {
        const { rows, preprocessMs, inferMs } = await this.runBatch(images.map((p) => p.pixels));
        indices.forEach((index, j) => {
          const { decodeMs, resizeMs } = images[j]!;
          outcomes[index] = { ok: true, row: rows[j]!, timing: { decodeMs, resizeMs, preprocessMs, inferMs, batchSize: indices.length } };
        });
      } catch (err) {
        const error = isImgclsError(err) ? err : createError('INFERENCE_FAILED', `Inference failed: ${(err as Error)?.message ?? String(err)}`, err);
        for (const index of indices) outcomes[index] = { ok: false, error };
      } finally {
        this.running.release();
      }
    }
    return outcomes;
  }

  async runTensor(data: Float32Array, dims: readonly number[]): Promise<RunOutput> {
    return this.run(data, dims);
  }

  /** Images of one size into one float tensor (reused while the batch shape repeats), one run, one row each. */
  private async runBatch(images: readonly Pixels[]): Promise<{ rows: Float32Array[]; preprocessMs: number; inferMs: number }> {
    const spec = this.mustSpec();
    const began = performance.now();
    const { width, height } = images[0]!;
    const per = width * height * 3;
    const count = images.length;
    const data = this.tensor?.length === per * count ? this.tensor : new Float32Array(per * count);
    this.tensor = data;
    images.forEach((image, i) => writeTensor(image, spec.preprocess, data, i * per));
    const preprocessMs = performance.now() - began;
    const out = await this.run(data, batchDims(count, width, height, spec.preprocess));
    if (out.dims[0] !== count || out.data.length % count !== 0) {
      throw createError('MODEL_MISMATCH', `The model returned ${out.dims[0]} rows for a batch of ${count} images`);
    }
    const size = out.data.length / count;
    // Rows of their own: each may cross a thread, and a view would take the whole output with it.
    const rows = images.map((_, i) => out.data.slice(i * size, (i + 1) * size));
    return { rows, preprocessMs, inferMs: out.inferMs };
  }

  private async run(data: Float32Array, dims: readonly number[]): Promise<RunOutput> {
    const spec = this.mustSpec();
    const began = performance.now();
    const out = await this.session.run(spec.inputName, data, dims, spec.outputName);
    return { data: out.data, dims: out.dims, inferMs: performance.now() - began };
  }

  private mustSpec(): RunSpec {
    if (!this.spec) throw new Error('runner used before configure()');
    return this.spec;
  }
}

/** The model on the calling thread: each run blocks it for the run's length. */
export class InThreadRunner extends SessionRunner implements InferenceRunner {
  readonly capacity = 1;

  static async open(modelPath: string, options: SessionOptions): Promise<InThreadRunner> {
    // One decode per CPU: the calling thread only waits on libvips.
    return new InThreadRunner(await ModelSession.open(modelPath, options), new Slots(Math.max(2, usableCpus())));
  }

  get signature(): GraphSignature {
    return this.session.signature;
  }

  get device(): Device {
    return this.session.device;
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
