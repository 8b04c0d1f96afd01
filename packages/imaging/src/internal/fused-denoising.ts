/**
 * A regularizer's fused derivatives of the whole denoising energy
 * `Φ(x) = ½‖x − y‖² + (ξ/2)‖x‖² + R(x; θ)` (identity forward operator), which
 * reconstructionProblem uses instead of composing R's derivatives with the data term's:
 * one kernel per gradient or Hessian product instead of three (R's, `x − y`, the sum),
 * measured ~15 µs of the ~90 µs of one gradient-descent step on TV at 4 × 64 × 64.
 *
 * Internal: regularizers register them here (by object identity), so the public
 * Regularizer type is unchanged; each method returns null where it cannot run (a tape is
 * recording, another backend, a data shape it does not cover), and the composed
 * derivatives run instead.
 *
 * @packageDocumentation
 */
import type { tf, Params, HessianAt, Derivatives } from '@bilevel/core';
import type { Regularizer } from '../regularizers/types.js';

/** The fused derivatives of `½‖x − y‖² + (ξ/2)‖x‖² + R(x; θ)`; null where they do not apply. */
export interface DenoisingDerivatives {
  gradient(x: tf.Tensor, theta: Params, y: tf.Tensor, xi: number): tf.Tensor | null;
  valueAndGradient(x: tf.Tensor, theta: Params, y: tf.Tensor, xi: number): { value: tf.Scalar; grad: tf.Tensor } | null;
  hessian(x: tf.Tensor, theta: Params, xi: number): HessianAt | null;
}

const registry = new WeakMap<Regularizer, DenoisingDerivatives>();

/**
 * Registers R's fused denoising derivatives.
 *
 * @param regularizer - the regularizer object.
 * @param derivatives - its fused derivatives.
 * @returns the regularizer.
 */
export function withDenoising<R extends Regularizer>(regularizer: R, derivatives: DenoisingDerivatives): R {
  registry.set(regularizer, derivatives);
  return regularizer;
}

/**
 * R's fused denoising derivatives, if it registered any.
 *
 * @param regularizer - the regularizer.
 * @returns the derivatives or undefined.
 */
export function denoisingOf(regularizer: Regularizer): DenoisingDerivatives | undefined {
  return registry.get(regularizer);
}

/**
 * Puts R's fused denoising derivatives in front of the composed ones of a denoising problem
 * (identity operator): each falls back to the composed method where the fused one returns null.
 *
 * @param composed - the derivatives composed from R's and the data term's (changed in place).
 * @param fused - R's fused derivatives.
 * @param xi - the problem's ξ.
 */
export function fuseDenoising<D extends { y: tf.Tensor }>(composed: Derivatives<D>, fused: DenoisingDerivatives, xi: number): void {
  const { gradient, valueAndGradient, hessian } = composed;
  if (gradient != null) composed.gradient = (x, th, d) => fused.gradient(x, th, d.y, xi) ?? gradient(x, th, d);
  if (valueAndGradient != null) composed.valueAndGradient = (x, th, d) => fused.valueAndGradient(x, th, d.y, xi) ?? valueAndGradient(x, th, d);
  if (hessian != null) composed.hessian = (x, th, d) => fused.hessian(x, th, xi) ?? hessian(x, th, d);
}
