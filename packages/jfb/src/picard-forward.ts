import { innerForward, fixedPointForward, picard } from '@bilevel/core';
import type { ForwardSolve, InnerSolver } from '@bilevel/core';

/**
 * The forward half of `jacobianFree`: Picard iterations `x ← T(x)` (core's `picard`) of the
 * problem's map, or of the gradient step `T(x) = x − s∇ₓΦ(x)` of an energy (gradient descent),
 * until `‖T(x) − x‖/s ≤ tol` (‖∇ₓΦ‖ for energies). Energies go to `inner` instead when one is given.
 *
 * @param where - the strategy's name, for messages.
 * @param stepSize - s of the gradient step (default 1/L).
 * @param inner - optional inner solver for energies.
 * @returns a core `ForwardSolve` for energies and fixed-point problems.
 */
export function picardForward(where: string, stepSize: number | undefined, inner?: InnerSolver): ForwardSolve {
  const viaPicard = fixedPointForward(where, picard(), stepSize);
  const viaInner = inner != null ? innerForward(inner) : undefined;
  return {
    name: inner?.name ?? 'picard',
    kinds: ['energy', 'fixed-point'],
    // An option set on `inner` (lbfgs({ tol })) is the user's: the driver's defaults yield to it.
    explicit: viaInner?.explicit,
    solve: (request) => (request.problem.kind === 'energy' && viaInner != null ? viaInner : viaPicard).solve(request),
  };
}
