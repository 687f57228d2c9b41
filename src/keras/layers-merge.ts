/**
 * Merge layers: element-wise Add, Subtract, Multiply, Average, Maximum,
 * Minimum, and Concatenate. Inputs must have the same rank (so they share
 * the graph's layout); dimensions of 1 broadcast, as in Keras.
 */
import { int } from '../onnx/model.ts';
import { isNumber, kerasAxis, physicalAxis, type EmitContext, type KTensor } from './context.ts';
import type { KerasShape } from './topology.ts';

function sameRank(ctx: EmitContext, xs: KTensor[], least: number): number {
  if (xs.length < least) ctx.unsupported(`${xs.length} input(s) (needs at least ${least})`);
  const rank = xs[0]!.shape.length;
  if (xs.some((x) => x.shape.length !== rank)) ctx.unsupported(`inputs of different ranks (${xs.map((x) => x.shape.length).join(', ')})`);
  return rank;
}

function broadcastShape(ctx: EmitContext, xs: KTensor[]): KerasShape {
  return xs[0]!.shape.map((_, i) => {
    const dims = xs.map((x) => x.shape[i] ?? null);
    const sized = dims.filter((d): d is number => d !== null && d !== 1);
    if (new Set(sized).size > 1) ctx.unsupported(`merging shapes ${xs.map((x) => `[${x.shape.join(', ')}]`).join(' and ')}`);
    if (sized.length > 0) return sized[0]!;
    return dims.includes(null) ? null : 1;
  });
}

function elementwise(binary: string | null, variadic: string | null) {
  return (ctx: EmitContext, xs: KTensor[]): KTensor => {
    sameRank(ctx, xs, 2);
    const shape = broadcastShape(ctx, xs);
    const names = xs.map((x) => x.name);
    const y = variadic ? ctx.op(variadic, names) : names.slice(1).reduce((acc, n) => ctx.op(binary!, [acc, n]), names[0]!);
    return { name: y, shape };
  };
}

export const add = elementwise('Add', null);
export const multiply = elementwise('Mul', null);
export const maximum = elementwise(null, 'Max');
export const minimum = elementwise(null, 'Min');
export const average = elementwise(null, 'Mean');

export function subtract(ctx: EmitContext, xs: KTensor[]): KTensor {
  if (xs.length !== 2) ctx.unsupported(`${xs.length} inputs (Subtract takes exactly 2)`);
  return elementwise('Sub', null)(ctx, xs);
}

export function concatenate(ctx: EmitContext, xs: KTensor[]): KTensor {
  const rank = sameRank(ctx, xs, 1);
  const axis = ctx.config('axis', isNumber, 'one axis', -1);
  const a = kerasAxis(axis, rank);
  const shape = xs[0]!.shape.map((d, i) => {
    if (i === a) return xs.every((x) => x.shape[i] !== null) ? xs.reduce((s, x) => s + (x.shape[i] as number), 0) : null;
    return d;
  });
  const y = ctx.op('Concat', xs.map((x) => x.name), { axis: int(physicalAxis(axis, rank)) });
  return { name: y, shape };
}
