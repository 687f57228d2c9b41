/**
 * Matrix products for head training, run by onnxruntime's Gemm. A head on
 * 60,000 feature vectors of 2,304 values spends nearly all its time in three
 * products per layer (forward, weight gradient, input gradient); onnxruntime's
 * MLAS kernels do them many times faster than a JavaScript loop, on every
 * core. Everything else (activations, loss, AdamW) is cheap and stays in JS.
 */
import { ModelSession } from '../engine/session.ts';
import { encodeModel, GraphBuilder, int } from '../onnx/model.ts';

/** Row-major matrix. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export const matrix = (rows: number, cols: number, data: Float32Array = new Float32Array(rows * cols)): Matrix => {
  if (data.length !== rows * cols) throw new RangeError(`${data.length} values for a ${rows}x${cols} matrix`);
  return { data, rows, cols };
};

/** Rows [from, to) of `x`, as a view (no copy). */
export const rowsOf = (x: Matrix, from: number, to: number): Matrix => matrix(to - from, x.cols, x.data.subarray(from * x.cols, to * x.cols));

/**
 * Rows `indices[from..to)` of `x`, copied into one matrix: into `into` when
 * given (a batch buffer reused step after step), else a new one.
 */
export function gatherRows(x: Matrix, indices: ArrayLike<number>, from = 0, to = indices.length, into?: Float32Array): Matrix {
  const n = to - from;
  const out = matrix(n, x.cols, into ? into.subarray(0, n * x.cols) : new Float32Array(n * x.cols));
  for (let i = from; i < to; i++) {
    const r = indices[i]!;
    out.data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), (i - from) * x.cols);
  }
  return out;
}

type Form = 'nn' | 'tn' | 'nt';

/** Y = op(A) · op(B), where op transposes A for `tn` and B for `nt`. */
function gemmGraph(form: Form): Uint8Array {
  const g = new GraphBuilder(`gemm_${form}`);
  g.input('a', 'FLOAT', ['m', 'k']);
  g.input('b', 'FLOAT', ['k2', 'n']);
  g.op('Gemm', ['a', 'b'], { transA: int(form === 'tn' ? 1 : 0), transB: int(form === 'nt' ? 1 : 0) }, 'y');
  g.output('y', 'FLOAT', ['m2', 'n2']);
  return encodeModel({ graph: g.build(), opset: 13 });
}

export class Linalg {
  private constructor(private readonly sessions: Record<Form, ModelSession>) {}

  /** @param threads onnxruntime intra-op threads; 0 uses every core. */
  static async open(threads = 0): Promise<Linalg> {
    const open = (f: Form) => ModelSession.open(gemmGraph(f), { threads });
    const [nn, tn, nt] = await Promise.all([open('nn'), open('tn'), open('nt')]);
    return new Linalg({ nn: nn!, tn: tn!, nt: nt! });
  }

  private async run(form: Form, a: Matrix, b: Matrix, rows: number, cols: number): Promise<Matrix> {
    const [y] = await this.sessions[form].runFeeds(
      { a: { data: a.data, dims: [a.rows, a.cols] }, b: { data: b.data, dims: [b.rows, b.cols] } },
      ['y'],
    );
    return matrix(rows, cols, y!.data);
  }

  /** A · B */
  mul(a: Matrix, b: Matrix): Promise<Matrix> {
    if (a.cols !== b.rows) throw new RangeError(`mul: ${a.rows}x${a.cols} · ${b.rows}x${b.cols}`);
    return this.run('nn', a, b, a.rows, b.cols);
  }

  /** Aᵀ · B (weight gradients: inputsᵀ · output gradients). */
  mulTA(a: Matrix, b: Matrix): Promise<Matrix> {
    if (a.rows !== b.rows) throw new RangeError(`mulTA: (${a.rows}x${a.cols})ᵀ · ${b.rows}x${b.cols}`);
    return this.run('tn', a, b, a.cols, b.cols);
  }

  /** A · Bᵀ (input gradients: output gradients · weightsᵀ). */
  mulTB(a: Matrix, b: Matrix): Promise<Matrix> {
    if (a.cols !== b.cols) throw new RangeError(`mulTB: ${a.rows}x${a.cols} · (${b.rows}x${b.cols})ᵀ`);
    return this.run('nt', a, b, a.rows, b.rows);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((s) => s.close()));
  }
}
