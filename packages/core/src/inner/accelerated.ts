import { tf } from '../tf.js';
import type { InnerSolver } from './types.js';
import { INNER_DEFAULTS, resolveStopping, runInner, type Evaluated, type InnerBaseOptions, type InnerContext, type InnerState } from './run.js';
import { acceptStep, lineSearchNoise } from './line-search.js';
import { axpy } from '../internal/fused-ops.js';
import { BACKTRACKING_DEFAULTS, readDot, resolveBacktracking, type BacktrackingOptions } from './gradient-descent.js';
import { defineOptions, opt, recordExplicit } from '../options.js';
import { INNER_STOPPING_SCHEMA, STEP_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link accelerated}. */
export interface AcceleratedOptions extends InnerBaseOptions {
  /** Fixed step s. Default 1/L when the problem knows L; otherwise backtracking is used. */
  step?: number;
  /** Backtracking on the descent-lemma condition `Φ(y − s g) ≤ Φ(y) − (s/2)‖g‖²`. */
  backtracking?: boolean | BacktrackingOptions;
  /**
   * Adaptive restart (O'Donoghue & Candès): `'gradient'` resets the momentum when
   * `⟨∇Φ(y_k), x_{k+1} − x_k⟩ > 0`, `'function'` when the energy at the gradient point
   * increases, `'none'` never. Default `'gradient'` (free: it reuses the step's gradient).
   */
  restart?: 'gradient' | 'function' | 'none';
  /**
   * Use the constant momentum `(1 − √(μs))/(1 + √(μs))` when the problem knows μ
   * (default `true`); otherwise, or when `false`, the FISTA sequence `(t_k − 1)/t_{k+1}`.
   */
  useStrongConvexity?: boolean;
}

/** Defaults of {@link accelerated}. */
export const ACCELERATED_DEFAULTS = {
  ...INNER_DEFAULTS, step: undefined, backtracking: false, restart: 'gradient', useStrongConvexity: true,
} as const;

const ACCELERATED_OPTIONS = defineOptions<AcceleratedOptions>('accelerated', {
  ...STEP_SCHEMA,
  restart: opt.oneOf(['gradient', 'function', 'none']),
  useStrongConvexity: opt.boolean(),
  ...INNER_STOPPING_SCHEMA,
}, accelerated);

interface AccState extends InnerState {
  /** Previous main iterate x_k (the gradient point is current.x = y_k). */
  xPrev: tf.Tensor;
  /** FISTA's t_k. */
  t: number;
  step: number;
  /** Energy at the previous gradient point (function restart). */
  previousValue?: number;
}

/**
 * Accelerated gradient descent (FISTA / Nesterov) with adaptive restart.
 *
 * ```
 * x_{k+1} = y_k − s ∇Φ(y_k)
 * y_{k+1} = x_{k+1} + β_k (x_{k+1} − x_k)
 * ```
 * with `β_k = (t_k − 1)/t_{k+1}`, `t_{k+1} = (1 + √(1 + 4t_k²))/2`, or the constant
 * `β = (1 − √(μs))/(1 + √(μs))` when μ is known (rate `1 − √(μ/L)` at s = 1/L). The
 * gradient is evaluated once per iteration, at `y`, so the stopping test and the returned
 * point are the last `y`: the point whose gradient norm is reported.
 *
 * @param options - `step`, `backtracking`, `restart`, `useStrongConvexity`, and the defaults `tol`, `tolMode`, `maxIter`.
 * @returns an {@link InnerSolver}.
 * @example
 * ```ts
 * const solver = accelerated({ restart: 'gradient', tol: 1e-4, tolMode: 'absolute' });
 * const { x, iterations } = solver.solve(problem, theta, data);
 * ```
 */
export function accelerated(options: AcceleratedOptions = {}): InnerSolver {
  const where = 'accelerated';
  ACCELERATED_OPTIONS.check(options);
  const restart = options.restart ?? ACCELERATED_DEFAULTS.restart;
  const useMu = options.useStrongConvexity ?? ACCELERATED_DEFAULTS.useStrongConvexity;
  const backtracking = resolveBacktracking(where, options.backtracking);
  const defaults = resolveStopping(options);

  const searchOf = (ctx: { lipschitz: number | undefined }) => backtracking ?? (options.step == null && ctx.lipschitz == null ? BACKTRACKING_DEFAULTS : null);
  const method = {
    // Φ is read by the line search and the function restart only
    usesEnergy: (ctx: { lipschitz: number | undefined }) => searchOf(ctx) != null || restart === 'function',
    init(ctx: InnerContext, start: Evaluated): AccState {
      const fromL = ctx.lipschitz != null ? 1 / ctx.lipschitz : undefined;
      const step = options.step ?? fromL ?? backtracking?.initialStep ?? BACKTRACKING_DEFAULTS.initialStep;
      return { current: start, xPrev: start.x, t: 1, step };
    },
    step(ctx: InnerContext, state: AccState) {
      const { x: y, grad, value, gradNorm } = state.current;
      const search = searchOf(ctx);
      let s = state.step;
      let xNext: tf.Tensor | null = null;
      if (search == null) {
        xNext = axpy(y, -s, grad);
      } else {
        // Monotone backtracking (Beck & Teboulle): the step only shrinks, which keeps the
        // O(1/k²) guarantee; growth would need the momentum sequence to be rescaled.
        const noise = lineSearchNoise(value, s * gradNorm * gradNorm, y.size);
        for (let trial = 0; trial < search.maxTrials; trial++) {
          const candidate = axpy(y, -s, grad);
          const trialValue = ctx.energy(candidate);
          if (acceptStep(value, trialValue, -gradNorm * gradNorm, undefined, s, 0.5, noise)) {
            xNext = candidate;
            break;
          }
          candidate.dispose();
          s *= search.shrink;
        }
        if (xNext == null) return { stop: { status: 'line-search-failed' as const, detail: `no step down to ${s.toExponential(2)} satisfied the descent lemma` } };
      }
      const x = xNext;
      let t = state.t;
      let restarted = false;
      if (restart === 'gradient') {
        // ⟨∇Φ(y_k), x_{k+1} − x_k⟩ > 0: the momentum points uphill.
        const diff = tf.tidy(() => tf.sub(x, state.xPrev));
        restarted = readDot(grad, diff) > 0;
        diff.dispose();
      } else if (restart === 'function') {
        restarted = state.previousValue !== undefined && value > state.previousValue;
      }
      let beta: number;
      if (restarted) {
        t = 1;
        beta = 0;
      } else if (useMu && ctx.mu != null) {
        const q = Math.sqrt(Math.min(1, ctx.mu * s));
        beta = (1 - q) / (1 + q);
      } else {
        const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
        beta = (t - 1) / tNext;
        t = tNext;
      }
      const yNext = beta === 0 ? tf.clone(x) : tf.tidy(() => axpy(x, beta, tf.sub(x, state.xPrev)));
      const current = ctx.evaluate(yNext);
      return { state: { current, xPrev: x, t, step: s, previousValue: value } };
    },
  };
  return recordExplicit({
    name: where,
    solve: (problem, theta, data, solveOptions) => runInner(where, defaults, method, problem, theta, data, solveOptions),
  }, options);
}

