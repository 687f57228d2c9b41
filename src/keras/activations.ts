/**
 * Keras activation functions as ONNX ops, with the constants TF.js uses
 * (hard_sigmoid is clip(0.2x + 0.5, 0, 1), or Keras 3's clip(x/6 + 0.5) when
 * the topology says Keras 3; gelu is the exact erf form).
 * Names are matched in Keras's snake_case and TF.js's camelCase alike.
 */
import { int } from '../onnx/model.ts';
import type { EmitContext, KTensor } from './context.ts';
import { physicalAxis } from './context.ts';

type Emit = (ctx: EmitContext, x: KTensor) => string;

const unary =
  (opType: string): Emit =>
  (ctx, x) =>
    ctx.op(opType, [x.name]);

const ACTIVATIONS: Record<string, Emit> = {
  linear: (_ctx, x) => x.name,
  relu: unary('Relu'),
  relu6: (ctx, x) => ctx.op('Clip', [x.name, ctx.scalar('zero', 0), ctx.scalar('six', 6)]),
  sigmoid: unary('Sigmoid'),
  tanh: unary('Tanh'),
  softmax: (ctx, x) => ctx.op('Softmax', [x.name], { axis: int(physicalAxis(-1, x.shape.length)) }),
  logsoftmax: (ctx, x) => ctx.op('LogSoftmax', [x.name], { axis: int(physicalAxis(-1, x.shape.length)) }),
  swish: (ctx, x) => ctx.op('Mul', [x.name, ctx.op('Sigmoid', [x.name])]),
  // Keras 2 and TF.js: clip(0.2x + 0.5); Keras 3: relu6(x + 3) / 6.
  hardsigmoid: (ctx, x) => ctx.op('HardSigmoid', [x.name], { alpha: ctx.kerasMajor >= 3 ? 1 / 6 : 0.2, beta: 0.5 }),
  elu: (ctx, x) => ctx.op('Elu', [x.name], { alpha: 1 }),
  selu: (ctx, x) => ctx.op('Selu', [x.name], { alpha: 1.6732632423543772, gamma: 1.0507009873554805 }),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  exponential: unary('Exp'),
  mish: (ctx, x) => ctx.op('Mul', [x.name, ctx.op('Tanh', [ctx.op('Softplus', [x.name])])]),
  gelu: (ctx, x) => {
    // x * 0.5 * (1 + erf(x / sqrt 2))
    const erf = ctx.op('Erf', [ctx.op('Div', [x.name, ctx.scalar('sqrt2', Math.SQRT2)])]);
    const cdf = ctx.op('Mul', [ctx.op('Add', [erf, ctx.scalar('one', 1)]), ctx.scalar('half', 0.5)]);
    return ctx.op('Mul', [x.name, cdf]);
  },
};
ACTIVATIONS.silu = ACTIVATIONS.swish!;

const normalise = (name: string) => name.toLowerCase().replace(/_/g, '');

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS);

/** Apply a named activation; an unknown name fails with the layer named. */
export function activate(ctx: EmitContext, x: KTensor, name: unknown): KTensor {
  if (name === undefined || name === null) return x;
  if (typeof name !== 'string') return ctx.unsupported(`activation ${JSON.stringify(name)}`);
  const emit = ACTIVATIONS[normalise(name)];
  if (!emit) return ctx.unsupported(`activation "${name}" (supported: ${ACTIVATION_NAMES.join(', ')})`);
  return { name: emit(ctx, x), shape: x.shape };
}
