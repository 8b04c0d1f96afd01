/**
 * Analytic derivatives of smoothed and Huber total variation, `R(x) = α Σ_pixels φ(|∇x|²)`
 * with `∇` the forward differences of `gradient2d` (`∇ᵀ = −div`), `g = ∇x`:
 *
 *   smoothed TV, s = √(|g|² + ν²):   ∇R = α ∇ᵀ(g/s),   ∇²R v = α ∇ᵀ(∇v/s − g ⟨g, ∇v⟩/s³),
 *     ∂/∂log α ⟨∇R, v⟩ = α Σ⟨g, ∇v⟩/s,   ∂/∂log ν ⟨∇R, v⟩ = −α ν² Σ⟨g, ∇v⟩/s³;
 *   Huber TV, m = max(|g|, ν):        ∇R = α ∇ᵀ(g/m),   ∇²R v = α ∇ᵀ(∇v/m − [|g| > ν] g ⟨g, ∇v⟩/m³),
 *     ∂/∂log α ⟨∇R, v⟩ = α Σ⟨g, ∇v⟩/m.
 *
 * The Hessian caches 1/s (or 1/m) and g/s³ (or the masked g/m³) once per x.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import type { Params, HessianAt } from '@bilevel/core';
import { gradient2d, divergence } from '../operators/finite-difference.js';
import { param } from './params.js';

/** Options of {@link tvDerivatives}. */
export interface TVDerivativeOptions {
  kind: 'smoothed' | 'huber';
  /** The fixed ν (smoothing, or the Huber threshold). */
  nu: number;
  /** Smoothed TV with θ.logNu. */
  learnNu: boolean;
  /** The regularizer's name, for errors. */
  where: string;
}

/**
 * Builds gradient, Hessian-at-x and mixed product of (smoothed or Huber) TV.
 *
 * @param o - kind, ν, learnNu, name.
 * @returns the derivative methods of the regularizer.
 */
export function tvDerivatives(o: TVDerivativeOptions) {
  const alpha = (theta: Params) => tf.exp(param(theta, 'logAlpha', o.where));
  const nuSquared = (theta: Params): tf.Tensor | number => (o.learnNu ? tf.exp(tf.mul(2, param(theta, 'logNu', o.where))) : o.nu * o.nu);
  /** `1/s` (smoothed) or `1/m` (Huber), `[b, h, w, 1]`, and g. */
  const scale = (x: tf.Tensor, theta: Params) => {
    const g = gradient2d(x);
    const n2 = tf.sum(tf.square(g), 3, true);
    const nu2 = nuSquared(theta);
    const inverse = tf.rsqrt(o.kind === 'huber' ? tf.maximum(n2, nu2) : tf.add(n2, nu2));
    return { g, n2, inverse };
  };
  const adjointOfGradient = (p: tf.Tensor) => tf.neg(divergence(p));
  return {
    gradient: (x: tf.Tensor, theta: Params) => tf.tidy(() => {
      const { g, inverse } = scale(x, theta);
      return tf.mul(alpha(theta), adjointOfGradient(tf.mul(g, inverse)));
    }),
    hessian(x: tf.Tensor, theta: Params): HessianAt {
      const [inverse, curvature] = tf.tidy(() => {
        const { g, n2, inverse: r } = scale(x, theta);
        let c = tf.mul(g, tf.pow(r, 3));
        // Huber: the quadratic zone |g| ≤ ν has Hessian I/ν, no rank-one term
        if (o.kind === 'huber') c = tf.mul(c, tf.cast(tf.greater(n2, o.nu * o.nu), 'float32'));
        return [tf.mul(alpha(theta), r), tf.mul(alpha(theta), c)];
      });
      const g = tf.tidy(() => gradient2d(x));
      return {
        apply: (v) => tf.tidy(() => {
          const dv = gradient2d(v);
          const along = tf.sum(tf.mul(g, dv), 3, true);
          return adjointOfGradient(tf.sub(tf.mul(dv, inverse), tf.mul(curvature, along)));
        }),
        dispose: () => tf.dispose([inverse, curvature, g]),
      };
    },
    mixed: (x: tf.Tensor, theta: Params, v: tf.Tensor): Params => tf.tidy(() => {
      const { g, inverse } = scale(x, theta);
      const a = alpha(theta);
      const along = tf.sum(tf.mul(g, gradient2d(v)), 3, true);
      const out: Params = { logAlpha: tf.reshape(tf.mul(a, tf.sum(tf.mul(along, inverse))), param(theta, 'logAlpha', o.where).shape) };
      if (o.learnNu) {
        const nu2 = nuSquared(theta) as tf.Tensor;
        out.logNu = tf.reshape(tf.neg(tf.mul(tf.mul(a, nu2), tf.sum(tf.mul(along, tf.pow(inverse, 3))))), param(theta, 'logNu', o.where).shape);
      }
      return out;
    }),
  };
}
