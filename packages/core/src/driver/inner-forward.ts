import type { Problem } from '../problem.js';
import type { InnerSolver } from '../inner/types.js';
import type { ForwardSolve, ExplicitStopping } from './types.js';
import { explicitOptions } from '../options.js';

/** The `tol` / iteration cap a user set explicitly on a solver (`maxIterKey`: `'terms'` for neumann). */
export function explicitStopping(solver: object, maxIterKey = 'maxIter'): ExplicitStopping {
  const given = explicitOptions(solver);
  return {
    tol: typeof given.tol === 'number' ? given.tol : undefined,
    maxIter: typeof given[maxIterKey] === 'number' ? (given[maxIterKey] as number) : undefined,
  };
}

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
    explicit: explicitStopping(inner),
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
