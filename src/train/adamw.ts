/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW computes it: decoupled
 * weight decay applied to the weights before the Adam step. Biases are not
 * decayed, the usual practice for heads.
 */
import type { Dense } from './head.ts';

export interface AdamWOptions {
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

interface Moments {
  m: Float32Array;
  v: Float32Array;
}

export class AdamW {
  private step = 0;
  private readonly moments: { w: Moments; b: Moments }[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(
    private readonly params: Dense[],
    private readonly options: AdamWOptions,
  ) {
    const zeros = (n: number): Moments => ({ m: new Float32Array(n), v: new Float32Array(n) });
    this.moments = params.map((p) => ({ w: zeros(p.w.data.length), b: zeros(p.b.length) }));
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
  }

  /** Apply one update with learning rate `lr`; `grads` matches the parameters layer by layer. */
  update(grads: readonly Dense[], lr: number): void {
    this.step++;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    this.params.forEach((p, i) => {
      this.apply(p.w.data, grads[i]!.w.data, this.moments[i]!.w, lr, c1, c2, this.options.weightDecay);
      this.apply(p.b, grads[i]!.b, this.moments[i]!.b, lr, c1, c2, 0);
    });
  }

  private apply(p: Float32Array, g: Float32Array, { m, v }: Moments, lr: number, c1: number, c2: number, decay: number): void {
    const { beta1, beta2, epsilon } = this;
    const shrink = 1 - lr * decay;
    const stepSize = lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * gi);
      const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi);
      p[i] = p[i]! * shrink - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + epsilon);
    }
  }
}

/** Cosine decay from `lr` to `lr * floor` over `total` steps (torch's CosineAnnealingLR with eta_min = lr * floor). */
export function cosineLr(lr: number, step: number, total: number, floor = 0.01): number {
  const t = Math.min(1, step / Math.max(1, total));
  return lr * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t)));
}
