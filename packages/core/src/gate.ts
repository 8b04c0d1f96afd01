import type { HypergradientResult, Strategy } from './strategy.js';

/**
 * What to do when the forward (or backward) solve behind a hypergradient did not reach its
 * tolerance: `'warn'` (default) logs once per call site and returns the flagged result,
 * `'error'` throws, `{ fallback }` recomputes with another strategy.
 */
export type OnNotConverged = 'error' | 'warn' | { fallback: Strategy };

/** Default of `onNotConverged`. */
export const DEFAULT_ON_NOT_CONVERGED: OnNotConverged = 'warn';

const warnedSites = new Set<string>();

/** Forgets which call sites have already warned (for tests and long-running services). */
export function resetConvergenceWarnings(): void {
  warnedSites.clear();
}

/** Validates an `onNotConverged` option; `where` names the calling function. */
export function checkOnNotConverged(where: string, value: unknown): OnNotConverged {
  if (value == null) return DEFAULT_ON_NOT_CONVERGED;
  if (value === 'error' || value === 'warn') return value;
  if (typeof value === 'object' && value != null && 'fallback' in value) {
    const fb = (value as { fallback: unknown }).fallback;
    if (fb != null && typeof (fb as Strategy).compute === 'function') return value as OnNotConverged;
  }
  throw new Error(
    `${where}: option 'onNotConverged' must be 'warn', 'error' or { fallback: strategy } (a strategy built by a factory such as implicit(...)), got ${String(value)}.`,
  );
}

/**
 * The first stack frame outside bilevel's own gate/hypergradient/argmin modules: the user's
 * call site, so that a warning is printed once per place in user code, not once per call.
 */
export function callSite(): string {
  const stack = new Error().stack ?? '';
  const lines = stack.split('\n').slice(1);
  const outside = lines.find((l) => !/[/\\]core[/\\]src[/\\](gate|hypergradient|argmin|argmin-layer)\.ts/.test(l));
  return (outside ?? lines[lines.length - 1] ?? 'unknown').trim();
}

function fmt(v: number | undefined): string {
  return v == null ? 'n/a' : Number.isFinite(v) ? v.toExponential(2) : String(v);
}

/** Whether a result must be treated as unconverged (its own flag, or a non-finite residual). */
export function isUnconverged(result: Pick<HypergradientResult, 'converged' | 'residuals'>): boolean {
  const { forward, backward } = result.residuals;
  return !result.converged || !Number.isFinite(forward) || (backward != null && !Number.isFinite(backward));
}

/**
 * The convergence report of an unconverged result: which solve failed, its residual, the
 * requested tolerance, and how to fix it.
 */
export function notConvergedMessage(
  where: string,
  result: Pick<HypergradientResult, 'status' | 'residuals' | 'message' | 'strategy'>,
  tol: { tol?: number; linearTol?: number },
): string {
  const backward = result.status === 'backward-not-converged';
  const residual = backward ? result.residuals.backward : result.residuals.forward;
  const what = backward ? 'backward (adjoint) solve' : 'forward (lower-level) solve';
  const name = backward ? 'backward residual ‖Hq − ∇ₓℓ‖' : 'forward residual ‖∇ₓΦ‖ (or ‖T(x) − x‖)';
  const t = backward ? tol.linearTol : tol.tol;
  const fix = backward
    ? "increase 'linearMaxIter', loosen 'linearTol', or precondition/warm-start the adjoint solve"
    : "increase 'maxIter', loosen 'tol', pass a better 'x0', or choose a faster inner solver";
  return (
    `${where}: the ${what} of strategy '${result.strategy}' did not converge: ${name} = ${fmt(residual)} ` +
    `vs tolerance ${t == null ? "(the strategy's default)" : fmt(t)}; the hypergradient may be wrong. ` +
    `Fix: ${fix}, or pass onNotConverged: { fallback: otherStrategy }. Strategy said: ${result.message}`
  );
}

/**
 * Applies the convergence gate to a strategy's result: never a silent wrong gradient.
 *
 * @param where - the function name for messages.
 * @param result - the strategy's result (consumed when a fallback replaces it).
 * @param policy - the `onNotConverged` option.
 * @param tol - the tolerances requested, for the message.
 * @param recompute - recomputes with a fallback strategy.
 * @param site - the call site key for warn-once.
 * @returns the (possibly replaced) result.
 */
export function applyConvergenceGate(
  where: string,
  result: HypergradientResult,
  policy: OnNotConverged,
  tol: { tol?: number; linearTol?: number },
  recompute: (strategy: Strategy) => HypergradientResult,
  site: string,
): HypergradientResult {
  if (!isUnconverged(result)) return result;
  if (result.converged) {
    // A non-finite residual with a 'converged' flag: re-label so callers see it.
    result.converged = false;
    if (result.status === 'converged') result.status = 'forward-not-converged';
  }
  const message = notConvergedMessage(where, result, tol);
  if (policy === 'error') {
    result.dispose();
    throw new Error(message);
  }
  if (policy === 'warn') {
    if (!warnedSites.has(site)) {
      warnedSites.add(site);
      console.warn(`${message} (warned once for ${site})`);
    }
    result.message = message;
    return result;
  }
  const failed = result.strategy;
  const failedResiduals = result.residuals;
  result.dispose();
  const replaced = recompute(policy.fallback);
  replaced.strategy = `${replaced.strategy} (fallback from ${failed})`;
  replaced.message =
    `${replaced.message} [fallback: '${failed}' did not converge (residuals forward ${fmt(failedResiduals.forward)}, backward ${fmt(failedResiduals.backward)})]`;
  if (isUnconverged(replaced) && !warnedSites.has(`${site}#fallback`)) {
    warnedSites.add(`${site}#fallback`);
    console.warn(`${notConvergedMessage(where, replaced, tol)} (the fallback did not converge either; warned once for ${site})`);
  }
  return replaced;
}
