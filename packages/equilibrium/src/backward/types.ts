import { tf, valueAndGradParams } from '@bilevel/core';
import type { ExplicitStopping, Params, RuleVjpOutcome, Work } from '@bilevel/core';

/** The map `x ↦ T(x; θ)` whose fixed point is the lower-level solution (data already bound). */
export type FixedPointMapFn = (x: tf.Tensor, theta: Params) => tf.Tensor;

/**
 * What a backward rule is given: the map T at a fixed point x, the parameters θ and the
 * cotangent v (∇ₓℓ for a hypergradient, ∂L/∂x̂ inside `argmin`). Nothing here is consumed.
 */
export interface FixedPointRuleRequest {
  map: FixedPointMapFn;
  /** T is the gradient step `x − s∇ₓΦ` of an energy: every VJP of T in x is also one HVP. */
  energy: boolean;
  x: tf.Tensor;
  theta: Params;
  cotangent: tf.Tensor;
  /**
   * Backward tolerance and cap in force (request > strategy option > option set on the
   * rule's solver > default); undefined: the rule's solver keeps its own setting. Rules
   * without a solve ignore them.
   */
  tol?: number;
  maxIter?: number;
}

/**
 * A differentiation rule for a fixed point `x̂ = T(x̂; θ)`, written on the map alone: the
 * vector–Jacobian product of the solution map, `v ↦ (∂x̂/∂θ)ᵀ v = (∂_θT)ᵀ (I − ∂ₓT)⁻ᵀ v`,
 * exactly or approximately. `equilibrium` lifts it to a core `DifferentiationRule`.
 */
export interface FixedPointRule {
  readonly name: string;
  /** Stopping options set explicitly on the rule's solver (core's `explicitStopping`), which the driver's defaults must not override. */
  readonly explicit?: Readonly<ExplicitStopping>;
  /** The caller owns the returned `grad`. */
  vjp(request: FixedPointRuleRequest): RuleVjpOutcome;
}

/** Counts n VJPs of T in x: for energies each is also a Hessian–vector product. */
export function countMapVjps(work: Work, energy: boolean, n: number): void {
  work.vjps += n;
  if (energy) work.hvps += n;
}

/** `(∂_θT(x; θ))ᵀ w` by one VJP of ⟨T(x; θ), w⟩ in θ. The caller owns the result. */
export function thetaVjp(map: FixedPointMapFn, x: tf.Tensor, theta: Params, w: tf.Tensor): Params {
  const { value, grad } = valueAndGradParams((th) => tf.sum(tf.mul(map(x, th), w)), theta);
  value.dispose();
  return grad;
}
