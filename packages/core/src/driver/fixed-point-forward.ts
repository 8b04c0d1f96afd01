import { tf } from '../tf.js';
import type { Problem, FixedPointProblem } from '../problem.js';
import type { FixedPointSolver } from '../fixed-point/types.js';
import type { ForwardSolve } from './types.js';
import { fixedPointMapOf } from './step-map.js';
import { explicitStopping } from './inner-forward.js';

/**
 * Any core {@link FixedPointSolver} (`picard()`, `anderson()`, `broyden()`) as the forward half
 * of a strategy: `x = T(x; θ)` for the problem's map, or for the gradient step
 * `T(x) = x − s∇ₓΦ(x)` of an energy ({@link fixedPointMapOf}, s = stepSize or 1/L). For energies
 * the tolerance and the reported residual are on ‖∇ₓΦ‖ (the solver stops at ‖T(x) − x‖ ≤ s·tol)
 * and each map evaluation counts as a gradient evaluation. Used by `equilibrium` and `jacobianFree`.
 *
 * @param where - the strategy's name, for messages.
 * @param solver - the fixed-point solver.
 * @param stepSize - s of the gradient step for energies (default 1/L).
 * @returns a {@link ForwardSolve} for energies and fixed-point problems.
 * @example
 * ```ts
 * const strategy = defineStrategy({ name: 'mine', forward: fixedPointForward('mine', anderson(), undefined), rule, options: {} });
 * ```
 */
export function fixedPointForward(where: string, solver: FixedPointSolver, stepSize: number | undefined): ForwardSolve {
  return {
    name: solver.name,
    kinds: ['energy', 'fixed-point'],
    // A tol / maxIter the user set on the solver itself is never overridden by a strategy default.
    explicit: explicitStopping(solver),
    solve({ problem, theta, data, x0: start, tol, maxIter }) {
      const fp = problem as Problem<typeof data> | FixedPointProblem<typeof data>;
      const { map, scale, energy } = fixedPointMapOf(where, fp, theta, data, stepSize);
      const x0 = fp.initialPoint(theta, data, start);
      let result;
      try {
        result = solver.solve((x) => tf.tidy(() => map(x, theta)), x0, { tol: tol == null ? undefined : tol * scale, maxIter });
      } finally {
        x0.dispose();
      }
      const residual = result.residualNorm / scale;
      const work = { ...result.work };
      if (energy) {
        work.gradEvals = work.energyEvals;
        work.energyEvals = 0;
      }
      const measure = energy ? '‖∇ₓΦ‖' : '‖T(x) − x‖';
      const message = result.converged
        ? `${solver.name}: ${result.iterations} iterations, ${measure} = ${residual.toExponential(3)} ≤ tol ${tol}`
        : `${result.message}${energy ? ` (for the energy, ${measure} = ${residual.toExponential(3)}, tol ${tol})` : ''}`;
      return { x: result.x, residual, converged: result.converged, status: result.status, message, iterations: result.iterations, work, tol };
    },
  };
}
