import type { tf, Params, Work } from '@bilevel/core';

/** The map `x ↦ T(x; θ)` whose fixed point is the lower-level solution (data already bound). */
export type FixedPointMap = (x: tf.Tensor, theta: Params) => tf.Tensor;

/**
 * What a backward rule is given: the map T at a fixed point x, the parameters θ and the
 * cotangent v (∇ₓℓ for a hypergradient, ∂L/∂x̂ inside `argmin`). Nothing here is consumed.
 */
export interface FixedPointRuleRequest {
  map: FixedPointMap;
  /** T is the gradient step `x − s∇ₓΦ` of an energy: every VJP of T in x is also one HVP. */
  energy: boolean;
  x: tf.Tensor;
  theta: Params;
  cotangent: tf.Tensor;
  /** Backward tolerance and cap in force (request > strategy option > default); rules without a solve ignore them. */
  tol: number;
  maxIter: number;
}

/** What a backward rule returns. The caller owns `grad`. */
export interface FixedPointRuleResult {
  /** `(∂x̂/∂θ)ᵀ v` (or the rule's approximation of it), shaped like θ. */
  grad: Params;
  /** Residual of the adjoint system, where the rule has one. */
  residual?: number;
  converged: boolean;
  message: string;
  work: Work;
}

/**
 * A differentiation rule for a fixed point `x̂ = T(x̂; θ)`: the vector–Jacobian product of
 * the solution map, `v ↦ (∂x̂/∂θ)ᵀ v = (∂_θT)ᵀ (I − ∂ₓT)⁻ᵀ v`, exactly or approximately.
 */
export interface FixedPointRule {
  readonly name: string;
  vjp(request: FixedPointRuleRequest): FixedPointRuleResult;
}

/** Counts one VJP of T in x: for energies it is also one Hessian–vector product. */
export function countMapVjps(work: Work, energy: boolean, n: number): void {
  work.vjps += n;
  if (energy) work.hvps += n;
}
