/**
 * Dense, normalisation, activation and shape layers. Shape layers work in
 * Keras's element order: an image tensor (held NCHW) is transposed to NHWC
 * before Flatten or Reshape, so a converted Dense head reads its inputs in
 * the order it was trained on.
 */
import { int } from '../onnx/model.ts';
import { activate } from './activations.ts';
import { bias, fromKerasOrder, isBoolean, isNumber, physicalAxis, toKerasOrder, type EmitContext, type KTensor } from './context.ts';
import type { KerasShape } from './topology.ts';

const product = (dims: KerasShape): number | null => (dims.every((d) => d !== null) ? (dims as number[]).reduce((a, b) => a * b, 1) : null);

/** A per-channel constant shaped to broadcast along Keras axis `axis` of `x`. */
function channelConstant(ctx: EmitContext, label: string, x: KTensor, axis: number, values: ArrayLike<number>): string {
  const p = physicalAxis(axis, x.shape.length);
  const dims = [values.length, ...Array<number>(x.shape.length - p - 1).fill(1)];
  return ctx.f32(label, dims, values);
}

export function dense(ctx: EmitContext, [x]: KTensor[]): KTensor {
  const units = ctx.config('units', isNumber, 'a number of units');
  const cin = x!.shape.at(-1);
  if (typeof cin !== 'number') return ctx.unsupported('an input whose last dimension is unknown');
  const kernel = ctx.weight('kernel', [cin, units]);
  let y = ctx.op('MatMul', [toKerasOrder(ctx, x!), ctx.f32('kernel', [cin, units], kernel.values)]);
  const b = bias(ctx, units);
  if (b) y = ctx.op('Add', [y, b]);
  const out = fromKerasOrder(ctx, y, [...x!.shape.slice(0, -1), units]);
  return activate(ctx, out, ctx.layer.config.activation);
}

/** Inference-mode batch norm, folded into one multiply-add per channel (ONNX Runtime fuses it into a preceding Conv). */
export function batchNormalization(ctx: EmitContext, [x]: KTensor[]): KTensor {
  const rawAxis = ctx.layer.config.axis ?? -1;
  const axis = Array.isArray(rawAxis) && rawAxis.length === 1 ? rawAxis[0] : rawAxis;
  if (!isNumber(axis)) return ctx.unsupported(`axis ${JSON.stringify(rawAxis)} (one axis only)`);
  const c = x!.shape.at(axis);
  if (typeof c !== 'number') return ctx.unsupported('normalising an axis of unknown size');
  const epsilon = ctx.config('epsilon', isNumber, 'a number', 1e-3);
  const mean = ctx.weight('moving_mean', [c]).values;
  const variance = ctx.weight('moving_variance', [c]).values;
  const gamma = ctx.config('scale', isBoolean, 'true or false', true) ? ctx.weight('gamma', [c]).values : new Float32Array(c).fill(1);
  const beta = ctx.config('center', isBoolean, 'true or false', true) ? ctx.weight('beta', [c]).values : new Float32Array(c);
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = gamma[i]! / Math.sqrt(variance[i]! + epsilon);
    shift[i] = beta[i]! - mean[i]! * scale[i]!;
  }
  const y = ctx.op('Add', [ctx.op('Mul', [x!.name, channelConstant(ctx, 'scale', x!, axis, scale)]), channelConstant(ctx, 'shift', x!, axis, shift)]);
  return { name: y, shape: x!.shape };
}

export function activationLayer(ctx: EmitContext, [x]: KTensor[]): KTensor {
  return activate(ctx, x!, ctx.layer.config.activation ?? 'linear');
}

/** Keras ReLU: max_value, negative_slope and threshold. */
export function relu(ctx: EmitContext, [x]: KTensor[]): KTensor {
  const maxValue = ctx.layer.config.max_value;
  const slope = ctx.config('negative_slope', isNumber, 'a number', 0);
  const threshold = ctx.config('threshold', isNumber, 'a number', 0);
  if (maxValue !== undefined && maxValue !== null && !isNumber(maxValue)) return ctx.unsupported(`max_value ${JSON.stringify(maxValue)}`);
  let y: string;
  if (slope === 0 && threshold === 0) {
    y = isNumber(maxValue) ? ctx.op('Clip', [x!.name, ctx.scalar('zero', 0), ctx.scalar('max', maxValue)]) : ctx.op('Relu', [x!.name]);
  } else {
    // x >= threshold ? x : slope * (x - threshold)
    const t = ctx.scalar('threshold', threshold);
    const below = ctx.op('Mul', [ctx.op('Sub', [x!.name, t]), ctx.scalar('slope', slope)]);
    y = ctx.op('Where', [ctx.op('GreaterOrEqual', [x!.name, t]), x!.name, below]);
    if (isNumber(maxValue)) y = ctx.op('Min', [y, ctx.scalar('max', maxValue)]);
  }
  return { name: y, shape: x!.shape };
}

export function leakyRelu(ctx: EmitContext, [x]: KTensor[]): KTensor {
  // TF.js and Keras 2 call it alpha; Keras 3 negative_slope. Both default to 0.3.
  const alpha = ctx.config('alpha', isNumber, 'a number', ctx.config('negative_slope', isNumber, 'a number', 0.3));
  return { name: ctx.op('LeakyRelu', [x!.name], { alpha }), shape: x!.shape };
}

export function elu(ctx: EmitContext, [x]: KTensor[]): KTensor {
  return { name: ctx.op('Elu', [x!.name], { alpha: ctx.config('alpha', isNumber, 'a number', 1) }), shape: x!.shape };
}

export function thresholdedRelu(ctx: EmitContext, [x]: KTensor[]): KTensor {
  return { name: ctx.op('ThresholdedRelu', [x!.name], { alpha: ctx.config('theta', isNumber, 'a number', 1) }), shape: x!.shape };
}

export function softmax(ctx: EmitContext, [x]: KTensor[]): KTensor {
  const axis = ctx.config('axis', isNumber, 'one axis', -1);
  return { name: ctx.op('Softmax', [x!.name], { axis: int(physicalAxis(axis, x!.shape.length)) }), shape: x!.shape };
}

export function flatten(ctx: EmitContext, [x]: KTensor[]): KTensor {
  const format = ctx.layer.config.data_format;
  if (format === 'channels_first') return ctx.unsupported('data_format channels_first');
  const y = ctx.op('Flatten', [toKerasOrder(ctx, x!)], { axis: int(1) });
  return { name: y, shape: [x!.shape[0]!, product(x!.shape.slice(1))] };
}

export function reshape(ctx: EmitContext, [x]: KTensor[]): KTensor {
  // TF.js writes the free dimension (-1) as null.
  const raw = ctx.config('target_shape', (v): v is (number | null)[] => Array.isArray(v) && v.every((d) => d === null || isNumber(d)), 'a list of sizes');
  const target = raw.map((d) => d ?? -1);
  const known = product(x!.shape.slice(1));
  const dims: (number | null)[] = [...target];
  const free = target.indexOf(-1);
  if (free >= 0) dims[free] = known === null ? null : known / target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  else if (known !== null && product(target) !== known) return ctx.unsupported(`reshaping ${known} values into [${target.join(', ')}]`);
  // 0 copies the batch dimension from the input.
  const y = ctx.op('Reshape', [toKerasOrder(ctx, x!), ctx.i64('shape', [0, ...target])]);
  return fromKerasOrder(ctx, y, [x!.shape[0]!, ...dims]);
}

/** Rescaling: x * scale + offset, each a number or one value per channel. */
export function rescaling(ctx: EmitContext, [x]: KTensor[]): KTensor {
  const isValue = (v: unknown): v is number | number[] => isNumber(v) || (Array.isArray(v) && v.every(isNumber));
  const value = (label: string, v: number | number[]) => (isNumber(v) ? ctx.scalar(label, v) : channelConstant(ctx, label, x!, -1, v));
  const scale = ctx.config('scale', isValue, 'a number or one per channel');
  const offset = ctx.config('offset', isValue, 'a number or one per channel', 0);
  let y = ctx.op('Mul', [x!.name, value('scale', scale)]);
  if (offset !== 0) y = ctx.op('Add', [y, value('offset', offset)]);
  return { name: y, shape: x!.shape };
}

/** Dropout and noise layers do nothing at inference. */
export function identity(_ctx: EmitContext, [x]: KTensor[]): KTensor {
  return x!;
}
