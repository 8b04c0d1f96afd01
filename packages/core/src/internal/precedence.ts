/**
 * The one precedence rule between per-call accuracies, strategy options and solver
 * options (packages/core/README.md, "Options"): an option the user set explicitly is never
 * silently overridden by a default.
 *
 * @packageDocumentation
 */

const explicitByObject = new WeakMap<object, Readonly<Record<string, unknown>>>();

/**
 * Records the options a user passed explicitly to the factory that built `made` (a solver,
 * a strategy), so that a strategy can tell `lbfgs({ tol: 1e-6 })` from `lbfgs()` and not
 * replace the former's tol by its own default. `undefined` values are not recorded.
 *
 * @param made - the object the factory returns.
 * @param given - the options as the user passed them (after {@link checkOptions}).
 * @returns `made`.
 * @example
 * ```ts
 * export function lbfgs(options = {}) { const o = LBFGS_OPTIONS.check(options); return recordExplicit(makeSolver(o), o); }
 * ```
 */
export function recordExplicit<T extends object>(made: T, given: object | undefined | null): T {
  const out: Record<string, unknown> = {};
  if (given != null) for (const [k, v] of Object.entries(given)) if (v !== undefined) out[k] = v;
  explicitByObject.set(made, Object.freeze(out));
  return made;
}

/**
 * The options the user set explicitly when `made` was built (`{}` when none were, or when
 * `made` was not built by a bilevel factory).
 *
 * @param made - a solver or strategy object.
 * @returns option name → the value the user passed.
 * @example
 * ```ts
 * explicitOptions(lbfgs({ tol: 1e-6 })).tol; // 1e-6
 * explicitOptions(lbfgs()).tol;              // undefined
 * ```
 */
export function explicitOptions(made: object | undefined | null): Readonly<Record<string, unknown>> {
  return (made != null && explicitByObject.get(made)) || {};
}

/** Where one accuracy (a tol, an iteration cap) can come from, most specific first. */
export interface AccuracySources<T> {
  /** Asked for at this call (`hypergradient`'s `accuracy`, an outer method's ε_k). */
  perCall?: T;
  /** Set explicitly in a factory (`lbfgs({ tol })`, `implicit({ innerTol })`), see {@link explicitOptions}. */
  explicit?: T;
  /** The strategy's default for what its differentiation rule needs. */
  strategyDefault?: T;
}

/**
 * The precedence rule for one accuracy (a tol, an iteration cap):
 *
 *     value = perCall ?? explicit ?? strategyDefault        (undefined: the solver's own value)
 *
 * - `perCall`: asked for at this call (`hypergradient`'s `tol`, an outer method's ε_k); it
 *   wins because it is the later and more specific request;
 * - `explicit`: set by the user in a factory (a strategy's `implicit({ tol })`);
 * - `strategyDefault`: the strategy's exported default. Pass `undefined` here when the
 *   solver has the option set explicitly (`explicitOptions(lbfgs({ tol: 1e-6 })).tol`), so that
 *   nothing is passed per call and the solver applies its own setting, with its own tolMode.
 *
 * A default therefore never overrides anything the user set.
 *
 * @param explicit - the option as the user set it in the strategy's factory, or undefined.
 * @param perCall - the accuracy asked for at this call, or undefined.
 * @param strategyDefault - the strategy's default, or undefined (always when the solver has its own explicit value).
 * @returns what to pass to the solver per call; undefined lets the solver use its own (explicit or default) value.
 * @example
 * ```ts
 * const inner = lbfgs({ tol: 1e-6 });
 * const solverSet = explicitOptions(inner).tol !== undefined;
 * resolveAccuracy(undefined, undefined, solverSet ? undefined : 1e-4); // undefined: lbfgs keeps its tol 1e-6
 * resolveAccuracy(1e-5, undefined, 1e-4);                             // 1e-5: implicit({ tol: 1e-5 })
 * resolveAccuracy(1e-5, 1e-3, 1e-4);                                  // 1e-3: asked for at this call
 * ```
 */
export function resolveAccuracy<T>(explicit: T | undefined, perCall: T | undefined, strategyDefault: T | undefined): T | undefined {
  return perCall ?? explicit ?? strategyDefault;
}
