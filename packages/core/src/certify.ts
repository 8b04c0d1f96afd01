/**
 * Certificates resting on declared constants, cross-checked: before a bound built from a
 * declared strong-convexity modulus μ is reported, a few Lanczos steps on the Hessian at the
 * solution test that μ is not above the curvature actually there.
 *
 * @packageDocumentation
 */
import type { tf } from './tf.js';
import type { Params } from './params.js';
import type { Data, Problem } from './problem.js';
import { lanczos } from './spectrum.js';
import { formatNumber as fmt } from './status.js';

/** Lanczos steps of the check: the smallest Ritz value settles within a few steps for the gaps that matter. */
export const STRONG_CONVEXITY_CHECK_STEPS = 8;

/**
 * Throws when a declared strong-convexity modulus μ is provably too large at x.
 *
 * A Ritz value of the Hessian `H = ∇²ₓₓΦ(x)` is a Rayleigh quotient, so the smallest one after
 * any number of Lanczos steps satisfies `ritzMin ≥ λ_min(H)`; `μ > ritzMin` therefore proves
 * that μ is not a lower bound of λ_min(H) at this x, and a bound `‖x − x̂‖ ≤ ‖∇Φ‖/μ` built on
 * it would be false (it would under-state the error). The converse is not proven (Lanczos
 * may not have found λ_min yet): the check catches wrong constants, it does not certify them.
 * Float32 Ritz values carry ~1e-6·λ_max of noise, hence the slack `1e-3|ritzMin| + 1e-5|ritzMax|`.
 *
 * @param where - the function that reports the bound, for the message.
 * @param problem - the energy problem.
 * @param x - the (approximate) solution x̂.
 * @param theta - parameters.
 * @param data - lower-level data.
 * @param mu - the declared μ.
 * @param steps - Lanczos steps (default {@link STRONG_CONVEXITY_CHECK_STEPS}; each one HVP).
 * @returns the smallest Ritz value and the HVPs spent.
 * @example
 * ```ts
 * const { ritzMin } = checkStrongConvexity('implicit', problem, x, theta, data, problem.mu(theta, data)!);
 * ```
 */
export function checkStrongConvexity<D = Data>(where: string, problem: Problem<D>, x: tf.Tensor, theta: Params, data: D, mu: number, steps = STRONG_CONVEXITY_CHECK_STEPS): { ritzMin: number; hvps: number } {
  const s = lanczos((v) => problem.hvp(x, theta, data, v), x, { iterations: steps });
  const slack = 1e-3 * Math.abs(s.min) + 1e-5 * Math.abs(s.max);
  if (mu > s.min + slack) {
    throw new Error(
      `${where}: the declared strongConvexity μ = ${fmt(mu)} of problem '${problem.name}' is above the curvature of ∇²ₓₓΦ at x̂: ` +
      `Lanczos (${s.iterations} step${s.iterations === 1 ? '' : 's'}) found a direction with vᵀ∇²Φv/‖v‖² = ${fmt(s.min)} (so λ_min ≤ ${fmt(s.min)} < μ), and a bound ‖∇Φ‖/μ would under-state the error. ` +
      `Fix: declare a strongConvexity that holds for every x (≤ ${fmt(s.min)} here; estimateStrongConvexity gives a heuristic), or leave it out to get no certified bound.`,
    );
  }
  return { ritzMin: s.min, hvps: s.matvecs };
}
