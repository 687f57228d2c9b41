/**
 * What a layer emitter works with: the ONNX graph being built, the layer's
 * config and weights, and the tensors flowing in.
 *
 * Layout rule: every rank-4 tensor is held NCHW in the ONNX graph (what ONNX
 * Conv and pooling take), while shapes and axes are tracked in Keras's own
 * NHWC terms. Emitters that care about element order (Flatten, Reshape,
 * Dense on images, Concatenate, Softmax) translate axes with `physicalAxis`
 * or transpose explicitly; everything else is layout-blind.
 */
import { createError } from '../errors.ts';
import { floatTensor, GraphBuilder, int64Tensor, ints, type NodeData } from '../onnx/model.ts';
import type { KerasShape, LayerCall } from './topology.ts';
import type { Weight } from './weights.ts';

export interface KTensor {
  /** The ONNX value name. */
  name: string;
  /** Keras's shape, batch first, channels last; null where unknown. */
  shape: KerasShape;
}

export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;

/** Keras axis (negative allowed) → the same axis counted from 0, in Keras's NHWC terms. */
export function kerasAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw createError('MODEL_INVALID', `axis ${axis} is out of range for a rank-${rank} tensor`);
  return a;
}

/** Keras axis (negative allowed) → axis in the ONNX tensor. */
export function physicalAxis(axis: number, rank: number): number {
  const a = kerasAxis(axis, rank);
  return rank === 4 ? [0, 2, 3, 1][a]! : a;
}

/** Weights by name, found by the layer that owns them. */
export class WeightTable {
  private readonly byLayer = new Map<string, Weight[]>();

  constructor(weights: Map<string, Weight>) {
    for (const w of weights.values()) {
      // "model/block_1/conv/kernel:0" → owner "conv", key "kernel".
      const parts = w.name.replace(/:\d+$/, '').split('/');
      const owner = parts.at(-2) ?? '';
      const list = this.byLayer.get(owner) ?? [];
      list.push(w);
      this.byLayer.set(owner, list);
    }
  }

  find(layer: LayerCall, key: string): Weight | undefined {
    const candidates = (this.byLayer.get(layer.name) ?? []).filter((w) => w.name.replace(/:\d+$/, '').endsWith(`/${key}`));
    if (candidates.length <= 1) return candidates[0];
    // The same layer name in two nested models: prefer the one whose path names the enclosing models.
    const scored = candidates.map((w) => ({ w, score: layer.scope.filter((s) => w.name.split('/').includes(s)).length }));
    const best = Math.max(...scored.map((s) => s.score));
    const top = scored.filter((s) => s.score === best);
    if (top.length > 1) throw createError('MODEL_INVALID', `Layer ${layer.name}: ${top.length} weights could be its ${key} (${top.map((s) => s.w.name).join(', ')})`);
    return top[0]!.w;
  }
}

export class EmitContext {
  private counter = 0;
  layer!: LayerCall;

  constructor(
    readonly g: GraphBuilder,
    private readonly weights: WeightTable,
    /** Keras 3 changed some definitions (hard_sigmoid); see activations.ts. */
    readonly kerasMajor = 2,
  ) {}

  /**
   * A context that goes on from this one's state (layer, name counter) into
   * `g`, typically `this.g.copy()`: several graphs built on one emission.
   */
  fork(g: GraphBuilder): EmitContext {
    const c = new EmitContext(g, this.weights, this.kerasMajor);
    c.counter = this.counter;
    c.layer = this.layer;
    return c;
  }

  private unique(label: string): string {
    return `${this.layer.name}/${label}_${this.counter++}`;
  }

  /** A required weight, checked against the shape the config implies. */
  weight(key: string, shape?: readonly number[]): Weight {
    const w = this.weights.find(this.layer, key);
    if (!w) throw createError('MODEL_INVALID', `Layer ${this.layer.name} (${this.layer.className}) has no "${key}" weight in the weights manifest`);
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
      throw createError('MODEL_INVALID', `Layer ${this.layer.name}: weight ${w.name} has shape [${w.shape.join(', ')}] but the config implies [${shape.join(', ')}]`);
    }
    return w;
  }

  optionalWeight(key: string): Weight | undefined {
    return this.weights.find(this.layer, key);
  }

  f32(label: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.g.constant(floatTensor(this.unique(label), dims, values));
  }

  /** A float32 scalar. */
  scalar(label: string, value: number): string {
    return this.f32(label, [], [value]);
  }

  i64(label: string, values: readonly number[]): string {
    return this.g.constant(int64Tensor(this.unique(label), [values.length], values));
  }

  op(opType: string, inputs: readonly string[], attributes?: NodeData['attributes']): string {
    return this.g.op(opType, inputs, attributes, this.unique(opType));
  }

  /** A config value, or an error naming the layer and the field. */
  config<T>(key: string, check: (v: unknown) => v is T, expected: string, fallback?: T): T {
    const v = this.layer.config[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw createError('MODEL_INVALID', `Layer ${this.layer.name} (${this.layer.className}) has no "${key}" in its config; expected ${expected}`);
    }
    if (!check(v)) throw createError('MODEL_INVALID', `Layer ${this.layer.name} (${this.layer.className}): "${key}" is ${JSON.stringify(v)}; expected ${expected}`);
    return v;
  }

  /** A config option that imgcls does not implement: refuse rather than convert wrongly. */
  unsupported(what: string): never {
    throw createError('UNSUPPORTED_LAYER', `Layer ${this.layer.name} (${this.layer.className}): ${what} is not supported`);
  }
}

export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

/** An image tensor in Keras's NHWC element order (others are already in it). */
export function toKerasOrder(ctx: EmitContext, x: KTensor): string {
  return x.shape.length === 4 ? ctx.op('Transpose', [x.name], { perm: ints(NCHW_TO_NHWC) }) : x.name;
}

/** Back from Keras order to the graph's layout. */
export function fromKerasOrder(ctx: EmitContext, name: string, shape: KerasShape): KTensor {
  return { name: shape.length === 4 ? ctx.op('Transpose', [name], { perm: ints(NHWC_TO_NCHW) }) : name, shape };
}

/** The layer's bias of `units` values as a graph constant, or undefined when its config says use_bias: false. */
export function bias(ctx: EmitContext, units: number): string | undefined {
  const useBias = ctx.config('use_bias', isBoolean, 'true or false', true);
  return useBias ? ctx.f32('bias', [units], ctx.weight('bias', [units]).values) : undefined;
}

/** An int or a pair (Keras accepts both for sizes, strides and dilations). */
export function pairOf(v: unknown): [number, number] | null {
  if (isNumber(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(isNumber)) return [v[0] as number, v[1] as number];
  return null;
}
export const isPair = (v: unknown): v is number | [number, number] => pairOf(v) !== null;
