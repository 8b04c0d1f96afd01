/**
 * What the three problem definitions share: the data and constant types, the constant
 * option kind and its evaluation.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import { checkNonNegative } from '../validate.js';
import { opt } from '../options.js';

/** Lower-level data: any tensors (and plain values) the energy reads besides x and θ. */
export type Data = Record<string, tf.Tensor | number | undefined> | tf.Tensor;

/** A constant that may depend on θ and the data (e.g. μ = ξ + λ_min(AᵀA)). */
export type Constant<D> = number | ((theta: Params, data: D) => number);

/** A constant option: a number ≥ 0 (> 0 when strict) or a function (θ, data) => number. */
export const constantOption = (strict = false) => opt.nullable(opt.union([opt.number(strict ? { gt: 0 } : { min: 0 }), opt.func()]));
/** An optional function option. */
export const optionalFunction = (fix?: string) => opt.nullable(opt.func(fix));

/** The value of a constant at (θ, data), checked ≥ 0; undefined when not given. */
export function evalConstant<D>(c: Constant<D> | undefined, theta: Params, data: D, where: string, name: string): number | undefined {
  if (c == null) return undefined;
  const v = typeof c === 'function' ? c(theta, data) : c;
  checkNonNegative(where, name, v);
  return v;
}

/**
 * Calls a user's `init` / `initDual`: the solvers own the starting point and dispose it, so a
 * tensor the call did not create (the data's `y` itself, a θ leaf) is cloned, or the solve
 * would free the user's tensor. Tensor ids only increase, so a result older than the call is one
 * that existed before it.
 */
export function ownedStart(make: () => tf.Tensor): tf.Tensor {
  const mark = tf.scalar(0);
  const firstNew = mark.id;
  mark.dispose();
  const start = make();
  return start instanceof tf.Tensor && start.id < firstNew ? start.clone() : start;
}
