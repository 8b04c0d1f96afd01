/**
 * The one table of status codes every solve and every hypergradient reports, each with
 * the message template that names the fix (the idea of Optimistix's `RESULTS`: a result
 * carries a code, and the code knows what to tell the user).
 *
 * A solver never writes its own failure prose: it reports a {@link StatusCode} and the
 * {@link StatusFacts} it measured (iterations, the residual and its name, the target,
 * the options in force) and {@link statusMessage} turns them into one sentence that
 * names the function, the option to change, its current value, and the fix.
 *
 * @packageDocumentation
 */

/** Every way a solve (inner, linear, fixed-point, saddle, adjoint) or a hypergradient can end. */
export type StatusCode =
  | 'converged'
  | 'max-iterations'
  | 'stalled'
  | 'nan'
  | 'non-positive-curvature'
  | 'line-search-failed'
  | 'breakdown'
  | 'diverged'
  | 'fixed-steps'
  | 'stopped'
  | 'forward-not-converged'
  | 'backward-not-converged';

/**
 * What a solver measured when it stopped; every field is optional, the template uses what
 * is there. Numbers are printed with 3 significant digits.
 */
export interface StatusFacts {
  /** The function that stopped, e.g. `'cg'` or `'implicit.compute'`. */
  where: string;
  /** Iterations taken. */
  iterations?: number;
  /** The stopping quantity at the returned point, e.g. ‖b − Ax‖. */
  residual?: number;
  /** How {@link StatusFacts.residual} is written in the message (default `'residual'`). */
  residualName?: string;
  /** The absolute target the residual was compared with (tol, or tol·‖b‖ when relative). */
  threshold?: number;
  /** The `tol` option in force. */
  tol?: number;
  /** `'absolute'` or `'relative'`. */
  tolMode?: 'absolute' | 'relative';
  /** What a relative tol is relative to, e.g. `'‖b‖'` (printed as `tol·‖b‖`). */
  relativeTo?: string;
  /** The `maxIter` option in force. */
  maxIter?: number;
  /** The names of the options in the caller's vocabulary (e.g. `{ maxIter: 'linearMaxIter' }`). */
  optionNames?: { tol?: string; maxIter?: string };
  /** The best residual seen, for `'stalled'`. */
  best?: number;
  /** Iterations without progress, for `'stalled'`. */
  stallIterations?: number;
  /** A solver-specific sentence (what broke down, the curvature found, ...). */
  detail?: string;
  /** A solver-specific fix, replacing the table's default advice where the solver knows better. */
  fix?: string;
}

/** One row of {@link STATUS}. */
export interface StatusEntry {
  /** Whether a result with this code may be used as a solution (`converged`, `fixed-steps`). */
  readonly ok: boolean;
  /** One line on what the code means. */
  readonly meaning: string;
  /** The message for a result, built from the facts. */
  readonly message: (facts: StatusFacts) => string;
}

/** float32's unit round-off: residuals stall near this times the scale of the problem. */
const EPS32 = 1.1920929e-7;

/** A number for a message: 3 significant digits, exponent form. */
export function formatNumber(v: number | undefined): string {
  if (v == null) return 'n/a';
  return Number.isFinite(v) ? v.toExponential(2) : String(v);
}

function name(f: StatusFacts, option: 'tol' | 'maxIter'): string {
  return f.optionNames?.[option] ?? option;
}

function residualText(f: StatusFacts): string {
  return `${f.residualName ?? 'residual'} = ${formatNumber(f.residual)}`;
}

function targetText(f: StatusFacts): string {
  if (f.threshold == null && f.tol == null) return 'the tolerance';
  const tol = f.tol != null ? optionValue(f.tol) : 'n/a';
  const rel = f.tolMode === 'relative' ? `relative tol ${tol}${f.relativeTo ? `·${f.relativeTo}` : ''}` : `tol ${tol}`;
  return f.threshold != null ? `${formatNumber(f.threshold)} (${rel})` : rel;
}

/** The float32 floor advice: where round-off stops progress for this stopping rule. */
function floorText(f: StatusFacts): string {
  const scale = f.tolMode === 'relative' && f.relativeTo ? f.relativeTo : 'the scale of the residual';
  return `float32 stalls near ${formatNumber(EPS32)}·${scale} times the conditioning`;
}

/** An option value as a user would type it: `1e-6`, not `0.000001`. */
function optionValue(v: number): string {
  const plain = String(v);
  return plain.length <= 6 ? plain : v.toExponential();
}

function loosenOrRaise(f: StatusFacts): string {
  const cap = f.maxIter != null ? ` (now ${f.maxIter})` : '';
  const tol = f.tol != null ? ` (now ${optionValue(f.tol)})` : '';
  const floor = f.tolMode === 'relative' && f.relativeTo ? `; ${floorText(f)}` : '';
  return `increase ${name(f, 'maxIter')}${cap} or loosen ${name(f, 'tol')}${tol}${floor}`;
}

/**
 * The status table. Codes are the strings results carry in `status`; `ok` says whether the
 * result is a usable solution; `message(facts)` is the sentence that names the fix.
 */
export const STATUS: { readonly [C in StatusCode]: StatusEntry } = {
  converged: {
    ok: true,
    meaning: 'the stopping quantity met the tolerance',
    message: (f) => `${f.where}: converged in ${f.iterations ?? 0} iterations, ${residualText(f)} ≤ ${targetText(f)}.`,
  },
  'max-iterations': {
    ok: false,
    meaning: 'the iteration cap was reached before the tolerance',
    message: (f) =>
      `${f.where}: not converged after ${f.iterations ?? f.maxIter} iterations: ${residualText(f)} > ${targetText(f)}; ` +
      `${f.fix ?? loosenOrRaise(f)}.${f.detail ? ' ' + f.detail : ''}`,
  },
  stalled: {
    ok: false,
    meaning: 'no progress for many iterations: the tolerance is below the float32 floor of this problem',
    message: (f) =>
      `${f.where}: stalled: the best ${f.residualName ?? 'residual'} = ${formatNumber(f.best ?? f.residual)} has not dropped by 1% in ` +
      `${f.stallIterations} iterations (target ${targetText(f)} is likely below the float32 floor; ${floorText(f)}): ` +
      `${f.fix ?? `loosen ${name(f, 'tol')}${f.tol != null ? ` (now ${optionValue(f.tol)})` : ''}, or raise stallIterations`}.`,
  },
  nan: {
    ok: false,
    meaning: 'a NaN or Inf appeared (in the energy, the map, the operator or the residual)',
    message: (f) =>
      `${f.where}: NaN/Inf at iteration ${f.iterations ?? 0}${f.detail ? ` (${f.detail})` : ''}: ` +
      `${f.fix ?? 'check the inputs (data, θ, x0, b) and the function for non-finite values, or take smaller steps'}.`,
  },
  'non-positive-curvature': {
    ok: false,
    meaning: 'CG met a direction with pᵀAp ≤ 0: the operator is not positive definite',
    message: (f) =>
      `${f.where}: ${f.detail ?? `non-positive curvature at iteration ${f.iterations ?? 0}: the operator is not positive definite`}` +
      `${f.fix ? ` ${f.fix}` : ''}`,
  },
  'line-search-failed': {
    ok: false,
    meaning: 'no step along the search direction decreased the energy',
    message: (f) =>
      `${f.where}: line search failed at iteration ${f.iterations ?? 0}${f.detail ? ` (${f.detail})` : ''}; ` +
      `${residualText(f)} may be at the float32 floor (loosen ${name(f, 'tol')}) or the gradient disagrees with the energy (check with checkGradient).`,
  },
  breakdown: {
    ok: false,
    meaning: 'the method cannot continue (a singular small system, an invariant subspace without progress)',
    message: (f) =>
      `${f.where}: breakdown at iteration ${f.iterations ?? 0}${f.detail ? ` (${f.detail})` : ''}; ${residualText(f)}` +
      `${f.fix ? `; ${f.fix}` : ''}.`,
  },
  diverged: {
    ok: false,
    meaning: 'the residual grew by orders of magnitude: the iteration is not contractive here',
    message: (f) =>
      `${f.where}: diverged at iteration ${f.iterations ?? 0}: ${residualText(f)}; ` +
      `${f.fix ?? 'reduce the step size or add damping (the map or operator is not a contraction here)'}.`,
  },
  'fixed-steps': {
    ok: true,
    meaning: 'a fixed number of steps without a tolerance: exact gradient of T steps, not of the solution map',
    message: (f) =>
      `${f.where}: ran ${f.iterations ?? 0} fixed steps (no tolerance)${f.residual != null ? `, ${residualText(f)}` : ''}: ` +
      'the result is the exact derivative of those steps, not of the solution map; ' +
      `${f.fix ?? 'pass a tol to check convergence, or use implicit differentiation for the derivative of the solution'}.`,
  },
  stopped: {
    ok: false,
    meaning: 'the per-iteration callback asked to stop',
    message: (f) =>
      `${f.where}: stopped by the onIteration callback after ${f.iterations ?? 0} iterations` +
      `${f.residual != null ? `, ${residualText(f)}` : ''}${f.threshold != null || f.tol != null ? ` (target ${targetText(f)})` : ''}.`,
  },
  'forward-not-converged': {
    ok: false,
    meaning: 'the forward (lower-level) solve behind a hypergradient did not converge',
    message: (f) =>
      `${f.where}: the forward (lower-level) solve did not converge${f.residual != null ? `: ${residualText(f)}` : ''}` +
      `${f.threshold != null || f.tol != null ? ` vs ${targetText(f)}` : ''}; the hypergradient may be wrong: ` +
      `${f.fix ?? `increase ${name(f, 'maxIter')}${f.maxIter != null ? ` (now ${f.maxIter})` : ''}, loosen ${name(f, 'tol')}, pass a better x0, or use a faster solver`}.` +
      `${f.detail ? ` ${f.detail}` : ''}`,
  },
  'backward-not-converged': {
    ok: false,
    meaning: 'the backward (adjoint) solve behind a hypergradient did not converge',
    message: (f) =>
      `${f.where}: the backward (adjoint) solve did not converge${f.residual != null ? `: ${residualText(f)}` : ''}` +
      `${f.threshold != null || f.tol != null ? ` vs ${targetText(f)}` : ''}; the hypergradient may be wrong: ` +
      `${f.fix ?? `increase ${f.optionNames?.maxIter ?? 'linearMaxIter'}${f.maxIter != null ? ` (now ${f.maxIter})` : ''}, loosen ${f.optionNames?.tol ?? 'linearTol'}, or precondition / warm-start the adjoint solve`}.` +
      `${f.detail ? ` ${f.detail}` : ''}`,
  },
};

/** Aliases accepted by {@link statusEntry}: the short names some papers and libraries use. */
const ALIASES: Readonly<Record<string, StatusCode>> = {
  'max-iter': 'max-iterations',
  'non-finite': 'nan',
  'negative-curvature': 'non-positive-curvature',
};

/**
 * The table row of a code (or of an alias such as `'max-iter'`, `'non-finite'`,
 * `'negative-curvature'`).
 *
 * @param code - a status code or alias.
 * @returns its {@link StatusEntry}.
 * @throws when the code is unknown, listing the known ones.
 * @example
 * ```ts
 * statusEntry('max-iter').ok; // false
 * ```
 */
export function statusEntry(code: string): StatusEntry {
  const canonical = (code in STATUS ? code : ALIASES[code]) as StatusCode | undefined;
  if (canonical == null) {
    throw new Error(`statusEntry: unknown status code '${code}'; the codes are ${Object.keys(STATUS).join(', ')}.`);
  }
  return STATUS[canonical];
}

/**
 * The message of a result: one sentence naming the function, what happened, the measured
 * figures, the options in force and the fix.
 *
 * @param code - the result's status.
 * @param facts - what the solver measured.
 * @returns the message.
 * @example
 * ```ts
 * statusMessage('max-iterations', { where: 'cg', iterations: 100, residual: 3e-4, residualName: '‖b − Ax‖',
 *   threshold: 1e-6, tol: 1e-6, tolMode: 'relative', relativeTo: '‖b‖', maxIter: 100 });
 * // "cg: not converged after 100 iterations: ‖b − Ax‖ = 3.00e-4 > 1.00e-6 (relative tol 1e-6·‖b‖);
 * //  increase maxIter (now 100) or loosen tol (now 1e-6); float32 stalls near 1.19e-7·‖b‖ times the conditioning."
 * ```
 */
export function statusMessage(code: StatusCode | string, facts: StatusFacts): string {
  return statusEntry(code).message(facts);
}

/**
 * Whether a status means the result can be used as a solution (`'converged'` and
 * `'fixed-steps'`).
 *
 * @param code - a status code or alias.
 * @returns true for a usable result.
 * @example
 * ```ts
 * isOk(result.status) || console.warn(result.message);
 * ```
 */
export function isOk(code: StatusCode | string): boolean {
  return statusEntry(code).ok;
}
