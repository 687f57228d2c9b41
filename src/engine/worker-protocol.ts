/** The messages between the inference pool and its worker threads. */
import type { ErrorCode } from '../errors.ts';
import type { GraphSignature } from '../model/spec.ts';
import type { ImageJob, WireOutcome } from './image-jobs.ts';
import type { RunSpec } from './runner.ts';
import type { Device, SessionOptions } from './session.ts';

/** The worker's `workerData`: what to open, and how. */
export interface WorkerOpen {
  modelPath: string;
  session: Omit<SessionOptions, 'onWarning'>;
}

export type ToWorker =
  | { kind: 'configure'; spec: RunSpec }
  | { kind: 'images'; id: number; images: ImageJob[] }
  | { kind: 'tensor'; id: number; data: Float32Array; dims: readonly number[] }
  | { kind: 'close' };

export type FromWorker =
  | { kind: 'ready'; signature: GraphSignature; device: Device; warnings: string[] }
  | { kind: 'open-failed'; code: ErrorCode; message: string }
  | { kind: 'images-done'; id: number; outcomes: WireOutcome[] }
  | { kind: 'tensor-done'; id: number; data: Float32Array; dims: readonly number[]; inferMs: number }
  | { kind: 'error'; id: number; code: ErrorCode; message: string };
