// The oracle of `oracleFromStrategy({ workers })`: every call is a pooled hypergradient of
// its batch (all samples when the method asks for the full objective), computed sample by
// sample on the pool and summed in the batch's order.
import { convergencePolicy, isSamplePool, pooledHypergradient, type ConvergencePolicy, type OnNotConverged, type PoolPolicy, type SamplePool } from '@bilevel/core';
import type { OracleAccuracy, OracleCallOptions, OracleResult } from '../types.js';

/** The pool modes a convergence option maps to (`{ fallback }` cannot cross a thread). */
function poolPolicy(where: string, option: OnNotConverged | undefined): PoolPolicy {
  if (option == null) return 'warn';
  if (option === 'warn' || option === 'error' || option === 'tighten') return option;
  if (typeof option === 'object' && 'tighten' in option) return option;
  if (typeof option === 'object' && 'kind' in option && option.kind === 'convergence-policy') return option.mode === 'fallback' ? 'warn' : option.mode;
  throw new Error(`${where}: option 'onNotConverged' { fallback } cannot be used with 'workers' (the strategy runs in the workers); put the fallback into the task module's strategy, or use 'warn', 'error' or 'tighten'.`);
}

/** `oracleFromStrategy`'s pooled form; see there. */
export function pooledOracle(where: string, pool: SamplePool, options: { maxIter?: number; linearMaxIter?: number; warmStart?: boolean; onNotConverged?: OnNotConverged }) {
  if (!isSamplePool(pool)) throw new Error(`${where}: option 'workers' must be a pool: workerPool({ module, threads }) from @bilevel/pool, distributedPool(...) from @bilevel/distributed, or inlinePool(task).`);
  const mode = poolPolicy(where, options.onNotConverged);
  const policy: ConvergencePolicy =
    typeof options.onNotConverged === 'object' && 'kind' in options.onNotConverged ? options.onNotConverged : convergencePolicy(mode, `${where}: later unconverged calls are counted in oracle.convergence`);
  const all = Array.from({ length: pool.samples }, (_, i) => i);
  const oracle = (theta: Parameters<typeof pooledHypergradient>[1]['theta'], accuracy: OracleAccuracy, call: OracleCallOptions = {}): OracleResult => {
    // the request kind: a value-only call runs the samples' forward solves alone
    const valueOnly = call.valueOnly === true && call.skipAdjoint !== false;
    const r = pooledHypergradient(pool, {
      kind: valueOnly ? 'value' : 'hypergradient',
      theta,
      samples: call.batch ?? all,
      tol: accuracy.tol,
      linearTol: accuracy.linearTol,
      maxIter: options.maxIter,
      linearMaxIter: options.linearMaxIter,
      warmStart: options.warmStart,
      onNotConverged: mode,
    });
    return { value: r.value, grad: r.grad, bound: r.bound, valueBound: r.valueBound, work: r.work, converged: r.converged, status: r.status, message: r.message, dispose: () => r.dispose() };
  };
  return Object.assign(oracle, { convergence: policy, saveState: () => pool.saveState(), loadState: (state: unknown) => pool.loadState(state) });
}
