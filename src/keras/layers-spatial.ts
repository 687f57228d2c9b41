/**
 * Convolution, padding and pooling layers (channels_last in Keras, NCHW in
 * the ONNX graph). TensorFlow's 'same' padding puts the odd extra pixel at
 * the bottom/right; with static sizes the pads are written out explicitly,
 * otherwise ONNX's SAME_UPPER (which means the same thing) is used.
 */
import { int, ints } from '../onnx/model.ts';
import { activate } from './activations.ts';
import { bias, isBoolean, isNumber, isPair, pairOf, type EmitContext, type KTensor } from './context.ts';

type Padding = 'valid' | 'same';

const isPadding = (v: unknown): v is Padding => v === 'valid' || v === 'same';

function checkChannelsLast(ctx: EmitContext): void {
  const format = ctx.layer.config.data_format;
  if (format !== undefined && format !== null && format !== 'channels_last') ctx.unsupported(`data_format "${String(format)}" (only channels_last)`);
}

function requireRank4(ctx: EmitContext, x: KTensor): void {
  if (x.shape.length !== 4) ctx.unsupported(`a rank-${x.shape.length} input (expects [batch, height, width, channels])`);
}

/** Output size of one spatial dimension. */
function outSize(size: number | null, kernel: number, stride: number, dilation: number, padding: Padding): number | null {
  if (size === null) return null;
  const effective = (kernel - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - effective) / stride) + 1;
}

interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padding: Padding;
}

/** ONNX attributes for a window op on `x`, and the output's spatial size. */
function windowAttrs(ctx: EmitContext, x: KTensor, w: Window) {
  const h = x.shape[1] ?? null;
  const wd = x.shape[2] ?? null;
  const outH = outSize(h!, w.kernel[0], w.strides[0], w.dilations[0], w.padding);
  const outW = outSize(wd!, w.kernel[1], w.strides[1], w.dilations[1], w.padding);
  if ((outH !== null && outH < 1) || (outW !== null && outW < 1)) ctx.unsupported(`a ${w.kernel.join('x')} window on a ${h}x${wd} input (the output would be empty)`);
  const attrs: Record<string, ReturnType<typeof ints> | ReturnType<typeof int> | string> = {
    kernel_shape: ints(w.kernel),
    strides: ints(w.strides),
  };
  if (w.dilations[0] !== 1 || w.dilations[1] !== 1) attrs.dilations = ints(w.dilations);
  if (w.padding === 'same') {
    if (h === null || wd === null || outH === null || outW === null) {
      attrs.auto_pad = 'SAME_UPPER';
    } else {
      const total = (size: number, out: number, i: 0 | 1) => Math.max((out - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - size, 0);
      const th = total(h, outH, 0);
      const tw = total(wd, outW, 1);
      attrs.pads = ints([Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)]);
    }
  }
  return { attrs, outH, outW };
}

function convWindow(ctx: EmitContext): Window {
  const kernel = pairOf(ctx.config('kernel_size', isPair, 'a size or [height, width]'))!;
  const strides = pairOf(ctx.config('strides', isPair, 'a stride or pair', [1, 1]))!;
  const dilations = pairOf(ctx.config('dilation_rate', isPair, 'a rate or pair', [1, 1]))!;
  const padding = ctx.config('padding', isPadding, '"valid" or "same"', 'valid');
  if ((strides[0] > 1 || strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1)) ctx.unsupported('strides > 1 together with dilation_rate > 1');
  return { kernel, strides, dilations, padding };
}

/** [kh, kw, in, out] (TF) → [out, in, kh, kw] (ONNX). */
function kernelToOihw(values: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = values[((y * kw + x) * cin + i) * cout + o]!;
  return out;
}

function channelsOf(ctx: EmitContext, x: KTensor): number {
  const c = x.shape[3];
  if (typeof c !== 'number') return ctx.unsupported('an input with an unknown number of channels');
  return c;
}

function conv(ctx: EmitContext, x: KTensor, w: Window, weights: string, b: string | undefined, channels: number, group: number): KTensor {
  const { attrs, outH, outW } = windowAttrs(ctx, x, w);
  if (group > 1) attrs.group = int(group);
  const y = ctx.op('Conv', b ? [x.name, weights, b] : [x.name, weights], attrs);
  return { name: y, shape: [x.shape[0]!, outH, outW, channels] };
}

export function conv2d(ctx: EmitContext, [x]: KTensor[]): KTensor {
  checkChannelsLast(ctx);
  requireRank4(ctx, x!);
  const w = convWindow(ctx);
  const filters = ctx.config('filters', isNumber, 'a number of filters');
  const groups = ctx.config('groups', isNumber, 'a number of groups', 1);
  const cin = channelsOf(ctx, x!);
  if (cin % groups !== 0) ctx.unsupported(`${groups} groups for ${cin} input channels`);
  const [kh, kw] = w.kernel;
  const kernel = ctx.weight('kernel', [kh, kw, cin / groups, filters]);
  const weights = ctx.f32('kernel', [filters, cin / groups, kh, kw], kernelToOihw(kernel.values, kh, kw, cin / groups, filters));
  return activate(ctx, conv(ctx, x!, w, weights, bias(ctx, filters), filters, groups), ctx.layer.config.activation);
}

/** A depthwise convolution: TF orders output channels as in_channel * multiplier + m, as ONNX groups do. */
function depthwise(ctx: EmitContext, x: KTensor, w: Window, withBias: boolean): KTensor {
  const cin = channelsOf(ctx, x);
  const [kh, kw] = w.kernel;
  // TF.js leaves depth_multiplier out of SeparableConv2D configs; the kernel's last dimension holds it.
  const stored = ctx.optionalWeight('depthwise_kernel')?.shape[3];
  const multiplier = ctx.config('depth_multiplier', isNumber, 'a depth multiplier', stored ?? 1);
  const kernel = ctx.weight('depthwise_kernel', [kh, kw, cin, multiplier]);
  // [kh, kw, cin, m] → [cin * m, 1, kh, kw]: the same transpose with cin*m "outputs" and 1 "input".
  const weights = ctx.f32('depthwise_kernel', [cin * multiplier, 1, kh, kw], kernelToOihw(kernel.values, kh, kw, 1, cin * multiplier));
  return conv(ctx, x, w, weights, withBias ? bias(ctx, cin * multiplier) : undefined, cin * multiplier, cin);
}

export function depthwiseConv2d(ctx: EmitContext, [x]: KTensor[]): KTensor {
  checkChannelsLast(ctx);
  requireRank4(ctx, x!);
  return activate(ctx, depthwise(ctx, x!, convWindow(ctx), true), ctx.layer.config.activation);
}

export function separableConv2d(ctx: EmitContext, [x]: KTensor[]): KTensor {
  checkChannelsLast(ctx);
  requireRank4(ctx, x!);
  const filters = ctx.config('filters', isNumber, 'a number of filters');
  const mid = depthwise(ctx, x!, convWindow(ctx), false);
  const cmid = mid.shape[3] as number;
  const pointwise = ctx.weight('pointwise_kernel', [1, 1, cmid, filters]);
  const weights = ctx.f32('pointwise_kernel', [filters, cmid, 1, 1], kernelToOihw(pointwise.values, 1, 1, cmid, filters));
  const pw: Window = { kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padding: 'valid' };
  return activate(ctx, conv(ctx, mid, pw, weights, bias(ctx, filters), filters, 1), ctx.layer.config.activation);
}

/** ZeroPadding2D: `p`, `[sym_h, sym_w]` or `[[top, bottom], [left, right]]`. */
export function zeroPadding2d(ctx: EmitContext, [x]: KTensor[]): KTensor {
  checkChannelsLast(ctx);
  requireRank4(ctx, x!);
  const p = ctx.layer.config.padding ?? 1;
  let top: number, bottom: number, left: number, right: number;
  if (isNumber(p)) [top, bottom, left, right] = [p, p, p, p];
  else if (Array.isArray(p) && p.length === 2 && p.every(isNumber)) [top, bottom, left, right] = [p[0] as number, p[0] as number, p[1] as number, p[1] as number];
  else if (Array.isArray(p) && p.length === 2 && p.every((q) => Array.isArray(q) && q.length === 2 && q.every(isNumber))) [[top, bottom], [left, right]] = p as [[number, number], [number, number]];
  else return ctx.unsupported(`padding ${JSON.stringify(p)}`);
  const y = ctx.op('Pad', [x!.name, ctx.i64('pads', [0, 0, top, left, 0, 0, bottom, right])]);
  const [n, h, w, c] = x!.shape;
  return { name: y, shape: [n!, h === null ? null : h! + top + bottom, w === null ? null : w! + left + right, c!] };
}

function pooling(opType: 'MaxPool' | 'AveragePool') {
  return (ctx: EmitContext, [x]: KTensor[]): KTensor => {
    checkChannelsLast(ctx);
    requireRank4(ctx, x!);
    const kernel = pairOf(ctx.config('pool_size', isPair, 'a size or pair', [2, 2]))!;
    const strides = pairOf(ctx.config('strides', isPair, 'a stride or pair', kernel))!;
    const padding = ctx.config('padding', isPadding, '"valid" or "same"', 'valid');
    const { attrs, outH, outW } = windowAttrs(ctx, x!, { kernel, strides, dilations: [1, 1], padding });
    // TF's average pooling divides by the pixels inside the image only; ONNX's count_include_pad=0 (the default) does the same.
    const y = ctx.op(opType, [x!.name], attrs);
    return { name: y, shape: [x!.shape[0]!, outH, outW, x!.shape[3]!] };
  };
}

export const maxPooling2d = pooling('MaxPool');
export const averagePooling2d = pooling('AveragePool');

function globalPooling(opType: 'ReduceMean' | 'ReduceMax') {
  return (ctx: EmitContext, [x]: KTensor[]): KTensor => {
    checkChannelsLast(ctx);
    requireRank4(ctx, x!);
    const keepdims = ctx.config('keepdims', isBoolean, 'true or false', false);
    // Opset 17: ReduceMean and ReduceMax still take axes as an attribute.
    const y = ctx.op(opType, [x!.name], { axes: ints([2, 3]), keepdims: int(keepdims ? 1 : 0) });
    const [n, , , c] = x!.shape;
    return { name: y, shape: keepdims ? [n!, 1, 1, c!] : [n!, c!] };
  };
}

export const globalAveragePooling2d = globalPooling('ReduceMean');
export const globalMaxPooling2d = globalPooling('ReduceMax');
