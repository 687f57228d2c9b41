/**
 * What a model package says about a model, whatever layout it came from
 * (Hugging Face, imgcls.json, or a bare model.onnx with a labels file).
 * Every layout is parsed into this one shape; nothing downstream branches on
 * where a model came from.
 */

export type Layout = 'NCHW' | 'NHWC';
export type ChannelOrder = 'RGB' | 'BGR';
export type Activation = 'softmax' | 'sigmoid' | 'none';
/**
 * Resampling kernel; names follow sharp, and PIL's resample codes map onto them.
 * `align-corners` is TF.js's resizeBilinear(alignCorners: true): two taps per
 * axis, no antialiasing, float output. nsfwjs resizes this way, so its models
 * only reproduce nsfwjs's scores on large photos with it.
 */
export type ResampleKernel = 'nearest' | 'linear' | 'cubic' | 'lanczos3' | 'align-corners';

export interface Size {
  width: number;
  height: number;
}

/**
 * How to bring an image to the model's input size.
 * - `shorter`: scale so the shorter side equals `shortestEdge`, keeping aspect
 *   ratio (the longer side is floored, as Hugging Face and torchvision do);
 * - `stretch`: scale to exactly `size`, ignoring aspect ratio (Keras, nsfwjs);
 * - `none`: no resizing; the centre crop, if any, still applies (Hugging
 *   Face's do_resize: false with do_center_crop: true).
 */
export type ResizeSpec =
  | { mode: 'shorter'; shortestEdge: number; kernel: ResampleKernel }
  | { mode: 'stretch'; size: Size; kernel: ResampleKernel }
  | { mode: 'none' };

/** The kernel a spec resizes with; a spec that does not resize (crop only) counts as linear. */
export const resizeKernel = (spec: PreprocessSpec): ResampleKernel => (spec.resize.mode === 'none' ? 'linear' : spec.resize.kernel);

export interface PreprocessSpec {
  resize: ResizeSpec;
  /** Centre crop after resizing; the offset is floored, as in Hugging Face. */
  crop: Size | null;
  /** Multiplies 0–255 pixel values first (1/255 gives [0, 1]). */
  scale: number;
  /** Subtracted after scaling, per channel in RGB order. */
  mean: readonly [number, number, number];
  /** Divides after subtracting the mean, per channel in RGB order. */
  std: readonly [number, number, number];
  channelOrder: ChannelOrder;
  layout: Layout;
}

export interface ModelSpec {
  name: string;
  labels: readonly string[];
  inputName: string | null;
  outputName: string | null;
  activation: Activation;
  preprocess: PreprocessSpec;
  /** Which layout the package was read from, for `inspect`. */
  format: 'huggingface' | 'imgcls' | 'bare';
  /** The package's own dynamic-batching settings (imgcls.json "batching"); command-line flags override them. */
  batching?: { maxBatch?: number; maxDelayMs?: number };
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** The torchvision ImageNet evaluation transform: resize 256, centre crop 224, ImageNet mean/std. */
export function imagenetPreprocess(): PreprocessSpec {
  return {
    resize: { mode: 'shorter', shortestEdge: 256, kernel: 'linear' },
    crop: { width: 224, height: 224 },
    scale: 1 / 255,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    channelOrder: 'RGB',
    layout: 'NCHW',
  };
}

/** The ImageNet ratio's resize for a crop of `size`: shorter side / 0.875, floored (256 for 224). */
export function imagenetShortestEdge(size: Size): number {
  return Math.floor(Math.min(size.width, size.height) / 0.875);
}

/** The spatial size the model input gets after resize and crop, if fixed by the spec. */
export function outputSize(spec: PreprocessSpec): Size | null {
  if (spec.crop) return spec.crop;
  if (spec.resize.mode === 'stretch') return spec.resize.size;
  return null;
}

/** An input or output of the ONNX graph, as the runtime reports it. Symbolic dims are strings. */
export interface TensorInfo {
  name: string;
  type: string;
  shape: readonly (number | string)[];
}

export interface GraphSignature {
  inputs: readonly TensorInfo[];
  outputs: readonly TensorInfo[];
}
