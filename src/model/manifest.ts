/**
 * imgcls.json, our own manifest: everything needed to run a model that is not
 * in the Hugging Face layout (Keras conversions, BGR Caffe models, NHWC
 * graphs, multi-label heads). Unknown keys are refused so typos surface.
 *
 * {
 *   "name": "nsfw-mobilenet-v2",
 *   "model": "model.onnx",
 *   "labels": ["Drawing", "Hentai", ...] | "labels.txt",
 *   "input": {
 *     "name": "input", "layout": "NHWC", "width": 224, "height": 224,
 *     "resize": "stretch" | "shorter", "shortest_edge": 256,
 *     "interpolation": "bilinear",
 *     "scale": 0.00392156862745098, "mean": [0, 0, 0], "std": [1, 1, 1],
 *     "channel_order": "RGB"
 *   },
 *   "output": { "name": "probabilities", "activation": "none" }
 * }
 */
import { FieldChecker } from './check.ts';
import { imagenetShortestEdge, type Activation, type ModelSpec, type PreprocessSpec, type ResampleKernel } from './spec.ts';

export const MANIFEST_FILE = 'imgcls.json';

const KERNELS_BY_NAME = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos: 'lanczos3',
  'bilinear-align-corners': 'align-corners',
} as const satisfies Record<string, ResampleKernel>;

/** The manifest's (and the CLI's) names for the resampling kernels. */
export type InterpolationName = keyof typeof KERNELS_BY_NAME;
export const INTERPOLATIONS: Record<string, ResampleKernel> = KERNELS_BY_NAME;
export const INTERPOLATION_NAMES = Object.keys(KERNELS_BY_NAME) as InterpolationName[];

const TOP_KEYS = ['name', 'model', 'labels', 'input', 'output', 'batching', 'description', 'metadata'];
const INPUT_KEYS = ['name', 'layout', 'width', 'height', 'resize', 'shortest_edge', 'interpolation', 'scale', 'mean', 'std', 'channel_order'];
const OUTPUT_KEYS = ['name', 'activation'];
const BATCHING_KEYS = ['max_batch', 'max_delay_ms'];

export interface ParsedManifest {
  spec: Omit<ModelSpec, 'labels'>;
  /** Inline labels, or the name of a labels file next to the manifest. */
  labels: string[] | { file: string };
  modelFile: string;
}

export function parseManifest(value: unknown, fallbackName: string): ParsedManifest {
  const check = new FieldChecker(MANIFEST_FILE);
  const top = check.object('the manifest', value);
  check.knownKeys('the manifest', top, TOP_KEYS);
  const input = check.object('input', top.input ?? {});
  check.knownKeys('input', input, INPUT_KEYS);
  const output = check.object('output', top.output ?? {});
  check.knownKeys('output', output, OUTPUT_KEYS);
  // Per model, as Triton's config.pbtxt dynamic_batching: a large model may want longer waits than a small one.
  const batching = check.object('batching', top.batching ?? {});
  check.knownKeys('batching', batching, BATCHING_KEYS);

  let labels: ParsedManifest['labels'];
  if (typeof top.labels === 'string') labels = { file: check.string('labels', top.labels) };
  else if (Array.isArray(top.labels) && top.labels.length > 0 && top.labels.every((l) => typeof l === 'string' && l !== '')) labels = top.labels as string[];
  else return check.fail('labels', 'a non-empty array of label strings or the name of a labels file', top.labels);

  const width = check.positiveInt('input.width', input.width);
  const height = check.positiveInt('input.height', input.height);
  const kernel = INTERPOLATIONS[check.oneOf('input.interpolation', input.interpolation ?? 'bilinear', Object.keys(INTERPOLATIONS))]!;
  const policy = check.oneOf('input.resize', input.resize ?? 'shorter', ['shorter', 'stretch'] as const);
  const preprocess: PreprocessSpec = {
    resize:
      policy === 'stretch'
        ? { mode: 'stretch', size: { width, height }, kernel }
        : {
            mode: 'shorter',
            // Default to the ImageNet ratio: 256 for a 224 crop.
            shortestEdge: input.shortest_edge === undefined ? imagenetShortestEdge({ width, height }) : check.positiveInt('input.shortest_edge', input.shortest_edge),
            kernel,
          },
    crop: policy === 'stretch' ? null : { width, height },
    scale: input.scale === undefined ? 1 / 255 : check.positiveNumber('input.scale', input.scale),
    mean: check.triple('input.mean', input.mean ?? 0),
    std: check.triple('input.std', input.std ?? 1, true),
    channelOrder: check.oneOf('input.channel_order', input.channel_order ?? 'RGB', ['RGB', 'BGR'] as const),
    layout: check.oneOf('input.layout', input.layout ?? 'NCHW', ['NCHW', 'NHWC'] as const),
  };
  return {
    spec: {
      name: top.name === undefined ? fallbackName : check.string('name', top.name),
      inputName: input.name === undefined ? null : check.string('input.name', input.name),
      outputName: output.name === undefined ? null : check.string('output.name', output.name),
      activation: check.oneOf<Activation>('output.activation', output.activation ?? 'softmax', ['softmax', 'sigmoid', 'none']),
      preprocess,
      format: 'imgcls',
      batching: {
        maxBatch: batching.max_batch === undefined ? undefined : check.positiveInt('batching.max_batch', batching.max_batch),
        maxDelayMs: batching.max_delay_ms === undefined ? undefined : check.nonNegativeNumber('batching.max_delay_ms', batching.max_delay_ms),
      },
    },
    labels,
    modelFile: top.model === undefined ? 'model.onnx' : check.string('model', top.model),
  };
}
