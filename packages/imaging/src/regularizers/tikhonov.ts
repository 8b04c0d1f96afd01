import { tf } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { checkNonNegative } from '@bilevel/core';

/**
 * Fixed quadratic `R(x) = (ξ/2)‖x‖²`: makes any convex energy ξ-strongly convex and
 * restores convexity of a weakly convex one (Fields of Experts) once ξ exceeds its
 * negative curvature. No parameters.
 *
 * @param xi - ξ ≥ 0.
 * @returns a {@link Regularizer} with `mu = lipschitz = ξ`.
 * @example
 * ```ts
 * const r = sumRegularizers(foe(), tikhonov(1e-2));
 * ```
 */
export function tikhonov(xi: number): Regularizer {
  checkNonNegative('tikhonov', 'xi', xi);
  return {
    name: `(ξ/2)‖x‖², ξ = ${xi}`,
    convex: true,
    value: (x) => tf.tidy(() => tf.mul(xi / 2, tf.sum(tf.square(x)))),
    mu: () => xi,
    lipschitz: () => xi,
    init: () => ({}),
  };
}

/**
 * Sum of regularizers `R = Σ_i R_i`, with `μ = Σ μ_i` and `L = Σ L_i` when every term
 * declares them. Parameter keys must not clash.
 *
 * @param terms - regularizers to add.
 * @returns a {@link Regularizer} whose `init()` merges the terms' parameters.
 * @example
 * ```ts
 * const r = sumRegularizers(smoothedTV(), tikhonov(1e-3));
 * ```
 */
export function sumRegularizers(...terms: Regularizer[]): Regularizer {
  if (terms.length === 0) throw new Error('sumRegularizers: pass at least one regularizer.');
  const all = <K extends 'mu' | 'lipschitz'>(k: K) => terms.every((t) => typeof t[k] === 'function');
  return {
    name: terms.map((t) => t.name).join(' + '),
    convex: terms.every((t) => t.convex),
    value: (x, theta) => tf.tidy(() => tf.addN(terms.map((t) => t.value(x, theta)))),
    mu: all('mu') ? (theta) => terms.reduce((s, t) => s + t.mu!(theta), 0) : undefined,
    lipschitz: all('lipschitz') ? (theta) => terms.reduce((s, t) => s + t.lipschitz!(theta), 0) : undefined,
    init() {
      const out: Record<string, tf.Tensor> = {};
      for (const t of terms) {
        for (const [k, v] of Object.entries(t.init())) {
          if (k in out) {
            tf.dispose([v, ...Object.values(out)]);
            throw new Error(`sumRegularizers: parameter '${k}' is used by two terms; give them distinct keys.`);
          }
          out[k] = v;
        }
      }
      return out;
    },
  };
}
