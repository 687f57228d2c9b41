/**
 * The inference worker thread: opens one session and runs the batches the
 * pool sends, the next one decoding while the current one runs. It decodes,
 * resizes and writes the float tensor itself (into one buffer reused across
 * batches), so the HTTP thread only moves encoded bytes. One decode (and JS
 * resize) at a time per worker bounds the full-size pixels alive at once by
 * the worker count, and a collection is requested once enough of them are
 * dead (collector.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isImgclsError } from '../errors.ts';
import { pixelGarbageCollector } from './collector.ts';
import { toWire } from './image-jobs.ts';
import { SessionRunner } from './runner.ts';
import { ModelSession } from './session.ts';
import { Slots } from './slots.ts';
import type { ToWorker, FromWorker, WorkerOpen } from './worker-protocol.ts';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const failure = (err: unknown) =>
  isImgclsError(err) ? { code: err.code, message: err.message } : { code: 'INFERENCE_FAILED' as const, message: `Inference failed: ${(err as Error)?.message ?? String(err)}` };

async function main(): Promise<void> {
  const open = workerData as WorkerOpen;
  const warnings: string[] = [];
  let runner: SessionRunner;
  try {
    const session = await ModelSession.open(open.modelPath, { ...open.session, onWarning: (m) => warnings.push(m) });
    runner = new SessionRunner(session, new Slots(1), pixelGarbageCollector());
    post({ kind: 'ready', signature: session.signature, device: session.device, warnings });
  } catch (err) {
    post({ kind: 'open-failed', ...failure(err) });
    return;
  }
  port.on('message', (message: ToWorker) => {
    void handle(runner, message);
  });
}

/** The pool sends up to two jobs at once; the runner decodes one image at a time and runs one batch at a time. */
async function handle(runner: SessionRunner, message: ToWorker): Promise<void> {
  if (message.kind === 'configure') {
    runner.configure(message.spec);
    return;
  }
  if (message.kind === 'close') {
    await runner.session.close();
    port.close();
    return;
  }
  try {
    if (message.kind === 'images') {
      const outcomes = await runner.runImages(message.images);
      post({ kind: 'images-done', id: message.id, outcomes: outcomes.map(toWire) });
    } else {
      const out = await runner.runTensor(message.data, message.dims);
      // Outputs are small (batch × classes): copying beats detaching a buffer onnxruntime may own.
      post({ kind: 'tensor-done', id: message.id, data: out.data, dims: out.dims, inferMs: out.inferMs });
    }
  } catch (err) {
    post({ kind: 'error', id: message.id, ...failure(err) });
  }
}

void main();
