import type { Data } from '../problem.js';
import type { HypergradientRequest, HypergradientResult, Strategy, ValueResult } from '../strategy.js';
import type { ConvergencePolicy } from './policy.js';
import { tf } from '../tf.js';
import { checkRequest, guardLoss } from './door.js';
import { withAllocationHint } from '../inputs.js';

/** Runs `strategy.compute` and checks that it returned a result. */
function computeOnce<D>(where: string, strategy: Strategy, request: HypergradientRequest<D>): HypergradientResult {
  const result = strategy.compute(request);
  if (result == null || result.grad == null || result.x == null) {
    throw new Error(`${where}: strategy '${strategy.name}' returned no result; its compute() must return a HypergradientResult.`);
  }
  if (!result.strategy) result.strategy = strategy.name;
  return result;
}

/**
 * One hypergradient behind the convergence policy: the path shared by core's `hypergradient`
 * and outer's oracle. Runs `strategy.compute(request)` (for driven strategies: forward solve,
 * loss split, rule), then `policy.settle`, which may return the flagged result, throw, retry
 * with larger caps from the unconverged point, or recompute with a fallback strategy.
 *
 * @param where - function name for messages.
 * @param strategy - the strategy.
 * @param request - the validated request.
 * @param policy - the convergence policy.
 * @returns the settled result (the caller owns it).
 * @example
 * ```ts
 * const r = hypergradientWithPolicy('train', strategy, { problem, theta, data, loss, tol: 1e-4 }, convergencePolicy('tighten'));
 * ```
 */
export function hypergradientWithPolicy<D = Data>(where: string, strategy: Strategy, requestIn: HypergradientRequest<D>, policy: ConvergencePolicy): HypergradientResult {
  checkRequest(where, requestIn);
  const request = { ...requestIn, loss: guardLoss(where, requestIn.loss) };
  const inputs = [requestIn.x0, ...(requestIn.data instanceof tf.Tensor ? [requestIn.data] : Object.values((requestIn.data ?? {}) as object))].filter((t): t is tf.Tensor => t instanceof tf.Tensor);
  return withAllocationHint(where, inputs, () => settled(where, strategy, request, policy));
}

function settled<D>(where: string, strategy: Strategy, request: HypergradientRequest<D>, policy: ConvergencePolicy): HypergradientResult {
  const first = computeOnce(where, strategy, request);
  // What the call ran with: the request's, else the driven strategy's resolved accuracy, else its options.
  type Accuracy = { tol?: number; linearTol?: number; maxIter?: number; linearMaxIter?: number };
  const resolved = (strategy as { accuracy?: Accuracy }).accuracy ?? {};
  const options = (strategy as { options?: Accuracy }).options ?? {};
  const of = (key: keyof Accuracy) => request[key] ?? resolved[key] ?? options[key];
  return policy.settle(first, {
    where,
    tol: { tol: of('tol'), linearTol: of('linearTol') },
    maxIter: of('maxIter'),
    linearMaxIter: of('linearMaxIter'),
    retry: (change) => computeOnce(where, strategy, { ...request, ...change }),
    fallback: (other) => computeOnce(where, other, request),
  });
}

/**
 * One value-only evaluation behind the convergence policy: `strategy.value(request)` (the
 * forward solve, ℓ(x̃) and the forward-only value bound; no adjoint solve), its forward solve
 * settled by `policy.settleSolve` (`'warn'` counts it, `'error'` throws). What outer's oracle
 * and the pool runner run for `valueOnly` requests (MAID's line-search trials).
 *
 * @param where - function name for messages.
 * @param strategy - a strategy with `value` (every `defineStrategy` strategy has it).
 * @param request - the request (accuracies as for a hypergradient; `linearTol` is not used).
 * @param policy - the convergence policy.
 * @returns the value result (the caller owns it).
 * @example
 * ```ts
 * const r = valueWithPolicy('lineSearch', strategy, { problem, theta, data, loss, tol: 1e-4 }, convergencePolicy('warn'));
 * console.log(r.value, r.valueBound, r.work.linearIterations); // …, …, 0
 * r.dispose();
 * ```
 */
export function valueWithPolicy<D = Data>(where: string, strategy: Strategy, requestIn: HypergradientRequest<D>, policy: ConvergencePolicy): ValueResult {
  if (typeof strategy.value !== 'function') throw new Error(`${where}: strategy '${strategy.name}' has no value(); value-only requests need a strategy built by defineStrategy (or one that implements value).`);
  checkRequest(where, requestIn);
  const request = { ...requestIn, loss: guardLoss(where, requestIn.loss) };
  const inputs = [requestIn.x0, ...(requestIn.data instanceof tf.Tensor ? [requestIn.data] : Object.values((requestIn.data ?? {}) as object))].filter((t): t is tf.Tensor => t instanceof tf.Tensor);
  const result = withAllocationHint(where, inputs, () => strategy.value!(request));
  if (result == null || result.x == null) throw new Error(`${where}: strategy '${strategy.name}' returned no result; its value() must return a ValueResult.`);
  const resolved = (strategy as { accuracy?: { tol?: number } }).accuracy ?? {};
  policy.settleSolve(where, 'forward', { converged: result.converged, residual: result.residuals.forward, message: result.message }, result.strategy || strategy.name, request.tol ?? resolved.tol, () => result.dispose());
  return result;
}
