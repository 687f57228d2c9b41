/**
 * The classification pipeline: decode → preprocess → infer → postprocess.
 * This file only sequences the stages; each lives in its own module.
 */
import { isImgclsError, type ImgclsError } from '../errors.ts';
import { decodeImage, type DecodedImage } from '../image/decode.ts';
import type { Pixels, RgbImage } from '../image/pixels.ts';
import { fitToInput, writeTensor } from '../image/preprocess.ts';
import { readPackage } from '../model/package.ts';
import { resolveSpec, type ResolvedSpec, type SpecOverrides } from '../model/resolve.ts';
import type { GraphSignature, TensorInfo } from '../model/spec.ts';
import { DEFAULT_TOP_K, postprocess, scoreRows, type Prediction, type TopK } from './postprocess.ts';
import { ModelSession, type SessionOptions } from './session.ts';

export interface ClassifierOptions extends SessionOptions {
  overrides?: SpecOverrides;
  /** The most images one inference call takes; larger requests are split. */
  maxBatch?: number;
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

export type Resampler = 'sharp' | 'pillow';

export interface ClassifyOptions {
  topK?: TopK;
  /** Called after each inference call with its batch size and duration (the server's metrics). */
  onBatch?: (size: number, ms: number) => void;
}

export type ClassifyResult =
  | { ok: true; predictions: Prediction[]; timing: { decodeMs: number; inferMs: number } }
  | { ok: false; error: ImgclsError };

export const DEFAULT_MAX_BATCH = 8;

export class Classifier {
  /** The graph input that takes the image (resolveSpec checked it exists). */
  readonly input: TensorInfo;

  private constructor(
    readonly spec: ResolvedSpec,
    readonly modelPath: string,
    private readonly session: ModelSession,
    private readonly options: ClassifierOptions,
  ) {
    this.input = session.signature.inputs.find((i) => i.name === spec.inputName)!;
  }

  /**
   * Load a model package directory, check it against its graph, and open it.
   * @throws ImgclsError MODEL_NOT_FOUND, MODEL_INVALID, LABELS_INVALID or MODEL_MISMATCH.
   */
  static async load(dir: string, options: ClassifierOptions = {}): Promise<Classifier> {
    const pkg = await readPackage(dir);
    const session = await ModelSession.open(pkg.modelPath, options);
    try {
      const spec = resolveSpec(pkg.spec, session.signature, options.overrides);
      return new Classifier(spec, pkg.modelPath, session, options);
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  get signature(): GraphSignature {
    return this.session.signature;
  }



  get device(): string {
    return this.session.device;
  }

  /** True when the graph takes a batch of any size; a fixed batch of 1 is fed one image at a time. */
  private get batchable(): boolean {
    return this.input.shape[0] !== 1;
  }

  /**
   * Classify encoded images. Each image gets its own result: one that fails
   * to decode carries its error, and the others still run.
   */
  async classify(inputs: readonly Uint8Array[], options: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    const decodeStart = performance.now();
    // sharp resizes while decoding unless the user asked for Pillow's pixels; the decoder says per image (`fitted`) whether it did.
    const inDecoder = this.options.resampler !== 'pillow';
    const decoded = await Promise.allSettled(
      inputs.map((bytes) => decodeImage(bytes, { spec: inDecoder ? this.spec.preprocess : undefined, maxPixels: this.options.maxPixels })),
    );
    const decodeMs = performance.now() - decodeStart;
    const results: ClassifyResult[] = new Array(inputs.length);
    const good: { index: number; image: DecodedImage }[] = [];
    decoded.forEach((d, index) => {
      if (d.status === 'fulfilled') good.push({ index, image: d.value });
      // decodeImage maps every decoding failure onto the catalogue; anything else is a bug, not a bad image.
      else if (isImgclsError(d.reason)) results[index] = { ok: false, error: d.reason };
      else throw d.reason;
    });
    if (good.length > 0) {
      const inferStart = performance.now();
      const pre = this.spec.preprocess;
      const ready = good.map((g) => (g.image.fitted ? g.image : fitToInput(g.image, pre)));
      const predictions = await this.classifyPixels(ready, options, true);
      const inferMs = performance.now() - inferStart;
      good.forEach((g, i) => {
        results[g.index] = { ok: true, predictions: predictions[i]!, timing: { decodeMs, inferMs } };
      });
    }
    return results;
  }

  /**
   * Classify decoded pixels. Unless `fitted` says they already have the
   * input size (the decoder resized them), they are resized and cropped here.
   */
  async classifyPixels(images: readonly Pixels[], options: ClassifyOptions = {}, fitted = false): Promise<Prediction[][]> {
    const pre = this.spec.preprocess;
    const ready = fitted ? images : images.map((img) => fitToInput(img as RgbImage, pre));
    const maxBatch = this.batchable ? Math.max(1, this.options.maxBatch ?? DEFAULT_MAX_BATCH) : 1;
    const out: Prediction[][] = [];
    for (let start = 0; start < ready.length; start += maxBatch) {
      const chunk = ready.slice(start, start + maxBatch);
      const began = performance.now();
      out.push(...(await this.runBatch(chunk, options.topK ?? DEFAULT_TOP_K)));
      options.onBatch?.(chunk.length, performance.now() - began);
    }
    return out;
  }

  private async runBatch(images: readonly Pixels[], k: TopK): Promise<Prediction[][]> {
    const first = images[0]!;
    // Images of different sizes (no fixed input size) cannot share a tensor.
    if (images.some((i) => i.width !== first.width || i.height !== first.height)) {
      const each: Prediction[][] = [];
      for (const img of images) each.push(...(await this.runBatch([img], k)));
      return each;
    }
    const pre = this.spec.preprocess;
    const per = first.width * first.height * 3;
    const batch = new Float32Array(per * images.length);
    images.forEach((img, i) => writeTensor(img, pre, batch, i * per));
    const dims = pre.layout === 'NCHW' ? [images.length, 3, first.height, first.width] : [images.length, first.height, first.width, 3];
    const output = await this.session.run(this.spec.inputName, batch, dims, this.spec.outputName);
    return postprocess(output.data, images.length, this.spec.labels, this.spec.activation, k);
  }

  /**
   * Run the model on a tensor the caller already preprocessed (the Open
   * Inference Protocol's FP32 input), and return one row of class-ordered
   * scores per image after the package's activation, so they read like
   * `classify`'s.
   * @throws ImgclsError INFERENCE_FAILED when the shape does not fit the graph, MODEL_MISMATCH when the output does not match the labels.
   */
  async scoresForTensor(data: Float32Array, dims: readonly number[], options: Pick<ClassifyOptions, 'onBatch'> = {}): Promise<Float64Array[]> {
    const began = performance.now();
    const output = await this.session.run(this.spec.inputName, data, dims, this.spec.outputName);
    const batch = dims[0] ?? 1;
    options.onBatch?.(batch, performance.now() - began);
    return scoreRows(output.data, batch, this.spec.labels, this.spec.activation);
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
