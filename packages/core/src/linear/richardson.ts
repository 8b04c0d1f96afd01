import { tf } from '../tf.js';
import { withCleanup } from '../internal/solver-utils.js';
import { axpy, squaredNormNumber } from '../internal/fused-ops.js';
import { iterate } from '../iterate/loop.js';
import type { LinearSolver, LinearStatus } from './types.js';
import { finishLinear, residual, setupLinear, type LinearBaseOptions } from './common.js';
import { defineOptions, opt, recordExplicit } from '../options.js';
import { LINEAR_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link richardson}. */
export interface RichardsonOptions extends LinearBaseOptions {
  /**
   * Step s (required). Converges for SPD A when `0 < s < 2/λ_max(A)`; `s = 1/L` with
   * `L ≥ λ_max` (from the problem, or {@link estimateLipschitz}) is the usual choice.
   */
  step?: number;
}

/** Defaults of {@link richardson} (`step` has none: it depends on the operator). */
export const RICHARDSON_DEFAULTS = { tol: 1e-5, tolMode: 'relative', maxIter: 1000 } as const satisfies Required<LinearBaseOptions>;

const RICHARDSON_OPTIONS = defineOptions<RichardsonOptions>('richardson', {
  step: opt.number({ gt: 0 }, 'pass step = 1/L with L ≥ λ_max(A)'),
  ...LINEAR_STOPPING_SCHEMA,
}, richardson);

/**
 * Richardson iteration: gradient descent on `½xᵀAx − bᵀx` with a fixed step.
 *
 * `x_{k+1} = x_k + s (b − A x_k)`. From `x₀ = 0` the k-th iterate is exactly the truncated
 * Neumann series `x_k = s Σ_{j<k} (I − sA)^j b`, which is why k steps of unrolled
 * differentiation through k steps of gradient descent from the solution equal implicit
 * differentiation with this solver (the form `x + s(b − Ax)` is kept on purpose: do not
 * reorder it). The residual `b − Ax_k` is computed every iteration anyway, so the stopping
 * test and the reported residual are the true ones; each iteration is one matvec.
 *
 * @param options - `step` (required), and defaults `tol`, `tolMode`, `maxIter`.
 * @returns a {@link LinearSolver}.
 * @example
 * ```ts
 * const { x } = richardson({ step: 1 / L, maxIter: 200 }).solve(matvec, b);
 * ```
 */
export function richardson(options: RichardsonOptions = {}): LinearSolver {
  const where = 'richardson';
  RICHARDSON_OPTIONS.check(options);
  if (options.step === undefined) {
    throw new Error(`${where}: option 'step' is required: pass step = 1/L with L ≥ λ_max(A) (the problem's smoothness, or estimateLipschitz / lanczos).`);
  }
  const step = options.step;
  const defaults = {
    tol: options.tol ?? RICHARDSON_DEFAULTS.tol,
    tolMode: options.tolMode ?? RICHARDSON_DEFAULTS.tolMode,
    maxIter: options.maxIter ?? RICHARDSON_DEFAULTS.maxIter,
  };
  return recordExplicit({
    name: where,
    requiresSymmetric: false,
    solve: (matvec, b, solveOptions) => withCleanup(() => {
      const setup = setupLinear(where, matvec, b, solveOptions, defaults);
      const withResidual = (x: tf.Tensor) => {
        const r = residual(setup, b, x);
        return { x, r, rNorm: Math.sqrt(squaredNormNumber(r)) };
      };
      const { state, iterations, status } = iterate({
        init: () => {
          if (!setup.zeroStart) return withResidual(setup.x);
          const r = tf.clone(b);
          return { x: setup.x, r, rNorm: setup.bNorm };
        },
        residual: ({ rNorm }) => rNorm,
        // x + s·r as one fused kernel where the backend allows (internal/fused-ops.ts)
        step: ({ x, r }) => ({ state: withResidual(axpy(x, step, r)) }),
      }, { threshold: setup.threshold, maxIter: setup.maxIter });
      state.r.dispose();
      return finishLinear(setup, state.x, iterations, state.rNorm, status as LinearStatus, '',
        'increase maxIter, or a larger step (up to 2/λ_max); Richardson needs O(L/μ) iterations, cg needs O(√(L/μ))');
    }),
  }, options);
}
