import type { tf } from '../tf.js';
import type { HypergradientResult, Strategy } from '../strategy.js';
import { formatNumber as fmt } from '../status.js';
import { checkOptions, opt } from '../options.js';

// Keys only (values are checked below with the policy's own message).
const TIGHTEN_SCHEMA = { retries: opt.any(), factor: opt.any(), tolFactor: opt.any(), minTol: opt.any() };

/** Options of {@link convergencePolicy} beyond its mode and label. */
export interface ConvergencePolicyOptions {
  /**
   * What the policy counts, plural, as {@link ConvergencePolicy.summary} names it, e.g. `'held-out solves'`.
   * Default: by what it checked — `'hypergradients'` (results through `settle`), `'solves'` (`argmin`'s
   * forward / backward solves through `settleSolve`), `'hypergradients and solves'` when both.
   */
  counted?: string;
}

const POLICY_SCHEMA = {
  counted: opt.custom("a non-empty string (a plural noun, e.g. 'solves')", (v) => typeof v === 'string' && v.trim() !== '', "it names what the summary counts: '3 of 5 solves did not converge'"),
};

/**
 * What to do when the forward or backward solve behind a hypergradient (or an `argmin`
 * solve) missed its tolerance. Never silent:
 * - `'warn'` (default): the result is returned flagged (`converged: false`, `status`,
 *   a message naming the fix); the first occurrence is printed, later ones are counted
 *   ({@link ConvergencePolicy.summary}; `train` prints one summary line per run).
 * - `'error'`: throws the message.
 * - `'tighten'` or `{ tighten: { retries, factor, tolFactor, minTol } }`: recomputes a more
 *   accurate hypergradient from the unconverged point, up to `retries` times (default 3):
 *   retry k multiplies the failed solve's iteration cap by `factor^k` (default 4) and both
 *   tolerances (forward ε and backward δ, where known) by `tolFactor^k` (default 0.5), never
 *   below `minTol` (default 1e-6: float32 residuals of unit-scale problems stall near
 *   1e-7–1e-6, so tighter would only burn the cap). The hypergradient error is
 *   O(ε + δ) (Pedregosa, "Hyperparameter optimization with approximate gradient", ICML
 *   2016, Theorem 1), so a retry that converges is also a more accurate one. Then behaves
 *   like `'warn'`. A diverged or NaN solve is not retried.
 * - `{ fallback: strategy }`: recomputes with another strategy.
 * - a {@link ConvergencePolicy} object: shares its counters across calls.
 */
export type OnNotConverged = 'warn' | 'error' | 'tighten' | { tighten: TightenOptions } | { fallback: Strategy } | ConvergencePolicy;

/** Options of `'tighten'` (see {@link OnNotConverged}). */
export interface TightenOptions {
  /** Retries at most (default 3). */
  retries?: number;
  /** Cap growth per retry, > 1 (default 4). */
  factor?: number;
  /** Tolerance shrink per retry, in (0, 1] (default 0.5; 1 keeps the tolerances). */
  tolFactor?: number;
  /** The tightest tolerance a retry asks for (default 1e-6). */
  minTol?: number;
}

/** Default of `onNotConverged`. */
export const DEFAULT_ON_NOT_CONVERGED: OnNotConverged = 'warn';

/** Defaults of `'tighten'`. */
export const TIGHTEN_DEFAULTS = Object.freeze({ retries: 3, factor: 4, tolFactor: 0.5, minTol: 1e-6 });

/**
 * The tolerance of `'tighten'`'s retry `attempt`: `tol·tolFactor^attempt`, never below
 * `minTol` (a tol already under `minTol` is kept, not loosened); undefined stays undefined.
 */
export function tightenedTol(tol: number | undefined, attempt: number, t: { tolFactor: number; minTol: number } = TIGHTEN_DEFAULTS): number | undefined {
  return tol == null ? undefined : Math.max(tol * t.tolFactor ** attempt, Math.min(tol, t.minTol));
}

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
  /** Recomputes with changed caps and tolerances, starting from `x0`. */
  retry?: (change: { maxIter?: number; linearMaxIter?: number; tol?: number; linearTol?: number; x0: tf.Tensor }) => HypergradientResult;
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
  /**
   * One line counting the unconverged results, or undefined when there were none; it names them as
   * {@link ConvergencePolicyOptions.counted} says (by default hypergradients, solves, or both, by what was checked).
   */
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
  if (!backward && residual != null && t != null && residual <= t) {
    // The residual met the tolerance, yet the rule refused the point (e.g. negative curvature).
    return `${where}: the forward (lower-level) solve of strategy '${result.strategy}' met its tolerance (${fmt(residual)} ≤ ${fmt(t)}), but the strategy flagged the result ` +
      `(a point that is not a minimum, or a non-finite hypergradient); the hypergradient may be wrong. Strategy said: ${result.message}`;
  }
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
    const t = (value as { tighten: Record<string, unknown> }).tighten;
    const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    checkOptions(`${where}`, t, TIGHTEN_SCHEMA, 'onNotConverged.tighten.');
    const ok = t != null && typeof t === 'object'
      && (t.retries == null || (Number.isInteger(t.retries) && (t.retries as number) >= 1))
      && (t.factor == null || (num(t.factor) && (t.factor as number) > 1))
      && (t.tolFactor == null || (num(t.tolFactor) && (t.tolFactor as number) > 0 && (t.tolFactor as number) <= 1))
      && (t.minTol == null || (num(t.minTol) && (t.minTol as number) >= 0));
    if (ok) return value as OnNotConverged;
    throw new Error(`${where}: option 'onNotConverged.tighten' must be { retries?: integer ≥ 1, factor?: number > 1, tolFactor?: number in (0, 1], minTol?: number ≥ 0 }, got ${JSON.stringify(t)}.`);
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
 * @param options - {@link ConvergencePolicyOptions}: `counted`, what the summary calls the results it counts.
 * @returns the {@link ConvergencePolicy}.
 * @example
 * ```ts
 * const policy = convergencePolicy('warn');
 * for (const theta of thetas) hypergradient({ problem, theta, data, loss, strategy, onNotConverged: policy }).dispose();
 * console.log(policy.summary('my loop')); // 'my loop: 12 of 50 hypergradients did not converge ...'
 * const held = convergencePolicy('warn', '', { counted: 'held-out solves' }); // '… 1 of 2 held-out solves did not converge …'
 * ```
 */
export function convergencePolicy(option: OnNotConverged = DEFAULT_ON_NOT_CONVERGED, label = '', options: ConvergencePolicyOptions = {}): ConvergencePolicy {
  const value = checkOnNotConverged('convergencePolicy', option);
  const { counted } = checkOptions<ConvergencePolicyOptions>('convergencePolicy', options, POLICY_SCHEMA);
  if (isPolicy(value)) {
    if (counted != null) throw new Error("convergencePolicy: option 'counted' names what a new policy counts; a policy object passed in keeps its own (create it with { counted }).");
    return value;
  }
  const mode: ConvergencePolicy['mode'] =
    value === 'warn' || value === 'error' || value === 'tighten' ? value : 'fallback' in value ? 'fallback' : 'tighten';
  const tighten = { ...TIGHTEN_DEFAULTS, ...(typeof value === 'object' && 'tighten' in value ? value.tighten : {}) };
  const fallback = typeof value === 'object' && 'fallback' in value ? value.fallback : undefined;
  let counts = zeroCounts();
  // what was checked, for the summary's default noun
  let checkedResults = 0;
  let checkedSolves = 0;

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
      checkedResults += 1;
      let result = input;
      if (!isUnconverged(result)) return result;
      if (mode === 'tighten' && context.retry != null) {
        for (let attempt = 1; attempt <= tighten.retries && isUnconverged(result); attempt++) {
          if (!Number.isFinite(result.residuals.forward) || (result.residuals.backward != null && Number.isNaN(result.residuals.backward))) break;
          const backward = result.status === 'backward-not-converged';
          const base = backward ? context.linearMaxIter ?? result.work.linearIterations : context.maxIter ?? result.work.innerIterations;
          const cap = Math.ceil(Math.max(1, base) * tighten.factor ** attempt);
          const tols = { tol: tightenedTol(context.tol.tol, attempt, tighten), linearTol: tightenedTol(context.tol.linearTol, attempt, tighten) };
          counts.retried += 1;
          const next = context.retry({ ...(backward ? { linearMaxIter: cap } : { maxIter: cap }), ...tols, x0: result.x });
          result.dispose();
          result = next;
          if (!isUnconverged(result)) {
            counts.recovered += 1;
            const tolText = [tols.tol != null ? `tol = ${fmt(tols.tol)}` : '', tols.linearTol != null ? `linearTol = ${fmt(tols.linearTol)}` : ''].filter(Boolean).join(', ');
            result.message = `${result.message} ['tighten': converged on retry ${attempt} with ${backward ? 'linearMaxIter' : 'maxIter'} = ${cap}${tolText ? `, ${tolText}` : ''}]`;
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
      checkedSolves += 1;
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
      const noun = counted ?? (checkedSolves === 0 ? 'hypergradients' : checkedResults === 0 ? 'solves' : 'hypergradients and solves');
      return (
        `${where}: ${c.unconverged} of ${c.checked} ${noun} did not converge (${c.forward} forward, ${c.backward} backward; ` +
        `worst residual forward ${fmt(c.worstForward)}, backward ${fmt(c.worstBackward)})${retried}. ` +
        `Fix: raise the iteration caps ('maxIter', 'linearMaxIter'), loosen the accuracies, or pass onNotConverged: 'tighten' / 'error'. First: ${c.first}`
      );
    },
    reset() {
      counts = zeroCounts();
      checkedResults = 0;
      checkedSolves = 0;
    },
  };
  return policy;
}

export { sitePolicy, convergenceReport, resetConvergenceWarnings, callSite, resolvePolicy } from './site-policy.js';
