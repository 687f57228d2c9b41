/**
 * A pool of inference worker threads, each with its own onnxruntime session
 * of the same model. The calling thread only posts encoded images and reads
 * back scores; each worker decodes, resizes and runs. So an HTTP server keeps
 * answering (health probes, uploads) while every worker computes.
 *
 * Why several single-threaded workers rather than one worker with an
 * onnxruntime thread per core: on MobileNetV2 at batch 1 on 2 vCPUs, 2
 * workers × 1 thread ran 237 images/s against 165 for 1 worker × 2 threads,
 * and a single thread has no spinning pool to steal time from the decoder
 * (BENCHMARKS.md, "Inference workers").
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createError, type ImgclsError } from '../errors.ts';
import type { Pixels } from '../image/pixels.ts';
import type { GraphSignature } from '../model/spec.ts';
import { fromWire, type ImageJob, type ImageOutcome } from './image-jobs.ts';
import type { InferenceRunner, RunOutput, RunSpec } from './runner.ts';
import type { Device, SessionOptions } from './session.ts';
import type { FromWorker, ToWorker, WorkerOpen } from './worker-protocol.ts';

/** A job's answer: `images-done` or `tensor-done`; `error` and a dead worker reject it instead. */
type Done = Extract<FromWorker, { kind: 'images-done' | 'tensor-done' }>;
type Job = { message: ToWorker & { id: number }; transfer: ArrayBuffer[]; resolve: (done: Done) => void; reject: (err: ImgclsError) => void };

interface Slot {
  worker: Worker;
  /** Sent and not yet answered, oldest first: at most JOBS_PER_WORKER. */
  jobs: Job[];
}

/**
 * Batches each worker holds at once. With two, the next batch's decode (on
 * libvips' threads) runs while the worker's thread runs the current one's
 * model; with one, a worker's CPU sat idle while it waited for each decode.
 * The worker still decodes one image at a time, so full-size pixels stay
 * bounded by the worker count.
 */
const JOBS_PER_WORKER = 2;

export interface PoolOptions extends SessionOptions {
  /** Worker threads, each running one batch at a time (and holding the next). */
  workers: number;
}

const WORKER_FILE = `./inference-worker${path.extname(new URL(import.meta.url).pathname)}`;

function spawn(open: WorkerOpen): Worker {
  const url = new URL(WORKER_FILE, import.meta.url);
  if (url.pathname.endsWith('.ts')) {
    // Running from source under tsx (tests, scripts): on Node 20 the loader
    // hooks registered by `--import tsx` do not reach worker threads, so the
    // worker registers them before importing the TypeScript entry.
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
    return new Worker(boot, { eval: true, workerData: open });
  }
  return new Worker(url, { workerData: open });
}

/** Start one worker and wait until its session is open. */
function start(open: WorkerOpen): Promise<{ worker: Worker; ready: Extract<FromWorker, { kind: 'ready' }> }> {
  const worker = spawn(open);
  return new Promise((resolve, reject) => {
    // Remove only our own listeners: Worker keeps internal ones (they start its message port).
    const detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const fail = (err: ImgclsError) => {
      detach();
      void worker.terminate();
      reject(err);
    };
    const onMessage = (m: FromWorker) => {
      if (m.kind === 'ready') {
        detach();
        resolve({ worker, ready: m });
      } else if (m.kind === 'open-failed') fail(createError(m.code, m.message));
      else fail(createError('INFERENCE_FAILED', `The inference worker sent ${m.kind} before it was ready`));
    };
    const onError = (err: Error) => fail(createError('INFERENCE_FAILED', `The inference worker failed to start: ${err.message}`, err));
    const onExit = (code: number) => fail(createError('INFERENCE_FAILED', `The inference worker exited (code ${code}) while opening the model`));
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}

export class WorkerPool implements InferenceRunner {
  /** Batches in flight at once: JOBS_PER_WORKER per worker. */
  readonly capacity: number;
  /** Worker threads. */
  readonly workers: number;
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private spec: RunSpec | null = null;
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly open: WorkerOpen,
    readonly signature: GraphSignature,
    readonly device: Device,
    workers: Worker[],
  ) {
    this.workers = workers.length;
    this.capacity = workers.length * JOBS_PER_WORKER;
    for (const worker of workers) this.adopt(worker);
  }

  /**
   * Start `options.workers` workers on `modelPath`.
   * @throws ImgclsError MODEL_INVALID (and the other open errors) from the first worker that fails.
   */
  static async open(modelPath: string, options: PoolOptions): Promise<WorkerPool> {
    const { workers, onWarning, ...session } = options;
    const open: WorkerOpen = { modelPath, session };
    const started = await Promise.allSettled(Array.from({ length: Math.max(1, workers) }, () => start(open)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : undefined)));
      throw failed.reason;
    }
    const ok = started.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof start>>>).value);
    // Every worker says the same: report a fallback (CUDA missing) once.
    for (const w of ok[0]!.ready.warnings) onWarning?.(w);
    return new WorkerPool(open, ok[0]!.ready.signature, ok[0]!.ready.device, ok.map((s) => s.worker));
  }

  configure(spec: RunSpec): void {
    this.spec = spec;
    for (const slot of this.slots) slot.worker.postMessage({ kind: 'configure', spec } satisfies ToWorker);
  }

  async runImages(images: readonly ImageJob[]): Promise<ImageOutcome[]> {
    // Each image's bytes or pixels are moved, never cloned: posting a view
    // would clone its whole underlying buffer (a pooled chunk, a whole
    // request body). Bytes the caller hands over are moved as they are when
    // they fill their buffer; anything else is copied into a buffer of its
    // own first, because the caller keeps it (the server saves uploads and
    // draws thumbnails from them after).
    const transfer: ArrayBuffer[] = [];
    // (Not `slice()`: on a Node Buffer it is a view, and moving its buffer would detach the caller's bytes.)
    const own = <T extends Uint8Array | Float32Array>(data: T, handOver = false): T => {
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
      const moved = handOver && whole ? data : ((data instanceof Float32Array ? new Float32Array(data) : new Uint8Array(data)) as T);
      transfer.push(moved.buffer as ArrayBuffer);
      return moved;
    };
    const jobs = images.map((job): ImageJob => {
      if ('bytes' in job) return { bytes: own(job.bytes, job.handOver) };
      return { pixels: { ...job.pixels, data: own(job.pixels.data) } as Pixels, fitted: job.fitted };
    });
    const done = await this.submit({ kind: 'images', id: this.nextId++, images: jobs }, transfer);
    if (done.kind !== 'images-done') throw createError('INFERENCE_FAILED', `The inference worker answered images with ${done.kind}`);
    return done.outcomes.map(fromWire);
  }

  async runTensor(data: Float32Array, dims: readonly number[]): Promise<RunOutput> {
    // A copy of its own: `data` may be a view on a much larger request buffer, which posting would clone whole.
    const own = data.slice();
    const done = await this.submit({ kind: 'tensor', id: this.nextId++, data: own, dims }, [own.buffer]);
    if (done.kind !== 'tensor-done') throw createError('INFERENCE_FAILED', `The inference worker answered a tensor with ${done.kind}`);
    return { data: done.data, dims: done.dims, inferMs: done.inferMs };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(createError('INFERENCE_FAILED', 'The model was closed before this batch ran'));
    await Promise.all(
      this.slots.map(async ({ worker }) => {
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.postMessage({ kind: 'close' } satisfies ToWorker);
        // A worker stuck in a run is not waited for: terminate it after a grace period.
        const timer = setTimeout(() => void worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.slots.length = 0;
  }

  private submit(message: ToWorker & { id: number }, transfer: ArrayBuffer[]): Promise<Done> {
    if (this.closed) return Promise.reject(createError('INFERENCE_FAILED', 'The model is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ message, transfer, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    // The least busy worker first, so an idle worker never waits while another holds two batches.
    while (this.waiting.length > 0) {
      const slot = this.slots.reduce<Slot | undefined>((best, s) => (s.jobs.length < JOBS_PER_WORKER && (!best || s.jobs.length < best.jobs.length) ? s : best), undefined);
      if (!slot) return;
      const job = this.waiting.shift()!;
      slot.jobs.push(job);
      // Only a worker with work keeps the process alive: a CLI that forgot close() still exits.
      slot.worker.ref();
      slot.worker.postMessage(job.message, job.transfer);
    }
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, jobs: [] };
    this.slots.push(slot);
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if (m.kind !== 'images-done' && m.kind !== 'tensor-done' && m.kind !== 'error') return;
      const index = slot.jobs.findIndex((j) => j.message.id === m.id);
      if (index < 0) return;
      const [job] = slot.jobs.splice(index, 1) as [Job];
      if (slot.jobs.length === 0) worker.unref();
      if (m.kind === 'error') job.reject(createError(m.code, m.message));
      else job.resolve(m);
      this.pump();
    });
    worker.on('error', (err) => {
      for (const job of slot.jobs.splice(0)) job.reject(createError('INFERENCE_FAILED', `The inference worker failed: ${err.message}`, err));
    });
    worker.on('exit', () => void this.replace(slot));
  }

  /** A worker that died (a native crash, out of memory) fails its batch and is replaced, so the model keeps serving. */
  private async replace(slot: Slot): Promise<void> {
    for (const job of slot.jobs.splice(0)) job.reject(createError('INFERENCE_FAILED', 'The inference worker stopped during this batch'));
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    if (this.closed) return;
    try {
      const { worker } = await start(this.open);
      if (this.closed) {
        await worker.terminate();
        return;
      }
      this.adopt(worker);
      if (this.spec) worker.postMessage({ kind: 'configure', spec: this.spec } satisfies ToWorker);
      this.pump();
    } catch {
      // The model opened before, so this is the machine (memory); the remaining workers carry on.
      if (this.slots.length === 0) {
        for (const job of this.waiting.splice(0)) job.reject(createError('INFERENCE_FAILED', 'No inference worker is left to run this batch'));
      }
    }
  }
}
