import { tf, addWork, withIsolatedTape, statusMessage } from '@bilevel/core';
import type { DifferentiationRule, ForwardOutcome, SaddleProblem, SolveStatus } from '@bilevel/core';
import { piggybackAdjoint } from './internal/adjoint.js';
import type { PdhgForward, SaddleAux } from './forward.js';
import type { SaddleWarmStart } from './internal/warm.js';

/**
 * The piggyback rule (Griewank–Faure reverse mode of one PDHG step; Bogensperger, Ehrhardt,
 * Pock, Salehi & Wong, Algorithm 1): at the saddle point u = (x, z) iterate the adjoint
 * `λ ← (∂_u T)ᵀλ + (v, 0)` to `linearTol` and return `(∂_θ T)ᵀλ`. It needs the dual z and the
 * PDHG steps; inside `argmin`'s backward pass only x is known, so PDHG is re-run from x with the
 * kept dual (about one iteration when x is that solution) and its work is counted.
 *
 * @param forward - the PDHG forward solve.
 * @param warm - the strategy's warm-start state (shared with the forward).
 * @param opts - forward accuracy for the re-solve, and whether to keep λ.
 * @returns a core `DifferentiationRule` for saddle problems.
 */
export function piggybackRule(forward: PdhgForward, warm: SaddleWarmStart, opts: { tol: number; maxIter: number; warmStart: boolean }): DifferentiationRule<SaddleAux> {
  const where = 'piggyback';
  return {
    name: 'piggyback adjoint',
    // The saddle point (x, z) and adjoint (a, b) PDHG and the adjoint restart from.
    warmState: () => warm.export(),
    loadWarmState: (state) => warm.import(state),
    vjp(request) {
      const problem = request.problem as SaddleProblem<typeof request.data>;
      const { theta, data, cotangent, purpose } = request;
      const linearTol = request.linearTol!;
      const linearMaxIter = request.linearMaxIter!;
      if (request.wrtData) {
        throw new Error(`${where}: argmin's 'differentiateData' is not supported for saddle-point problems; differentiate with respect to θ (put the input in θ if you need its gradient).`);
      }
      return withIsolatedTape(() => {
        // The driver's forward outcome (hypergradient), or undefined inside argmin's backward pass.
        const given: ForwardOutcome<SaddleAux> | undefined = request.forward.aux != null ? request.forward : undefined;
        const fwd = given ?? forward.run(problem, theta, data, request.forward.x, opts.tol, opts.maxIter, true);
        const aux = fwd.aux!;
        aux.taken = true;
        const start = given == null || aux.warm ? warm.adjoint(aux.z) : undefined;
        const adj = piggybackAdjoint(problem, theta, data, cotangent, fwd.x, aux.z, aux.tau, aux.sigma, start?.a, start?.b, linearTol, linearMaxIter);
        if (opts.warmStart || given == null) warm.remember(fwd.x, aux.z, adj.a, adj.b);
        else tf.dispose([aux.z, adj.a, adj.b]);
        if (given == null) fwd.x.dispose();
        const status: SolveStatus = adj.diverged ? 'diverged' : adj.converged ? 'converged' : 'max-iterations';
        const facts = { where: 'piggyback adjoint', iterations: adj.iterations, residual: adj.residual, residualName: '‖λ_{k+1} − λ_k‖', tol: linearTol, tolMode: 'absolute' as const, maxIter: linearMaxIter, optionNames: { tol: 'linearTol', maxIter: 'linearMaxIter' } };
        let message = statusMessage(status, {
          ...facts,
          fix: status === 'diverged' ? 'the linearised PDHG step is not contractive at this point (is the forward solution accurate? is the saddle point unique?)' : undefined,
        });
        if (given == null && !fwd.converged) message = `the saddle point could not be re-established from x (${fwd.message}); ${message}`;
        if (purpose === 'hypergradient') {
          message += " No hypergradient bound: Theorem 2 of Bogensperger et al. needs smoothness and Hessian-Lipschitz constants of g and f* that a prox-only problem does not give.";
        }
        return {
          grad: adj.grad,
          residual: adj.residual,
          converged: adj.converged && (given != null || fwd.converged),
          status,
          iterations: adj.iterations,
          tol: linearTol,
          message,
          work: given == null ? addWork(fwd.work, adj.work) : adj.work,
        };
      });
    },
  };
}
