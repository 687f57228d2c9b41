/**
 * From a package's spec to the spec we run: CLI overrides applied, defaults
 * of bare packages taken from the graph, and the whole checked against the
 * graph's inputs and outputs. Pure: the graph arrives as a signature.
 */
import { createError } from '../errors.ts';
import type { Activation, ChannelOrder, GraphSignature, Layout, ModelSpec, PreprocessSpec, ResampleKernel, Size, TensorInfo } from './spec.ts';
import { imagenetShortestEdge, outputSize, resizeKernel } from './spec.ts';

/** Settings a user can force from the command line, whatever the package says. */
export interface SpecOverrides {
  /** The model input size (the crop, or the stretch target). */
  size?: Size;
  /** Resize the shorter side to this length before cropping. */
  resize?: number;
  resizeMode?: 'shorter' | 'stretch' | 'none';
  interpolation?: ResampleKernel;
  scale?: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  channelOrder?: ChannelOrder;
  layout?: Layout;
  activation?: Activation;
  inputName?: string;
  outputName?: string;
}

/** The resolved model: a spec whose input and output names are known and checked. */
export interface ResolvedSpec extends ModelSpec {
  inputName: string;
  outputName: string;
}

function overridePreprocess(pre: PreprocessSpec, o: SpecOverrides): PreprocessSpec {
  const size = o.size ?? outputSize(pre);
  const kernel = o.interpolation ?? resizeKernel(pre);
  const mode = o.resizeMode ?? (o.resize !== undefined ? 'shorter' : pre.resize.mode);
  let resize: PreprocessSpec['resize'];
  let crop = pre.crop;
  if (mode === 'stretch') {
    if (!size) throw createError('INVALID_OPTION', 'Expected --size with --resize-mode stretch: the package does not fix an input size');
    resize = { mode, size, kernel };
    crop = null;
  } else if (mode === 'shorter') {
    if (!size && o.resize === undefined && pre.resize.mode !== 'shorter') {
      throw createError('INVALID_OPTION', 'Expected --resize or --size with --resize-mode shorter');
    }
    const keep = pre.resize.mode === 'shorter' && !o.size ? pre.resize.shortestEdge : undefined;
    const edge = o.resize ?? keep ?? imagenetShortestEdge(size!);
    resize = { mode, shortestEdge: edge, kernel };
    crop = size ?? null;
  } else {
    resize = { mode };
    crop = o.size ?? crop;
  }
  return {
    resize,
    crop,
    scale: o.scale ?? pre.scale,
    mean: o.mean ?? pre.mean,
    std: o.std ?? pre.std,
    channelOrder: o.channelOrder ?? pre.channelOrder,
    layout: o.layout ?? pre.layout,
  };
}

const fixed = (d: number | string | undefined): number | null => (typeof d === 'number' && d > 0 ? d : null);

function pick(list: readonly TensorInfo[], name: string | null, what: 'input' | 'output'): TensorInfo {
  const names = list.map((t) => `"${t.name}"`).join(', ');
  if (name !== null) {
    const found = list.find((t) => t.name === name);
    if (!found) throw createError('MODEL_MISMATCH', `The package names ${what} "${name}" but the graph's ${what}s are ${names}`);
    return found;
  }
  const first = list[0];
  if (!first) throw createError('MODEL_INVALID', `The graph has no ${what}s`);
  if (what === 'input' && list.length > 1) {
    throw createError('MODEL_MISMATCH', `The graph has ${list.length} inputs (${names}); name the image input in imgcls.json or with --input-name`);
  }
  return first;
}

/**
 * A bare model.onnx comes with no preprocessing: take the layout and input
 * size from the graph when it fixes them, keeping ImageNet conventions
 * otherwise (shorter side to size/0.875, then centre crop).
 */
function graphDefaults(spec: ModelSpec, input: TensorInfo): ModelSpec {
  const [, d1, d2, d3] = input.shape;
  const layout: Layout = fixed(d3) === 3 && fixed(d1) !== 3 ? 'NHWC' : 'NCHW';
  const [h, w] = layout === 'NCHW' ? [fixed(d2), fixed(d3)] : [fixed(d1), fixed(d2)];
  const pre = { ...spec.preprocess, layout };
  if (h && w && pre.resize.mode === 'shorter') {
    const size = { width: w, height: h };
    pre.resize = { ...pre.resize, shortestEdge: imagenetShortestEdge(size) };
    pre.crop = size;
  }
  return { ...spec, preprocess: pre };
}

/**
 * Apply overrides and check the spec against the graph.
 * @throws ImgclsError MODEL_MISMATCH naming the first disagreement (rank,
 * channels, input size, class count), INVALID_OPTION for unusable overrides.
 */
export function resolveSpec(base: ModelSpec, graph: GraphSignature, overrides: SpecOverrides = {}): ResolvedSpec {
  const input = pick(graph.inputs, overrides.inputName ?? base.inputName, 'input');
  const output = pick(graph.outputs, overrides.outputName ?? base.outputName, 'output');
  const withDefaults = base.format === 'bare' ? graphDefaults(base, input) : base;
  const spec: ResolvedSpec = {
    ...withDefaults,
    activation: overrides.activation ?? withDefaults.activation,
    preprocess: overridePreprocess(withDefaults.preprocess, overrides),
    inputName: input.name,
    outputName: output.name,
  };
  checkInput(spec, input);
  checkOutput(spec, output);
  return spec;
}

function checkInput(spec: ResolvedSpec, input: TensorInfo): void {
  const where = `input "${input.name}"`;
  if (input.type !== 'float32') {
    throw createError('MODEL_MISMATCH', `The graph's ${where} has type ${input.type}; imgcls feeds float32 image tensors`);
  }
  if (input.shape.length !== 4) {
    throw createError('MODEL_MISMATCH', `The graph's ${where} has rank ${input.shape.length} [${input.shape.join(', ')}]; an image input has rank 4 (${spec.preprocess.layout})`);
  }
  const { layout } = spec.preprocess;
  const [, d1, d2, d3] = input.shape;
  const channels = fixed(layout === 'NCHW' ? d1 : d3);
  if (channels !== null && channels !== 3) {
    const other = fixed(layout === 'NCHW' ? d3 : d1);
    const hint = other === 3 ? `; the graph looks ${layout === 'NCHW' ? 'NHWC' : 'NCHW'}, so set the layout to match` : '';
    throw createError('MODEL_MISMATCH', `The graph's ${where} has ${channels} channels in layout ${layout} [${input.shape.join(', ')}]; imgcls feeds 3 (RGB)${hint}`);
  }
  const [h, w] = layout === 'NCHW' ? [fixed(d2), fixed(d3)] : [fixed(d1), fixed(d2)];
  const size = outputSize(spec.preprocess);
  if ((h !== null || w !== null) && !size) {
    throw createError('MODEL_MISMATCH', `The graph's ${where} needs ${w ?? '?'}x${h ?? '?'} images but the preprocessing does not fix a size; set one (--size)`);
  }
  if (size && ((h !== null && h !== size.height) || (w !== null && w !== size.width))) {
    throw createError('MODEL_MISMATCH', `The graph's ${where} needs ${w ?? '?'}x${h ?? '?'} images but the preprocessing produces ${size.width}x${size.height}`);
  }
}

function checkOutput(spec: ResolvedSpec, output: TensorInfo): void {
  const classes = fixed(output.shape[output.shape.length - 1]);
  if (output.shape.length < 2) {
    throw createError('MODEL_MISMATCH', `The graph's output "${output.name}" has rank ${output.shape.length}; expected [batch, classes]`);
  }
  if (classes !== null && classes !== spec.labels.length) {
    throw createError('MODEL_MISMATCH', `The graph's output "${output.name}" has ${classes} classes but the package has ${spec.labels.length} labels`);
  }
}
