import { fixedPointMapOf } from '@bilevel/core';
import type { DifferentiationRule, FixedPointProblem, Problem } from '@bilevel/core';
import type { FixedPointRule } from './types.js';

/**
 * Lifts a rule written on the map (`FixedPointRule`) to a core `DifferentiationRule`: builds
 * T from the problem (its map, or the gradient step `x − s∇ₓΦ` of an energy with the
 * strategy's step size) and hands the driver's backward accuracy to the rule.
 *
 * @param where - the strategy's name, for messages.
 * @param rule - the map-level rule.
 * @param stepSize - s of the gradient step (default 1/L).
 * @returns the driver's rule.
 */
export function onMap(where: string, rule: FixedPointRule, stepSize: number | undefined): DifferentiationRule {
  return {
    name: rule.name,
    // The stopping options set on the rule's own solver (gmres({ tol }), neumann({ terms })):
    // the driver then leaves them to the solver instead of passing its defaults.
    explicit: rule.explicit,
    vjp({ problem, theta, data, forward, cotangent, linearTol, linearMaxIter, wrtData }) {
      if (wrtData) {
        throw new Error(`${where}: argmin's 'differentiateData' is not supported by the ${rule.name} rule; put the input in θ to differentiate with respect to it.`);
      }
      const { map, energy } = fixedPointMapOf(where, problem as Problem<typeof data> | FixedPointProblem<typeof data>, theta, data, stepSize);
      return rule.vjp({ map: (x, th) => map(x, th), energy, x: forward.x, theta, cotangent, tol: linearTol, maxIter: linearMaxIter });
    },
  };
}
