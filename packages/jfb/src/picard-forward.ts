import { tf, addWork, innerForward, fixedPointMapOf, statusMessage } from '@bilevel/core';
import type { ForwardSolve, InnerSolver, Problem, FixedPointProblem, SolveStatus } from '@bilevel/core';

/**
 * The forward half of `jacobianFree`: Picard iterations `x ← T(x)` of the problem's map, or of
 * the gradient step `T(x) = x − s∇ₓΦ(x)` of an energy (gradient descent), until
 * `‖T(x) − x‖/s ≤ tol` (‖∇ₓΦ‖ for energies). Energies go to `inner` instead when one is given.
 *
 * @param where - the strategy's name, for messages.
 * @param stepSize - s of the gradient step (default 1/L).
 * @param inner - optional inner solver for energies.
 * @returns a core `ForwardSolve` for energies and fixed-point problems.
 */
export function picardForward(where: string, stepSize: number | undefined, inner?: InnerSolver): ForwardSolve {
  const viaInner = inner != null ? innerForward(inner) : undefined;
  return {
    name: inner?.name ?? 'picard',
    kinds: ['energy', 'fixed-point'],
    solve(request) {
      const { problem, theta, data, x0: start, tol = 1e-5, maxIter = 1000 } = request;
      if (problem.kind === 'energy' && viaInner != null) return viaInner.solve(request);
      const fp = problem as Problem<typeof data> | FixedPointProblem<typeof data>;
      const { map, scale, energy } = fixedPointMapOf(where, fp, theta, data, stepSize);
      let x = tf.keep(fp.initialPoint(theta, data, start));
      let residual = Infinity;
      let iterations = 0;
      let evals = 0;
      for (;;) {
        const tx = tf.keep(tf.tidy(() => map(x, theta)));
        evals += 1;
        const norm = tf.tidy(() => tf.norm(tf.sub(tx, x)));
        residual = norm.dataSync()[0] / scale;
        norm.dispose();
        if (residual <= tol || iterations >= maxIter || !Number.isFinite(residual)) {
          tx.dispose();
          break;
        }
        x.dispose();
        x = tx;
        iterations += 1;
      }
      const status: SolveStatus = !Number.isFinite(residual) ? 'nan' : residual <= tol ? 'converged' : 'max-iterations';
      const message = statusMessage(status, {
        where: `${where} (Picard)`, iterations, residual, residualName: energy ? '‖∇ₓΦ‖' : '‖T(x) − x‖', tol, tolMode: 'absolute', maxIter,
        fix: status === 'converged' ? undefined : `increase maxIter (now ${maxIter})${energy ? ', check stepSize ≤ 1/L, or pass an inner solver' : ' or check that T is a contraction'}`,
      });
      const work = addWork(energy ? { gradEvals: evals } : { energyEvals: evals }, { innerIterations: iterations });
      return { x, residual, converged: status === 'converged', status, message, iterations, work, tol };
    },
  };
}
