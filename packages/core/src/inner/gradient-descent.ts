import { tf } from '../tf.js';
import type { InnerSolver } from './types.js';
import { INNER_DEFAULTS, resolveStopping, runInner, type Evaluated, type InnerBaseOptions, type InnerContext, type InnerState } from './run.js';
import { acceptStep, lineSearchNoise } from './line-search.js';
import { defineOptions, checkOptions, recordExplicit } from '../options.js';
import { axpy, dotNumber } from '../internal/fused-ops.js';
import { BACKTRACKING_SCHEMA, INNER_STOPPING_SCHEMA, STEP_SCHEMA } from '../internal/solver-options.js';

/** Armijo backtracking settings. */
export interface BacktrackingOptions {
  /** First trial step when the problem gives no L (default 1). */
  initialStep?: number;
  /** Factor the step shrinks by after a rejected trial, in (0, 1) (default 0.5). */
  shrink?: number;
  /** Factor the step grows by after an accepted one, ≥ 1 (default 2: try a longer step next time). */
  growth?: number;
  /** Sufficient-decrease constant c in (0, 1) (default 1e-4). */
  c?: number;
  /** Trials per iteration before giving up (default 40). */
  maxTrials?: number;
}

/** Options of {@link gradientDescent}. */
export interface GradientDescentOptions extends InnerBaseOptions {
  /** Fixed step s. Default 1/L when the problem knows L; otherwise backtracking is used. */
  step?: number;
  /** Armijo backtracking instead of a fixed step: `true` for the defaults, or settings. */
  backtracking?: boolean | BacktrackingOptions;
}

/** Defaults of the backtracking line search (shared by {@link gradientDescent} and the other solvers). */
export const BACKTRACKING_DEFAULTS = { initialStep: 1, shrink: 0.5, growth: 2, c: 1e-4, maxTrials: 40 } as const satisfies Required<BacktrackingOptions>;

/** Defaults of {@link gradientDescent}: the shared inner defaults, step from L, no backtracking. */
export const GRADIENT_DESCENT_DEFAULTS = { ...INNER_DEFAULTS, step: undefined, backtracking: false } as const;

const GRADIENT_DESCENT_OPTIONS = defineOptions<GradientDescentOptions>('gradientDescent', { ...STEP_SCHEMA, ...INNER_STOPPING_SCHEMA }, gradientDescent);

/** Validates and fills backtracking settings; `where` names the solver. */
export function resolveBacktracking(where: string, b: boolean | BacktrackingOptions | undefined): Required<BacktrackingOptions> | null {
  if (b == null || b === false) return null;
  if (b === true) return { ...BACKTRACKING_DEFAULTS };
  if (typeof b !== 'object') throw new Error(`${where}: option 'backtracking' must be a boolean or an object, got ${typeof b}.`);
  return { ...BACKTRACKING_DEFAULTS, ...checkOptions(where, b, BACKTRACKING_SCHEMA, 'backtracking.') };
}

interface GdState extends InnerState {
  step: number;
}

/** `x − s·g` as a new tensor (one fused kernel where the backend allows: internal/fused-ops.ts). */
function moveAlong(x: tf.Tensor, g: tf.Tensor, s: number): tf.Tensor {
  return axpy(x, -s, g);
}

/**
 * Gradient descent on the lower-level energy.
 *
 * `x_{k+1} = x_k − s_k ∇ₓΦ(x_k)`, with either a fixed step `s = 1/L` (linear rate
 * `1 − μ/L` for a μ-strongly convex, L-smooth Φ) or Armijo backtracking
 * `Φ(x − s g) ≤ Φ(x) − c·s·‖g‖²`, shrinking s on rejection and growing it after each
 * accepted step so one early short step does not slow the whole solve.
 *
 * @param options - `step` (fixed), `backtracking`, and the defaults `tol`, `tolMode`, `maxIter`.
 * @returns an {@link InnerSolver}.
 * @example
 * ```ts
 * const solver = gradientDescent({ tol: 1e-4, tolMode: 'absolute', maxIter: 500 });
 * const { x, converged, distanceBound } = solver.solve(problem, theta, data);
 * ```
 */
export function gradientDescent(options: GradientDescentOptions = {}): InnerSolver {
  const where = 'gradientDescent';
  GRADIENT_DESCENT_OPTIONS.check(options);
  const backtracking = resolveBacktracking(where, options.backtracking);
  const defaults = resolveStopping(options);

  // Without a step and without L there is nothing to fix the step by: backtrack.
  const searchOf = (ctx: { lipschitz: number | undefined }) => backtracking ?? (options.step == null && ctx.lipschitz == null ? BACKTRACKING_DEFAULTS : null);
  const method = {
    // a fixed step never reads Φ
    usesEnergy: (ctx: { lipschitz: number | undefined }) => searchOf(ctx) != null,
    init(ctx: InnerContext, start: Evaluated): GdState {
      const fromL = ctx.lipschitz != null ? 1 / ctx.lipschitz : undefined;
      const step = options.step ?? fromL ?? backtracking?.initialStep ?? BACKTRACKING_DEFAULTS.initialStep;
      return { current: start, step };
    },
    step(ctx: InnerContext, state: GdState) {
      const { x, grad, value, gradNorm } = state.current;
      const search = searchOf(ctx);
      if (search == null) {
        return { state: { current: ctx.evaluate(moveAlong(x, grad, state.step)), step: state.step } };
      }
      const slope = -gradNorm * gradNorm;
      let s = state.step;
      const noise = lineSearchNoise(value, s * gradNorm * gradNorm, x.size);
      for (let trial = 0; trial < search.maxTrials; trial++) {
        const next = ctx.evaluate(moveAlong(x, grad, s));
        const trialSlope = -readDot(next.grad, grad);
        if (acceptStep(value, next.value, slope, trialSlope, s, search.c, noise)) {
          return { state: { current: next, step: s * search.growth } };
        }
        tf.dispose([next.x, next.grad]);
        s *= search.shrink;
      }
      return { stop: { status: 'line-search-failed' as const, detail: `no step down to ${s.toExponential(2)} decreased the energy` } };
    },
  };
  return recordExplicit({
    name: where,
    solve: (problem, theta, data, solveOptions) => runInner(where, defaults, method, problem, theta, data, solveOptions),
  }, options);
}

/** ⟨a, b⟩ read to a number (off the backend's memory in float64 where it can: internal/fused-ops.ts). */
export function readDot(a: tf.Tensor, b: tf.Tensor): number {
  return dotNumber(a, b);
}
