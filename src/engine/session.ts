/**
 * Inference: the only module that imports onnxruntime-node. Opens a session
 * with the user's threading, optimisation and device choices, reports the
 * graph's signature, and runs float32 batches.
 */
// First: it turns onnxruntime's telemetry off before the library loads.
import './ort-env.ts';
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.ts';
import type { GraphSignature, TensorInfo } from '../model/spec.ts';

// onnxruntime's own logger prints errors that also reach us as exceptions,
// which we word ourselves: a missing CUDA provider printed two red
// "Failed to load library" blocks per worker before our one-line warning.
ort.env.logLevel = 'fatal';

export type Device = 'cpu' | 'cuda';
export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Threads for one operator; 0 or unset lets onnxruntime pick (one per physical core). */
  threads?: number;
  optimization?: GraphOptimization;
  device?: Device;
  /** Told when a requested device cannot be used and the CPU is used instead. */
  onWarning?: (message: string) => void;
}

export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

function infoOf(meta: ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, type: 'non-tensor', shape: [] };
  return { name: meta.name, type: meta.type, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) };
}

export class ModelSession {
  readonly signature: GraphSignature;
  readonly device: Device;

  private constructor(
    private readonly session: ort.InferenceSession,
    device: Device,
  ) {
    this.device = device;
    this.signature = {
      inputs: session.inputMetadata.map(infoOf),
      outputs: session.outputMetadata.map(infoOf),
    };
  }

  /**
   * Open a model from a file path or ONNX bytes.
   * @throws ImgclsError MODEL_INVALID when onnxruntime cannot load the graph.
   */
  static async open(model: string | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: options.optimization ?? 'all',
      intraOpNumThreads: options.threads ?? 0,
      logSeverityLevel: 3,
    };
    // Two identical calls because onnxruntime's overloads do not accept the
    // union. A path is passed as is so onnxruntime can load external weights.
    const create = (providers: string[]) =>
      typeof model === 'string'
        ? ort.InferenceSession.create(model, { ...base, executionProviders: providers })
        : ort.InferenceSession.create(model, { ...base, executionProviders: providers });
    const where = typeof model === 'string' ? model : 'the model bytes';
    if (options.device === 'cuda') {
      try {
        return new ModelSession(await create(['cuda', 'cpu']), 'cuda');
      } catch (err) {
        const reason = (err as Error).message.split('\n')[0];
        options.onWarning?.(`CUDA execution provider unavailable (${reason}); running on the CPU. Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12 to use the GPU.`);
      }
    }
    try {
      return new ModelSession(await create(['cpu']), 'cpu');
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0];
      throw createError('MODEL_INVALID', `onnxruntime could not load ${where}: ${reason}`, err);
    }
  }

  /**
   * Run one batch through the graph.
   * @throws ImgclsError INFERENCE_FAILED when onnxruntime rejects the feed.
   */
  async run(inputName: string, data: Float32Array, dims: readonly number[], outputName: string): Promise<OutputTensor> {
    const [out] = await this.runFeeds({ [inputName]: { data, dims } }, [outputName]);
    return out!;
  }

  /**
   * Run float32 inputs by name and return the named float32 outputs (the
   * trainer's matrix products take two inputs).
   * @throws ImgclsError INFERENCE_FAILED when onnxruntime rejects the feeds, MODEL_MISMATCH when an output is not float32.
   */
  async runFeeds(feeds: Record<string, { data: Float32Array; dims: readonly number[] }>, outputs: readonly string[]): Promise<OutputTensor[]> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor('float32', t.data, t.dims);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(tensors, outputs as string[]);
    } catch (err) {
      throw createError('INFERENCE_FAILED', `Inference failed: ${(err as Error).message.split('\n')[0]}`, err);
    }
    return outputs.map((name) => {
      const out = result[name];
      if (!out || out.type !== 'float32') {
        throw createError('MODEL_MISMATCH', `The graph's output "${name}" is ${out?.type ?? 'missing'}; expected float32 scores`);
      }
      return { data: out.data as Float32Array, dims: out.dims };
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
