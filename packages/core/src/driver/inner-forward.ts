import type { Problem } from '../problem.js';
import type { InnerSolver } from '../inner/types.js';
import type { ForwardSolve } from './types.js';

/**
 * Any core {@link InnerSolver} as the forward half of a strategy: `x ≈ argmin_x Φ(x; θ)`
 * with the residual ‖∇ₓΦ(x)‖. The tolerance the driver resolves is absolute; with none
 * (undefined) the solver's own stopping rule applies.
 *
 * @param inner - the inner solver (`lbfgs()`, `accelerated()`, `gradientDescent()`).
 * @returns a {@link ForwardSolve} for energies.
 * @example
 * ```ts
 * const strategy = defineStrategy({ name: 'mine', forward: innerForward(lbfgs()), rule, options: {} });
 * ```
 */
export function innerForward(inner: InnerSolver): ForwardSolve {
  return {
    name: inner.name,
    kinds: ['energy'],
    solve({ problem, theta, data, x0, tol, maxIter }) {
      const r = inner.solve(problem as Problem<typeof data>, theta, data, { x0, tol, maxIter, tolMode: tol != null ? 'absolute' : undefined });
      return {
        x: r.x,
        residual: r.gradNorm,
        converged: r.converged,
        status: r.status,
        message: r.message,
        iterations: r.iterations,
        work: r.work,
        tol,
      };
    },
  };
}
