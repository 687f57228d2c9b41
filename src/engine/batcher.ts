/**
 * Dynamic batching, per model, as Triton's dynamic batcher does it: images
 * from concurrent requests queue here and go to the runner together. A batch
 * leaves when it is full (`maxBatch`), when its oldest image has waited
 * `maxDelayMs`, and only when the runner has a free worker. While every
 * worker is busy the queue fills by itself, so under load batches form
 * without anyone waiting on purpose; `maxDelayMs` only matters when workers
 * are idle.
 */
import { createError, isImgclsError, type ImgclsError } from '../errors.ts';
import type { Pixels } from '../image/pixels.ts';
import type { InferenceRunner, PackedImages } from './runner.ts';

export interface BatchingOptions {
  /** Most images in one run. */
  maxBatch: number;
  /** Longest an image waits for others while a worker is free. */
  maxDelayMs: number;
}

export interface BatchedRow {
  /** This image's row of the output. */
  row: Float32Array;
  /** Waiting in the queue, until its batch was sent. */
  queueMs: number;
  /** Writing its batch's tensor, in the worker. */
  preprocessMs: number;
  /** Its batch's onnxruntime run. */
  inferMs: number;
  batchSize: number;
}

interface Pending {
  pixels: Pixels;
  enqueued: number;
  resolve: (row: BatchedRow) => void;
  reject: (err: ImgclsError) => void;
}

/** Pack images of one size back to back, as uint8 unless one of them is float. */
function pack(items: readonly Pending[]): PackedImages {
  const { width, height } = items[0]!.pixels;
  const per = width * height * 3;
  const float = items.some((i) => i.pixels.data instanceof Float32Array);
  const pixels = float ? new Float32Array(per * items.length) : new Uint8Array(per * items.length);
  items.forEach((item, i) => pixels.set(item.pixels.data, i * per));
  return { pixels, count: items.length, width, height };
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private inflight = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly runner: InferenceRunner,
    readonly options: BatchingOptions,
    /** Told of every batch run: its size and how long the runner took. */
    private readonly onBatch?: (size: number, ms: number) => void,
  ) {}

  /** Images waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Classify one image (already at the input size) in whichever batch it joins. */
  submit(pixels: Pixels): Promise<BatchedRow> {
    return new Promise((resolve, reject) => {
      this.queue.push({ pixels, enqueued: performance.now(), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inflight < this.runner.capacity && this.queue.length > 0) {
      const waited = performance.now() - this.queue[0]!.enqueued;
      if (this.queue.length < this.options.maxBatch && waited < this.options.maxDelayMs) {
        this.timer ??= setTimeout(() => {
          this.timer = null;
          this.pump();
        }, Math.ceil(this.options.maxDelayMs - waited));
        return;
      }
      // The timer was for an oldest image that is leaving now; the next one arms its own.
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      void this.dispatch(this.take());
    }
  }

  /** The oldest image and the next ones of its size (a model without a fixed input size gets images of several). */
  private take(): Pending[] {
    const first = this.queue[0]!.pixels;
    const batch: Pending[] = [];
    for (let i = 0; i < this.queue.length && batch.length < this.options.maxBatch; ) {
      const p = this.queue[i]!.pixels;
      if (p.width === first.width && p.height === first.height) batch.push(...this.queue.splice(i, 1));
      else i++;
    }
    return batch;
  }

  private async dispatch(batch: Pending[]): Promise<void> {
    this.inflight++;
    const sent = performance.now();
    try {
      const out = await this.runner.runImages(pack(batch));
      this.onBatch?.(batch.length, performance.now() - sent);
      const rows = out.dims[0];
      if (rows !== batch.length || out.data.length % batch.length !== 0) {
        throw createError('MODEL_MISMATCH', `The model returned ${rows} rows for a batch of ${batch.length} images`);
      }
      const per = out.data.length / batch.length;
      batch.forEach((p, i) =>
        p.resolve({ row: out.data.subarray(i * per, (i + 1) * per), queueMs: sent - p.enqueued, preprocessMs: out.preprocessMs, inferMs: out.inferMs, batchSize: batch.length }),
      );
    } catch (err) {
      const e = isImgclsError(err) ? err : createError('INFERENCE_FAILED', `Inference failed: ${(err as Error).message}`, err);
      for (const p of batch) p.reject(e);
    } finally {
      this.inflight--;
      this.pump();
    }
  }
}
