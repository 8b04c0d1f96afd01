import type { Oracle } from '../types.js';

/** Convergence of the oracle calls of one upper-level iteration. */
export interface IterationConvergence {
  /** Whether every oracle call of the iteration converged. */
  converged: boolean;
  /** `'converged'` or the status of the first unconverged call. */
  status: string;
  /** Unconverged oracle calls of the iteration. */
  unconverged: number;
}

/**
 * Wraps an oracle so that `train` can record, per iteration, whether its calls converged
 * (the statuses go into the history and the progress events). `take()` returns the record
 * of the calls since the last `take()`; `totals` counts the whole run.
 */
export function recordConvergence(oracle: Oracle): { oracle: Oracle; take(): IterationConvergence; totals: { calls: number; unconverged: number } } {
  let unconverged = 0;
  let status: string | undefined;
  const totals = { calls: 0, unconverged: 0 };
  const wrapped: Oracle = Object.assign(
    (...args: Parameters<Oracle>) => {
      const r = oracle(...args);
      totals.calls += 1;
      if (r.converged === false) {
        unconverged += 1;
        totals.unconverged += 1;
        status ??= r.status ?? 'not-converged';
      }
      return r;
    },
    { saveState: oracle.saveState?.bind(oracle), loadState: oracle.loadState?.bind(oracle) },
  );
  return {
    oracle: wrapped,
    totals,
    take() {
      const out = { converged: unconverged === 0, status: status ?? 'converged', unconverged };
      unconverged = 0;
      status = undefined;
      return out;
    },
  };
}
