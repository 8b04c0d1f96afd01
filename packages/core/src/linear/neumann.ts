import { tf } from '../tf.js';
import { withCleanup } from '../internal/solver-utils.js';
import { axpy, normNumber } from '../internal/fused-ops.js';
import { iterate } from '../iterate/loop.js';
import type { LinearSolver } from './types.js';
import { finishLinear, residual, setupLinear, type LinearBaseOptions } from './common.js';
import { defineOptions, opt, recordExplicit } from '../options.js';
import { LINEAR_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link neumann}. */
export interface NeumannOptions extends Omit<LinearBaseOptions, 'maxIter'> {
  /** Step s (required): the series converges for SPD A when `0 < s < 2/λ_max(A)`. */
  step?: number;
  /** Number of terms K (default 20); a per-call `maxIter` overrides it. */
  terms?: number;
}

/** Defaults of {@link neumann}. `tol` is only used to report `converged`: the series always has K terms. */
export const NEUMANN_DEFAULTS = { terms: 20, tol: 1e-5, tolMode: 'relative' } as const;

const { maxIter: _perCallOnly, ...NEUMANN_STOPPING } = LINEAR_STOPPING_SCHEMA;
const NEUMANN_OPTIONS = defineOptions<NeumannOptions>('neumann', {
  step: opt.number({ gt: 0 }, 'pass step = 1/L with L ≥ λ_max(A)'),
  terms: opt.integer({ min: 1 }),
  ...NEUMANN_STOPPING,
}, neumann);

/**
 * Truncated Neumann series `A⁻¹b ≈ s Σ_{j=0}^{K−1} (I − sA)^j b`.
 *
 * The fixed-budget approximation of the inverse-Hessian product used by Neumann-series
 * hypergradients (Lorraine et al.). Its residual is `b − Ax = (I − sA)^K b`, which decays
 * like `(1 − sμ)^K` for SPD A; it is recomputed as `b − Ax` and reported. With `x0` the
 * series runs on the initial residual: `x = x0 + s Σ (I − sA)^j (b − A x0)`. It does not
 * stop early (that would make it {@link richardson}); `converged` says whether the
 * residual met `tol`. K terms cost K matvecs (K − 1 for the series, one for the residual).
 *
 * @param options - `step` (required), `terms`, `tol`, `tolMode`.
 * @returns a {@link LinearSolver}.
 * @example
 * ```ts
 * const { x, residualNorm } = neumann({ step: 1 / L, terms: 50 }).solve(matvec, b);
 * ```
 */
export function neumann(options: NeumannOptions = {}): LinearSolver {
  const where = 'neumann';
  NEUMANN_OPTIONS.check(options);
  if (options.step === undefined) {
    throw new Error(`${where}: option 'step' is required: pass step = 1/L with L ≥ λ_max(A) (the problem's smoothness, or estimateLipschitz / lanczos).`);
  }
  const terms = options.terms ?? NEUMANN_DEFAULTS.terms;
  const step = options.step;
  const defaults = {
    tol: options.tol ?? NEUMANN_DEFAULTS.tol,
    tolMode: options.tolMode ?? NEUMANN_DEFAULTS.tolMode,
    maxIter: terms,
  };
  return recordExplicit({
    name: where,
    requiresSymmetric: false,
    solve: (matvec, b, solveOptions) => withCleanup(() => {
      const setup = setupLinear(where, matvec, b, solveOptions, defaults);
      const K = Math.max(setup.maxIter, 1);
      const x0 = setup.x;
      // K − 1 series steps with no residual to watch (the series always has K terms): 'fixed-steps'.
      const { state } = iterate({
        init: () => {
          const term = setup.zeroStart ? tf.clone(b) : residual(setup, b, x0);
          return { term, sum: tf.clone(term) };
        },
        residual: () => undefined,
        step: ({ term, sum }) => {
          const aTerm = setup.apply(term);
          const next = axpy(term, -step, aTerm);
          aTerm.dispose();
          return { state: { term: next, sum: tf.add(sum, next) } };
        },
      }, { threshold: 0, maxIter: K - 1 });
      const x = axpy(x0, step, state.sum);
      tf.dispose([state.term, state.sum, x0]);
      const r = residual(setup, b, x);
      const rNorm = normNumber(r);
      r.dispose();
      const status = !Number.isFinite(rNorm) ? 'nan' : rNorm <= setup.threshold ? 'converged' : 'max-iterations';
      return finishLinear(setup, x, K, rNorm, status, '',
        'increase terms, or a larger step (up to 2/λ_max); the residual decays like (1 − sμ)^K');
    }),
  }, options);
}
