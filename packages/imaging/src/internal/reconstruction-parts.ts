// The plumbing every reconstruction problem builder shares (reconstructionProblem,
// tgvProblem): ξ checked, the operator (an identity it owns by default) and its
// least-squares data term, and the returned bundle whose dispose frees θ and an owned operator.
import { disposeParams, checkNonNegative } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import type { LinearOperator } from '../operators/types.js';
import type { Regularizer } from '../regularizers/types.js';
import { identity } from '../operators/identity.js';
import { leastSquares } from '../data-terms.js';
import type { ReconstructionData, ReconstructionOptions, ReconstructionProblem } from '../problems.js';

/** ξ, the operator (owned when defaulted) and its data term ½‖Ax − y‖². */
export function reconstructionParts(where: string, options: ReconstructionOptions) {
  const xi = options.xi ?? 0;
  checkNonNegative(where, 'xi', xi);
  const ownsOperator = options.operator == null;
  const operator: LinearOperator = options.operator ?? identity();
  return { xi, ownsOperator, operator, data: leastSquares(operator) };
}

/** The {@link ReconstructionProblem} bundle: `dispose()` frees θ's live tensors and an owned operator. */
export function reconstructionBundle(
  problem: Problem<ReconstructionData>, theta: Params, regularizer: Regularizer, parts: { operator: LinearOperator; ownsOperator: boolean },
): ReconstructionProblem {
  const { operator, ownsOperator } = parts;
  return {
    problem,
    theta,
    regularizer,
    operator,
    dispose() {
      disposeParams(Object.fromEntries(Object.entries(theta).filter(([, t]) => !t.isDisposed)));
      if (ownsOperator) operator.dispose();
    },
  };
}
