import { tf, addWork, emptyWork, vjp, statusMessage, explicitStopping } from '@bilevel/core';
import type { LinearSolver, SolveStatus } from '@bilevel/core';
import type { FixedPointRule } from './types.js';
import { countMapVjps, thetaVjp } from './types.js';

/**
 * Implicit differentiation of a fixed point with a matrix-free linear solver: solve
 * `(I − ∂ₓT)ᵀ w = v` (one VJP of T per product), return `(∂_θT)ᵀ w`. GMRES for any
 * contraction; CG when T is the gradient step of an energy (`(I − ∂ₓT)ᵀ = s∇²ₓₓΦ`, SPD);
 * Richardson with step 1 is the adjoint fixed-point iteration `w ← (∂ₓT)ᵀw + v`.
 *
 * @param where - the strategy's name, for messages.
 * @param linear - the core {@link LinearSolver}.
 * @returns a {@link FixedPointRule}.
 */
export function linearSolveRule(where: string, linear: LinearSolver): FixedPointRule {
  return {
    name: linear.name,
    explicit: explicitStopping(linear, linear.name === 'neumann' ? 'terms' : 'maxIter'),
    vjp({ map, energy, x, theta, cotangent, tol, maxIter }) {
      const work = emptyWork();
      const matvec = (u: tf.Tensor) => {
        countMapVjps(work, energy, 1);
        return tf.tidy(() => tf.sub(u, vjp((z) => map(z, theta), x, u)));
      };
      // A tol from the driver is absolute (on the adjoint residual); none: the solver's own rule.
      const solved = linear.solve(matvec, cotangent, tol != null ? { tol, tolMode: 'absolute', maxIter } : { maxIter });
      const grad = thetaVjp(map, x, theta, solved.x);
      solved.x.dispose();
      countMapVjps(work, energy, 1);
      // The solver's own record counts its iterations; the VJPs were counted by matvec.
      const merged = addWork(work, { ...solved.work, vjps: 0, hvps: 0, linearIterations: solved.iterations });
      const status: SolveStatus = solved.status === 'non-positive-curvature' ? 'breakdown' : solved.status;
      return {
        grad,
        residual: solved.residualNorm,
        converged: solved.converged,
        status,
        iterations: solved.iterations,
        tol,
        message: solved.converged
          ? solved.message
          : statusMessage('backward-not-converged', {
            where, iterations: solved.iterations, residual: solved.residualNorm, residualName: '‖(I − ∂ₓT)ᵀw − ∇ₓℓ‖', tol, maxIter,
            optionNames: { tol: 'linearTol', maxIter: 'linearMaxIter' }, detail: `(${solved.message})`,
            fix: `increase linearMaxIter${maxIter != null ? ` (now ${maxIter})` : ''} (or request.linearMaxIter, or the backward solver's own cap), loosen linearTol, or use backward: 'implicit' (GMRES) when T is not a contraction`,
          }),
        work: merged,
      };
    },
  };
}
