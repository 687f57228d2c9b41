/**
 * Dynamic batching, per model, as Triton's dynamic batcher does it: images
 * from concurrent requests queue here and go to the runner together. A batch
 * leaves when it is full (`maxBatch`), when its oldest image has waited
 * `maxDelayMs`, and only when the runner has a free worker. While every
 * worker is busy the queue fills by itself, so under load batches form
 * without anyone waiting on purpose; `maxDelayMs` only matters when workers
 * are idle. A batch leaves as the images came (encoded bytes, usually): the
 * runner decodes them, so this thread never holds their pixels.
 */
import { createError, isImgclsError, type ImgclsError } from '../errors.ts';
import type { ImageJob, RunTiming } from './image-jobs.ts';
import type { InferenceRunner } from './runner.ts';

export interface BatchingOptions {
  /** Most images in one run. */
  maxBatch: number;
  /** Longest an image waits for others while a worker is free. */
  maxDelayMs: number;
}

export interface BatchedRow extends RunTiming {
  /** This image's row of the output. */
  row: Float32Array;
  /** Waiting: in this queue, for a decode slot, for its batch's other images, and crossing threads. */
  queueMs: number;
}

interface Pending {
  job: ImageJob;
  enqueued: number;
  resolve: (row: BatchedRow) => void;
  reject: (err: ImgclsError) => void;
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

  /** Classify one image in whichever batch it joins; a bad image rejects with its catalogue error. */
  submit(job: ImageJob): Promise<BatchedRow> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, enqueued: performance.now(), resolve, reject });
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
      void this.dispatch(this.queue.splice(0, this.options.maxBatch));
    }
  }

  private async dispatch(batch: Pending[]): Promise<void> {
    this.inflight++;
    const sent = performance.now();
    try {
      const outcomes = await this.runner.runImages(batch.map((p) => p.job));
      const done = performance.now();
      this.onBatch?.(batch.length, done - sent);
      batch.forEach((p, i) => {
        const outcome = outcomes[i]!;
        if (!outcome.ok) return p.reject(outcome.error);
        const t = outcome.timing;
        const queueMs = Math.max(0, done - p.enqueued - t.decodeMs - t.resizeMs - t.preprocessMs - t.inferMs);
        p.resolve({ row: outcome.row, ...t, queueMs });
      });
    } catch (err) {
      const e = isImgclsError(err) ? err : createError('INFERENCE_FAILED', `Inference failed: ${(err as Error).message}`, err);
      for (const p of batch) p.reject(e);
    } finally {
      this.inflight--;
      this.pump();
    }
  }
}
