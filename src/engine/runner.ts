/**
 * Where a model runs. onnxruntime-node's `session.run()` computes on the
 * thread that calls it, so the server runs models in worker threads
 * (worker-pool.ts) and keeps its own thread for I/O. `InThreadRunner` is the
 * same contract on the calling thread: for tools that have nothing else to
 * do meanwhile, and as the benchmark's reference.
 */
import type { GraphSignature, PreprocessSpec } from '../model/spec.ts';
import { packedTensor } from '../image/preprocess.ts';
import { ModelSession, type Device, type SessionOptions } from './session.ts';

/** What a runner needs to turn pixels into the graph's input and read its output. */
export interface RunSpec {
  inputName: string;
  outputName: string;
  preprocess: PreprocessSpec;
}

/** Images of one size, packed back to back: uint8 from sharp, or float from the align-corners resize. */
export interface PackedImages {
  pixels: Uint8Array | Float32Array;
  count: number;
  width: number;
  height: number;
}

export interface RunOutput {
  /** The output tensor, row-major, `dims[0]` rows. */
  data: Float32Array;
  dims: readonly number[];
  /** Writing the float tensor from pixels (0 for a tensor the caller made). */
  preprocessMs: number;
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
  runImages(images: PackedImages): Promise<RunOutput>;
  runTensor(data: Float32Array, dims: readonly number[]): Promise<RunOutput>;
  close(): Promise<void>;
}

/** The work both runners do once they hold a session: tensor from pixels, run, time. Shared with the worker. */
export class SessionRunner {
  private spec: RunSpec | null = null;
  private tensor: Float32Array | undefined;

  constructor(readonly session: ModelSession) {}

  configure(spec: RunSpec): void {
    this.spec = spec;
  }

  async runImages(images: PackedImages): Promise<RunOutput> {
    const spec = this.mustSpec();
    const began = performance.now();
    const { data, dims } = packedTensor(images.pixels, images.count, images.width, images.height, spec.preprocess, this.tensor);
    this.tensor = data;
    const preprocessMs = performance.now() - began;
    const out = await this.run(data, dims);
    return { ...out, preprocessMs };
  }

  async runTensor(data: Float32Array, dims: readonly number[]): Promise<RunOutput> {
    return { ...(await this.run(data, dims)), preprocessMs: 0 };
  }

  private async run(data: Float32Array, dims: readonly number[]): Promise<Omit<RunOutput, 'preprocessMs'>> {
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
    return new InThreadRunner(await ModelSession.open(modelPath, options));
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
