import type { tf } from '../tf.js';
import type { HypergradientResult, Strategy } from '../strategy.js';
import { formatNumber as fmt } from '../status.js';

/**
 * What to do when the forward or backward solve behind a hypergradient (or an `argmin`
 * solve) missed its tolerance. Never silent:
 * - `'warn'` (default): the result is returned flagged (`converged: false`, `status`,
 *   a message naming the fix); the first occurrence is printed, later ones are counted
 *   ({@link ConvergencePolicy.summary}; `train` prints one summary line per run).
 * - `'error'`: throws the message.
 * - `'tighten'` or `{ tighten: { retries, factor } }`: retries from the unconverged point
 *   with the failed solve's iteration cap multiplied by `factor` (default 4), up to
 *   `retries` times (default 3); then behaves like `'warn'`. A diverged or NaN solve is
 *   not retried.
 * - `{ fallback: strategy }`: recomputes with another strategy.
 * - a {@link ConvergencePolicy} object: shares its counters across calls.
 */
export type OnNotConverged = 'warn' | 'error' | 'tighten' | { tighten: { retries?: number; factor?: number } } | { fallback: Strategy } | ConvergencePolicy;

/** Default of `onNotConverged`. */
export const DEFAULT_ON_NOT_CONVERGED: OnNotConverged = 'warn';

/** Defaults of `'tighten'`. */
export const TIGHTEN_DEFAULTS = Object.freeze({ retries: 3, factor: 4 });

/** What a {@link ConvergencePolicy} has counted. */
export interface ConvergenceCounts {
  /** Results checked. */
  checked: number;
  /** Results consumed unconverged (after any retries or fallback). */
  unconverged: number;
  /** Of those, forward and backward failures. */
  forward: number;
  backward: number;
  /** Retries made by `'tighten'`, and results they turned converged. */
  retried: number;
  recovered: number;
  /** Largest residuals among unconverged results. */
  worstForward?: number;
  worstBackward?: number;
  /** The first unconverged message. */
  first?: string;
}

/** How a policy may recompute a hypergradient. */
export interface SettleContext {
  /** Function name for messages. */
  where: string;
  /** Tolerances requested, for messages. */
  tol: { tol?: number; linearTol?: number };
  /** Iteration caps requested (the base of `'tighten'`). */
  maxIter?: number;
  linearMaxIter?: number;
  /** Recomputes with changed caps, starting from `x0`. */
  retry?: (change: { maxIter?: number; linearMaxIter?: number; x0: tf.Tensor }) => HypergradientResult;
  /** Recomputes with another strategy. */
  fallback?: (strategy: Strategy) => HypergradientResult;
}

/** The convergence policy the core driver applies (see {@link OnNotConverged}). */
export interface ConvergencePolicy {
  readonly kind: 'convergence-policy';
  readonly mode: 'warn' | 'error' | 'tighten' | 'fallback';
  /** The counters so far. */
  readonly counts: Readonly<ConvergenceCounts>;
  /**
   * Applies the policy to one result: returns it (flagged), a retried/fallback result, or
   * throws. The given result is consumed when it is replaced or an error is thrown.
   */
  settle(result: HypergradientResult, context: SettleContext): HypergradientResult;
  /**
   * Applies the policy to one solve of `argmin` (forward or backward): throws for `'error'`,
   * warns the first time and counts otherwise. `cleanup` runs before a throw.
   */
  settleSolve(where: string, phase: 'forward' | 'backward', outcome: { converged: boolean; residual?: number; message: string }, strategy: string, tol: number | undefined, cleanup?: () => void): void;
  /** One line counting the unconverged results, or undefined when there were none. */
  summary(where: string): string | undefined;
  /** Clears the counters. */
  reset(): void;
}

/** Whether a result must be treated as unconverged (its own flag, or a non-finite residual). */
export function isUnconverged(result: Pick<HypergradientResult, 'converged' | 'residuals'>): boolean {
  const { forward, backward } = result.residuals;
  return !result.converged || !Number.isFinite(forward) || (backward != null && !Number.isFinite(backward));
}

/** The report of an unconverged result: which solve failed, its residual, the tolerance, the fix. */
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
    `Fix: ${fix}, or pass onNotConverged: 'tighten' or { fallback: otherStrategy }. Strategy said: ${result.message}`
  );
}

function zeroCounts(): ConvergenceCounts {
  return { checked: 0, unconverged: 0, forward: 0, backward: 0, retried: 0, recovered: 0 };
}

function isPolicy(value: unknown): value is ConvergencePolicy {
  return value != null && typeof value === 'object' && (value as { kind?: unknown }).kind === 'convergence-policy';
}

/** Validates an `onNotConverged` option; `where` names the calling function. */
export function checkOnNotConverged(where: string, value: unknown): OnNotConverged {
  if (value == null) return DEFAULT_ON_NOT_CONVERGED;
  if (value === 'error' || value === 'warn' || value === 'tighten' || isPolicy(value)) return value as OnNotConverged;
  if (typeof value === 'object' && 'fallback' in value) {
    const fb = (value as { fallback: unknown }).fallback;
    if (fb != null && typeof (fb as Strategy).compute === 'function') return value as OnNotConverged;
  }
  if (typeof value === 'object' && 'tighten' in value) {
    const t = (value as { tighten: { retries?: unknown; factor?: unknown } }).tighten;
    const okRetries = t?.retries == null || (Number.isInteger(t.retries) && (t.retries as number) >= 1);
    const okFactor = t?.factor == null || (typeof t.factor === 'number' && t.factor > 1 && Number.isFinite(t.factor));
    if (t != null && typeof t === 'object' && okRetries && okFactor) return value as OnNotConverged;
    throw new Error(`${where}: option 'onNotConverged.tighten' must be { retries?: integer ≥ 1, factor?: number > 1 }, got ${JSON.stringify(t)}.`);
  }
  throw new Error(
    `${where}: option 'onNotConverged' must be 'warn', 'error', 'tighten', { tighten: { retries, factor } }, { fallback: strategy } or a convergencePolicy(...), got ${String(value)}.`,
  );
}

/**
 * A convergence policy object: the one place where unconverged solves are warned about,
 * thrown, retried or replaced, with counters shared by every call it serves.
 *
 * @param option - see {@link OnNotConverged} (default `'warn'`).
 * @param label - text appended to the first warning (e.g. where the count will be reported).
 * @returns the {@link ConvergencePolicy}.
 * @example
 * ```ts
 * const policy = convergencePolicy('warn');
 * for (const theta of thetas) hypergradient({ problem, theta, data, loss, strategy, onNotConverged: policy }).dispose();
 * console.log(policy.summary('my loop')); // 'my loop: 12 of 50 hypergradients did not converge ...'
 * ```
 */
export function convergencePolicy(option: OnNotConverged = DEFAULT_ON_NOT_CONVERGED, label = ''): ConvergencePolicy {
  const value = checkOnNotConverged('convergencePolicy', option);
  if (isPolicy(value)) return value;
  const mode: ConvergencePolicy['mode'] =
    value === 'warn' || value === 'error' || value === 'tighten' ? value : 'fallback' in value ? 'fallback' : 'tighten';
  const tighten = { ...TIGHTEN_DEFAULTS, ...(typeof value === 'object' && 'tighten' in value ? value.tighten : {}) };
  const fallback = typeof value === 'object' && 'fallback' in value ? value.fallback : undefined;
  let counts = zeroCounts();

  function record(phase: 'forward' | 'backward', residual: number | undefined, message: string): boolean {
    const first = counts.unconverged === 0;
    counts.unconverged += 1;
    counts[phase] += 1;
    const key = phase === 'forward' ? 'worstForward' : 'worstBackward';
    if (residual != null && !(residual <= (counts[key] ?? -Infinity))) counts[key] = residual;
    if (first) counts.first = message;
    return first;
  }

  function warnFirst(first: boolean, message: string): void {
    if (first) console.warn(`${message}${label ? ` (${label})` : ''}`);
  }

  const policy: ConvergencePolicy = {
    kind: 'convergence-policy',
    mode,
    get counts() {
      return counts;
    },
    settle(input, context) {
      counts.checked += 1;
      let result = input;
      if (!isUnconverged(result)) return result;
      if (mode === 'tighten' && context.retry != null) {
        for (let attempt = 1; attempt <= tighten.retries && isUnconverged(result); attempt++) {
          if (!Number.isFinite(result.residuals.forward) || (result.residuals.backward != null && Number.isNaN(result.residuals.backward))) break;
          const backward = result.status === 'backward-not-converged';
          const base = backward ? context.linearMaxIter ?? result.work.linearIterations : context.maxIter ?? result.work.innerIterations;
          const cap = Math.ceil(Math.max(1, base) * tighten.factor ** attempt);
          counts.retried += 1;
          const next = context.retry(backward ? { linearMaxIter: cap, x0: result.x } : { maxIter: cap, x0: result.x });
          result.dispose();
          result = next;
          if (!isUnconverged(result)) {
            counts.recovered += 1;
            result.message = `${result.message} ['tighten': converged on retry ${attempt} with ${backward ? 'linearMaxIter' : 'maxIter'} = ${cap}]`;
            return result;
          }
        }
      }
      if (result.converged) {
        // A non-finite residual with a 'converged' flag: re-label so callers see it.
        result.converged = false;
        if (result.status === 'converged' || result.status === 'fixed-steps') result.status = 'forward-not-converged';
      }
      const message = notConvergedMessage(context.where, result, context.tol);
      if (mode === 'error') {
        result.dispose();
        throw new Error(message);
      }
      if (mode === 'fallback' && fallback != null && context.fallback != null) {
        const failed = result.strategy;
        const residuals = result.residuals;
        result.dispose();
        const replaced = context.fallback(fallback);
        replaced.strategy = `${replaced.strategy} (fallback from ${failed})`;
        replaced.message = `${replaced.message} [fallback: '${failed}' did not converge (residuals forward ${fmt(residuals.forward)}, backward ${fmt(residuals.backward)})]`;
        if (!isUnconverged(replaced)) return replaced;
        result = replaced;
      }
      const backward = result.status === 'backward-not-converged';
      const finalMessage = mode === 'fallback' ? `${notConvergedMessage(context.where, result, context.tol)} (the fallback did not converge either)` : message;
      warnFirst(record(backward ? 'backward' : 'forward', backward ? result.residuals.backward : result.residuals.forward, finalMessage), finalMessage);
      result.message = finalMessage;
      return result;
    },
    settleSolve(where, phase, outcome, strategy, tol, cleanup) {
      counts.checked += 1;
      const residual = outcome.residual;
      if (outcome.converged && (residual == null || Number.isFinite(residual))) return;
      const fix = phase === 'forward' ? "increase 'maxIter', loosen 'tol', or use a faster inner solver" : "increase 'linearMaxIter' or loosen 'linearTol'";
      const message =
        `${where}: the ${phase} solve of '${strategy}' did not converge: residual ${fmt(residual)} vs tolerance ${tol == null ? "(the strategy's default)" : fmt(tol)}; ` +
        `${phase === 'forward' ? 'x̂ and its gradient' : 'the gradient'} may be wrong. Fix: ${fix}. (${outcome.message})`;
      if (mode === 'error') {
        cleanup?.();
        throw new Error(message);
      }
      warnFirst(record(phase, residual, message), message);
    },
    summary(where) {
      if (counts.unconverged === 0) return undefined;
      const c = counts;
      const retried = c.retried > 0 ? `; 'tighten' made ${c.retried} retries, ${c.recovered} converged` : '';
      return (
        `${where}: ${c.unconverged} of ${c.checked} hypergradients did not converge (${c.forward} forward, ${c.backward} backward; ` +
        `worst residual forward ${fmt(c.worstForward)}, backward ${fmt(c.worstBackward)})${retried}. ` +
        `Fix: raise the iteration caps ('maxIter', 'linearMaxIter'), loosen the accuracies, or pass onNotConverged: 'tighten' / 'error'. First: ${c.first}`
      );
    },
    reset() {
      counts = zeroCounts();
    },
  };
  return policy;
}

const sitePolicies = new Map<string, ConvergencePolicy>();

/**
 * The `'warn'` policy of one call site in user code: `hypergradient(...)` and `argmin(...)`
 * called with the string `'warn'` print the first unconverged result of each call site and
 * count the rest ({@link convergenceReport}).
 */
export function sitePolicy(site: string): ConvergencePolicy {
  let p = sitePolicies.get(site);
  if (p == null) {
    p = convergencePolicy('warn', `warned once for ${site}; later ones are counted, see convergenceReport()`);
    sitePolicies.set(site, p);
  }
  return p;
}

/**
 * Counters of the per-call-site `'warn'` policies: how many results each call site consumed
 * unconverged since the last {@link resetConvergenceWarnings}.
 *
 * @returns one entry per call site that checked a result.
 * @example
 * ```ts
 * for (const { site, counts } of convergenceReport()) console.log(site, counts.unconverged, 'of', counts.checked);
 * ```
 */
export function convergenceReport(): Array<{ site: string; counts: ConvergenceCounts }> {
  return Array.from(sitePolicies.entries()).map(([site, p]) => ({ site, counts: { ...p.counts } }));
}

/** Forgets the per-call-site warnings and counters (for tests and long-running services). */
export function resetConvergenceWarnings(): void {
  sitePolicies.clear();
}

/**
 * The first stack frame outside bilevel's own driver modules: the user's call site, so that
 * the string `'warn'` warns once per place in user code, not once per call.
 */
export function callSite(): string {
  const stack = new Error().stack ?? '';
  const lines = stack.split('\n').slice(1);
  const outside = lines.find((l) => !/[/\\]core[/\\](src|dist)[/\\](driver[/\\]|hypergradient|argmin|argmin-layer)/.test(l));
  return (outside ?? lines[lines.length - 1] ?? 'unknown').trim();
}

/**
 * The policy object for an `onNotConverged` option at a call site: a policy object is used as
 * is; the strings `'warn'` and `'tighten'` share one policy per call site (first occurrence
 * printed, the rest counted); `'error'` and `{ fallback }` get a fresh one.
 */
export function resolvePolicy(where: string, option: unknown, site: () => string): ConvergencePolicy {
  const value = checkOnNotConverged(where, option);
  if (value === 'warn') return sitePolicy(site());
  if (value === 'tighten') {
    const key = `${site()}#tighten`;
    let p = sitePolicies.get(key);
    if (p == null) {
      p = convergencePolicy('tighten', `warned once for ${key}; later ones are counted, see convergenceReport()`);
      sitePolicies.set(key, p);
    }
    return p;
  }
  return convergencePolicy(value);
}
