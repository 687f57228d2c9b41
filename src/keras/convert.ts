/**
 * Keras/TF.js layers model → ONNX. The model's layer calls (flattened by
 * topology.ts) are emitted one by one into an ONNX graph with an NHWC image
 * input, as Keras takes it (or NCHW on request); inside, images are held
 * NCHW (see context.ts).
 *
 * The same graph, cut at a named layer and pooled, is the feature extractor
 * the trainer uses.
 */
import { createError } from '../errors.ts';
import { encodeModel, GraphBuilder, int, ints } from '../onnx/model.ts';
import { EmitContext, fromKerasOrder, NHWC_TO_NCHW, toKerasOrder, WeightTable, type KTensor } from './context.ts';
import { LAYER_ALIASES, LAYERS } from './layers.ts';
import { flattenTopology, type KerasGraph, type KerasShape, type LayerCall } from './topology.ts';
import { decodeWeights, type WeightGroup } from './weights.ts';

/** A TF.js layers model: its topology, weight manifest and the weight bytes (all shards concatenated). */
export interface KerasModel {
  topology: unknown;
  weightsManifest: WeightGroup[];
  weightData: Uint8Array;
}

/** How a feature extractor pools its cut layer: globally, or averaged on a grid of n×n cells. */
export type Pooling = 'avg' | 'max' | 'none' | { grid: number };

/** The element order of the graph's image input: Keras's own (NHWC), or PyTorch's and Hugging Face's (NCHW). */
export type InputLayout = 'NHWC' | 'NCHW';

export interface ConvertOptions {
  /** Cut the graph at this layer's output (a feature extractor); `auto` is the last spatial layer. */
  cut?: string;
  /** Pooling of a cut at a spatial layer (default avg). */
  pool?: Pooling;
  inputName?: string;
  /**
   * The image input's layout (default NHWC, as Keras takes it). NCHW is the
   * layout the graph holds images in anyway, so it only drops the input's
   * Transpose: what Hugging Face's `pixel_values` [batch, 3, H, W] wants.
   */
  inputLayout?: InputLayout;
  outputName?: string;
  /** Dense layers appended after the (cut and pooled) output, then a softmax: a trained head. */
  head?: readonly DenseLayer[];
  /**
   * Output the scores before the final softmax (logits): the graph's last
   * Softmax is left out. For consumers that apply the softmax themselves
   * (transformers.js, imgcls's Hugging Face layout, where `logits` is the
   * convention). Refused when the output does not end in a softmax.
   */
  logits?: boolean;
}

/** A fully connected layer for `head`: y = x · weights + bias, weights input-major (inputs × outputs). */
export interface DenseLayer {
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
  /** ReLU after the layer (hidden layers); the last layer gets the softmax instead. */
  relu: boolean;
}

export interface LayerInfo {
  name: string;
  className: string;
  shape: KerasShape;
}

export interface Converted {
  onnx: Uint8Array;
  /** The input's Keras shape (NHWC whatever `inputLayout` is; the ONNX input is permuted for NCHW). */
  input: { name: string; shape: KerasShape };
  inputLayout: InputLayout;
  output: { name: string; shape: KerasShape };
  /** Every layer on the path to the output, with its Keras output shape. */
  layers: LayerInfo[];
  /** The layer the graph was cut at, for feature extractors. */
  cut: string | null;
  /** True when the output comes straight from a softmax or sigmoid (scores are probabilities). */
  activated: boolean;
}

/** The model's layers emitted into a graph, before any cut, pooling or output: what `finishKeras` builds on. */
export interface Emitted {
  graph: KerasGraph;
  builder: GraphBuilder;
  ctx: EmitContext;
  /** Each Keras tensor id's value in the graph. */
  tensors: Map<string, KTensor>;
  /** The input's Keras shape (NHWC whatever `inputLayout` is). */
  input: { name: string; shape: KerasShape };
  inputLayout: InputLayout;
  /** Every layer on the path to the output, with its Keras output shape. */
  layers: LayerInfo[];
}

const DEFAULT_INPUT_NAME = 'input';
const DEFAULT_OUTPUT_NAME = 'output';

const callName = (c: LayerCall) => [...c.scope, c.name].join('/');

function emitterFor(call: LayerCall) {
  const className = LAYER_ALIASES[call.className] ?? call.className;
  const emit = LAYERS[className];
  if (!emit) {
    const known = Object.keys(LAYERS).sort().join(', ');
    throw createError('UNSUPPORTED_LAYER', `Layer ${callName(call)} has class ${call.className}, which the importer does not convert (supported: InputLayer, ${known})`);
  }
  return emit;
}

/** The calls needed to compute `target`, in order. */
function requiredCalls(graph: KerasGraph, target: string): LayerCall[] {
  const producer = new Map(graph.calls.map((c) => [c.output, c]));
  const needed = new Set<string>();
  const visit = (id: string) => {
    if (needed.has(id)) return;
    needed.add(id);
    producer.get(id)?.inputs.forEach(visit);
  };
  visit(target);
  return graph.calls.filter((c) => needed.has(c.output));
}

/** The last spatial layer before the head: the default cut for feature extraction. */
function autoCut(layers: LayerInfo[]): string {
  for (let i = layers.length - 1; i >= 0; i--) {
    const s = layers[i]!.shape;
    if (s.length === 4 && s.slice(1, 3).some((d) => d === null || d! > 1)) return layers[i]!.name;
  }
  throw createError('INVALID_OPTION', 'The model has no spatial layer to cut at; name one with --layer');
}

function findCall(graph: KerasGraph, name: string): LayerCall {
  const matches = graph.calls.filter((c) => c.name === name || callName(c) === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw createError('INVALID_OPTION', `Layer name ${name} is ambiguous: ${matches.map(callName).join(', ')}`);
  throw createError('INVALID_OPTION', `The model has no layer named ${name}`);
}

/** Average over an n×n grid of cells (PyTorch's adaptive average pooling), flattened cell by cell in NHWC order. */
function gridPool(ctx: EmitContext, x: KTensor, n: number): KTensor {
  const [batch, h, w, c] = x.shape;
  if (typeof h !== 'number' || typeof w !== 'number') throw createError('INVALID_OPTION', 'Grid pooling needs a layer of known height and width');
  if (n > h || n > w) throw createError('INVALID_OPTION', `A ${n}x${n} grid does not fit the ${h}x${w} output of the cut layer`);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const cells: string[] = [];
    for (let j = 0; j < n; j++) {
      const starts = [Math.floor((i * h) / n), Math.floor((j * w) / n)];
      const ends = [Math.ceil(((i + 1) * h) / n), Math.ceil(((j + 1) * w) / n)];
      const cell = ctx.op('Slice', [x.name, ctx.i64('starts', starts), ctx.i64('ends', ends), ctx.i64('axes', [2, 3])]);
      cells.push(ctx.op('ReduceMean', [cell], { axes: ints([2, 3]), keepdims: int(1) }));
    }
    rows.push(ctx.op('Concat', cells, { axis: int(3) }));
  }
  const grid: KTensor = { name: ctx.op('Concat', rows, { axis: int(2) }), shape: [batch!, n, n, c!] };
  const flat = ctx.op('Flatten', [toKerasOrder(ctx, grid)], { axis: int(1) });
  return { name: flat, shape: [batch!, typeof c === 'number' ? n * n * c : null] };
}

function pool(ctx: EmitContext, x: KTensor, pooling: Pooling): KTensor {
  if (x.shape.length !== 4 || pooling === 'none') return x;
  if (typeof pooling === 'object') return gridPool(ctx, x, pooling.grid);
  const y = ctx.op(pooling === 'avg' ? 'ReduceMean' : 'ReduceMax', [x.name], { axes: ints([2, 3]), keepdims: int(0) });
  return { name: y, shape: [x.shape[0]!, x.shape[3]!] };
}

const onnxShape = (shape: KerasShape) => shape.map((d, i) => d ?? (i === 0 ? 'batch' : `d${i}`));

/**
 * The first half of a conversion: flatten the topology, decode the weights
 * and emit every layer up to the model's output. `finishKeras` then makes a
 * model of it, as many times as needed (the classifier, feature extractors).
 */
export function emitKeras(model: KerasModel, options: Pick<ConvertOptions, 'inputName' | 'inputLayout'> = {}): Emitted {
  const graph = flattenTopology(model.topology);
  if (graph.inputs.length !== 1) throw createError('UNSUPPORTED_LAYER', `The model takes ${graph.inputs.length} inputs; the importer converts image models with one input`);
  if (graph.outputs.length !== 1) throw createError('UNSUPPORTED_LAYER', `The model has ${graph.outputs.length} outputs; the importer converts models with one output`);
  const weights = new WeightTable(decodeWeights(model.weightsManifest, model.weightData));
  const inputName = options.inputName ?? DEFAULT_INPUT_NAME;
  const inputLayout = options.inputLayout ?? 'NHWC';

  const source = graph.inputs[0]!;
  const builder = new GraphBuilder(graph.name);
  const ctx = new EmitContext(builder, weights, graph.kerasMajor);
  const tensors = new Map<string, KTensor>();
  ctx.layer = { className: 'InputLayer', name: source.name, scope: [], config: {}, inputs: [], output: source.id };
  if (inputLayout === 'NCHW') {
    if (source.shape.length !== 4) throw createError('INVALID_OPTION', `An NCHW input needs an image model; this one's input has shape [${source.shape.join(', ')}]`);
    // Images are NCHW inside the graph already (context.ts): the input is
    // used as it comes, where NHWC takes a Transpose. The tensor keeps its
    // Keras (NHWC) shape, which is what the emitters reason in.
    builder.input(inputName, 'FLOAT', onnxShape(NHWC_TO_NCHW.map((a) => source.shape[a]!)));
    tensors.set(source.id, { name: inputName, shape: source.shape });
  } else {
    // As before inputLayout existed (same nodes and names), so NHWC conversions stay byte-identical.
    builder.input(inputName, 'FLOAT', onnxShape(source.shape));
    tensors.set(source.id, fromKerasOrder(ctx, inputName, source.shape));
  }

  // Emit everything up to the model's output first, so an auto cut can see every shape.
  const layers: LayerInfo[] = [];
  for (const call of requiredCalls(graph, graph.outputs[0]!)) {
    ctx.layer = call;
    const inputs = call.inputs.map((id) => tensors.get(id)!);
    const out = emitterFor(call)(ctx, inputs);
    tensors.set(call.output, out);
    layers.push({ name: callName(call), className: call.className, shape: out.shape });
  }
  return { graph, builder, ctx, tensors, input: { name: inputName, shape: source.shape }, inputLayout, layers };
}

/**
 * The second half: on a copy of the emitted graph (`emitted` is left as it
 * was), cut and pool if asked, add the output and encode.
 */
export function finishKeras(emitted: Emitted, options: Omit<ConvertOptions, 'inputName' | 'inputLayout'> = {}): Converted {
  const { graph, tensors, layers } = emitted;
  const g = emitted.builder.copy();
  const ctx = emitted.ctx.fork(g);
  const outputName = options.outputName ?? DEFAULT_OUTPUT_NAME;

  let cut: string | null = null;
  let result = tensors.get(graph.outputs[0]!)!;
  if (options.cut !== undefined) {
    const call = findCall(graph, options.cut === 'auto' ? autoCut(layers) : options.cut);
    cut = callName(call);
    ctx.layer = call;
    result = pool(ctx, tensors.get(call.output)!, options.pool ?? 'avg');
    // Drop what the cut made unnecessary; onnxruntime would too, but the file would still carry the weights.
    prune(g, result.name);
  }
  if (options.head) result = appendHead(ctx, result, options.head);
  if (options.logits) result = dropSoftmax(g, result);
  const last = g.nodes.find((n) => n.outputs[0] === result.name);
  const activated = last?.opType === 'Softmax' || last?.opType === 'Sigmoid';
  g.op('Identity', [toKerasOrder(ctx, result)], undefined, outputName);
  g.output(outputName, 'FLOAT', onnxShape(result.shape));
  const onnx = encodeModel({ graph: g.build(), metadata: { converted_from: 'keras', source_model: graph.name } });
  return { onnx, input: emitted.input, inputLayout: emitted.inputLayout, output: { name: outputName, shape: result.shape }, layers, cut, activated };
}

/**
 * The input of the Softmax that produces `x` (the logits), with the Softmax
 * removed from the graph. Only a Softmax is undone: other activations
 * (sigmoid) are not what "logits then softmax" consumers expect.
 */
function dropSoftmax(g: GraphBuilder, x: KTensor): KTensor {
  const last = g.nodes.find((n) => n.outputs[0] === x.name);
  if (last?.opType !== 'Softmax') {
    throw createError('INVALID_OPTION', `The model's output comes from ${last ? `a ${last.opType}` : 'no operator'}, not a softmax; there are no logits to output`);
  }
  // A Softmax keeps its input's shape and layout.
  const logits = { name: last.inputs[0]!, shape: x.shape };
  prune(g, logits.name);
  return logits;
}

/** Dense layers (Gemm, ReLU) then a softmax on a [batch, features] value. */
function appendHead(ctx: EmitContext, x: KTensor, layers: readonly DenseLayer[]): KTensor {
  let flat = x.shape.length === 2 ? x : { name: ctx.op('Flatten', [toKerasOrder(ctx, x)], { axis: int(1) }), shape: [x.shape[0]!, null] };
  for (const l of layers) {
    if (flat.shape[1] !== null && flat.shape[1] !== l.inputs) {
      throw createError('MODEL_MISMATCH', `The head's layer takes ${l.inputs} features but the backbone gives ${flat.shape[1]}`);
    }
    let y = ctx.op('Gemm', [flat.name, ctx.f32('head_w', [l.inputs, l.outputs], l.weights), ctx.f32('head_b', [l.outputs], l.bias)]);
    if (l.relu) y = ctx.op('Relu', [y]);
    flat = { name: y, shape: [x.shape[0]!, l.outputs] };
  }
  return { name: ctx.op('Softmax', [flat.name], { axis: int(1) }), shape: flat.shape };
}

/** Convert a TF.js layers model to ONNX bytes. */
export function convertKeras(model: KerasModel, options: ConvertOptions = {}): Converted {
  return finishKeras(emitKeras(model, options), options);
}

/** Remove nodes and initializers that do not feed `output`. */
function prune(g: GraphBuilder, output: string): void {
  const producer = new Map(g.nodes.map((n) => [n.outputs[0]!, n]));
  const live = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (live.has(v)) continue;
    live.add(v);
    producer.get(v)?.inputs.forEach((i) => stack.push(i));
  }
  const keepNodes = g.nodes.filter((n) => live.has(n.outputs[0]!));
  g.nodes.splice(0, g.nodes.length, ...keepNodes);
  const keepInits = g.initializers.filter((t) => live.has(t.name));
  g.initializers.splice(0, g.initializers.length, ...keepInits);
}
