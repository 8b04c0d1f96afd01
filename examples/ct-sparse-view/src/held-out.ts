/**
 * Whether the solves behind a printed row converged. Every reconstruction a row's PSNR / SSIM (or its α by a grid)
 * rests on is checked by one core convergence policy in `'warn'` mode: the first solve that missed its tolerance is
 * printed with its residual and the fix, the rest are counted, and the row says how many of its solves converged
 * (its `converged` column and its console line), so a PSNR of a point stopped at the cap is never read as converged.
 */
import { convergencePolicy, type ConvergencePolicy } from '@bilevel/core';

/** What one solve reports (a strategy's `solve`, an inner solver's result). */
export interface SolveOutcome {
  converged: boolean;
  /** The stopping residual at the returned point. */
  residual?: number;
  /** The solver's own message (status, iterations). */
  message: string;
}

/** The convergence record of one row. */
export interface RowConvergence {
  /** Checks one solve against the row's policy (the first unconverged one is printed). */
  check(outcome: SolveOutcome, tol: number): void;
  /** Solves checked, and how many of them converged. */
  readonly checked: number;
  readonly converged: number;
  /** `'2/2 converged'`, or `'1/2 converged; 1 stopped short (--evalMaxIter 800)'`. */
  text(): string;
  /** The row's warning when a solve did not converge (undefined when all did). */
  warning(): string | undefined;
}

/**
 * The convergence record of one row.
 *
 * @param where - the row and what it solves, for the messages, e.g. `'ct-sparse-view tv-maid held out'`.
 * @param solver - the solver's name (`'piggyback'`, `'lbfgs'`).
 * @param cap - the flag and value that cap the row's solves, e.g. `'--evalMaxIter 800'`.
 * @returns the record; one policy per row, so one printed warning per row at most.
 * @example
 * ```ts
 * const held = rowConvergence('ct-sparse-view tv-maid held out', 'piggyback', '--evalMaxIter 800');
 * held.check({ converged: r.converged, residual: r.residual, message: r.message }, 1e-3);
 * console.log(`held out ${held.text()}`); // 'held out 1/1 converged'
 * ```
 */
export function rowConvergence(where: string, solver: string, cap: string): RowConvergence {
  // plain solves, not hypergradients: the policy's own summary counts them as 'solves'
  const policy: ConvergencePolicy = convergencePolicy('warn', `the row's converged column counts them; raise ${cap.split(' ')[0]}`, { counted: 'solves' });
  const failed = () => policy.counts.unconverged;
  return {
    check(outcome, tol) {
      policy.settleSolve(where, 'forward', outcome, solver, tol);
    },
    get checked() {
      return policy.counts.checked;
    },
    get converged() {
      return policy.counts.checked - failed();
    },
    text() {
      const { checked } = policy.counts;
      return failed() === 0 ? `${checked}/${checked} converged` : `${checked - failed()}/${checked} converged; ${failed()} stopped short (${cap})`;
    },
    warning() {
      if (failed() === 0) return undefined;
      return `${where}: ${failed()} of ${policy.counts.checked} solves did not converge (${cap}; worst residual ${policy.counts.worstForward?.toExponential(2) ?? 'n/a'}); the row's PSNR / SSIM are of unconverged points.`;
    },
  };
}
