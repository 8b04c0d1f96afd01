import { tf } from '../tf.js';
import { withCleanup } from '../internal/solver-utils.js';
import { cgUpdate, dotNumber, squaredNormNumber } from '../internal/fused-ops.js';
import { iterate, disposeReplaced } from '../iterate/loop.js';
import type { LinearSolver, LinearStatus } from './types.js';
import { finishLinear, residual, setupLinear, type LinearBaseOptions } from './common.js';
import { defineOptions, opt, recordExplicit } from '../options.js';
import { LINEAR_STOPPING_SCHEMA } from '../internal/solver-options.js';

export type { LinearBaseOptions } from './common.js';

/**
 * Defaults of {@link cg}.
 *
 * `tol = 1e-5` relative: in float32 the recursively updated CG residual drifts from the
 * true one at about 1e-6·‖b‖·cond, so 1e-5 is the tightest target that is reliably met on
 * moderately conditioned systems.
 */
export const CG_DEFAULTS = { tol: 1e-5, tolMode: 'relative', maxIter: 200 } as const satisfies Required<LinearBaseOptions>;

/** CG's state: iterate, residual, direction, rᵀr, and the true ‖b − Ax‖ when just recomputed. */
interface CgState {
  x: tf.Tensor;
  r: tf.Tensor;
  p: tf.Tensor;
  rr: number;
  trueNorm?: number;
}

/** Options of {@link cg}. */
export type CgOptions = LinearBaseOptions;

const CG_OPTIONS = defineOptions<CgOptions>('cg', LINEAR_STOPPING_SCHEMA, cg);

/**
 * Conjugate gradients for a symmetric positive definite operator.
 *
 * Minimises `½xᵀAx − bᵀx` over growing Krylov spaces: `α = rᵀr / pᵀAp`, `x += αp`,
 * `r −= αAp`, `p = r + (r₊ᵀr₊ / rᵀr) p`. Stops on the residual; when the recursive
 * residual meets the tolerance the true residual `b − Ax` is recomputed, and if float32
 * drift left it above the tolerance, CG restarts from it (residual replacement).
 * A direction with `pᵀAp ≤ 0` proves A is not positive definite: CG stops there with
 * status `'non-positive-curvature'` and returns the last iterate.
 *
 * @param options - defaults `tol`, `tolMode`, `maxIter` (see {@link CG_DEFAULTS}).
 * @returns a {@link LinearSolver}.
 * @example
 * ```ts
 * const { x, residualNorm } = cg({ tol: 1e-5 }).solve((v) => problem.hvp(xHat, theta, data, v), rhs);
 * ```
 */
export function cg(options: CgOptions = {}): LinearSolver {
  const where = 'cg';
  CG_OPTIONS.check(options);
  const defaults = {
    tol: options.tol ?? CG_DEFAULTS.tol,
    tolMode: options.tolMode ?? CG_DEFAULTS.tolMode,
    maxIter: options.maxIter ?? CG_DEFAULTS.maxIter,
  };
  return recordExplicit({
    name: where,
    requiresSymmetric: true,
    solve: (matvec, b, solveOptions) => withCleanup(() => {
      const setup = setupLinear(where, matvec, b, solveOptions, defaults);
      const squaredNorm = squaredNormNumber;
      const outcome = iterate<CgState>({
        init: () => {
          const r = setup.zeroStart ? tf.clone(b) : residual(setup, b, setup.x);
          return { x: setup.x, r, p: tf.clone(r), rr: squaredNorm(r) };
        },
        residual: ({ rr }) => Math.sqrt(rr),
        // The recursive residual met tol: confirm on the true one, else restart CG from it.
        confirm: ({ x }) => {
          const rTrue = residual(setup, b, x);
          const rr = squaredNorm(rTrue);
          if (Math.sqrt(rr) <= setup.threshold) {
            rTrue.dispose();
            return { converged: true };
          }
          return { converged: false, state: { x, r: rTrue, p: tf.clone(rTrue), rr, trueNorm: Math.sqrt(rr) } };
        },
        step: ({ x, r, p, rr }, { iteration }) => {
          const ap = setup.apply(p);
          const pAp = dotNumber(p, ap);
          if (!Number.isFinite(pAp)) return { stop: { status: 'nan', detail: 'pᵀAp is not finite' } };
          if (pAp <= 0) {
            return {
              stop: {
                status: 'non-positive-curvature',
                detail: `pᵀAp = ${pAp.toExponential(3)} ≤ 0 at iteration ${iteration}: the operator is not positive definite ` +
                  '(e.g. the energy is not strongly convex at x). Add ξ‖x‖² to the energy, or use gmres or a solver for indefinite systems.',
              },
            };
          }
          // x + αp, r − αAp, ‖r‖², r + βp: one fused kernel where the backend allows (internal/fused-ops.ts)
          return { state: cgUpdate(x, r, p, ap, rr / pAp, rr) };
        },
      }, { threshold: setup.threshold, maxIter: setup.maxIter });
      const { state, iterations, status, detail } = outcome;
      let trueNorm = state.trueNorm;
      if (trueNorm === undefined) {
        const rTrue = residual(setup, b, state.x);
        trueNorm = Math.sqrt(squaredNorm(rTrue));
        rTrue.dispose();
      }
      disposeReplaced(state, state.x);
      return finishLinear(setup, state.x, iterations, trueNorm, status as LinearStatus, detail);
    }),
  }, options);
}
