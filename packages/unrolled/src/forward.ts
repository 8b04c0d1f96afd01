import type { ForwardSolve } from '@bilevel/core';
import { advance, disposeState, initialState } from './internal/steps.js';
import { type UnrolledConfig, type EnergyOrMap, stepFor, measure, outcome } from './internal/config.js';

/**
 * The forward half of the unrolled strategy: T untaped solver steps from x_0 (the given
 * start or the problem's `init`), x_T with its residual and status (see `outcome`).
 *
 * @param config - the resolved options.
 * @returns a forward solve for energies and fixed-point problems.
 */
export function unrolledForward(config: UnrolledConfig): ForwardSolve {
  return {
    name: 'unrolled',
    kinds: ['energy', 'fixed-point'],
    solve({ problem: p, theta, data, x0: start, tol }) {
      const problem = p as EnergyOrMap<typeof data>;
      const { step, stateSize } = stepFor(config, problem, theta, data);
      const x0 = problem.initialPoint(theta, data, start);
      const r0 = measure(problem, x0, theta, data).residual;
      const final = advance(step, initialState(x0, stateSize), theta, config.steps, true);
      x0.dispose();
      disposeState(final.slice(1));
      return outcome(config, problem, theta, data, r0, final[0], tol);
    },
  };
}
