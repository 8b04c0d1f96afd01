import { tf } from '../tf.js';
import { emptyWork, type Work } from '../work.js';
import { statusMessage } from '../status.js';
import { checkFinite, checkShape } from '../validate.js';
import { checkOptionKeys, checkStoppingOptions, readScalars, withCleanup } from '../inner/loop.js';
import type { LinearResult, LinearSolveOptions, LinearSolver, LinearStatus, MatVec } from './types.js';

/** The `{ tol, tolMode, maxIter }` options every linear solver takes. */
export interface LinearBaseOptions {
  /** Stop when ‖b − Ax‖ ≤ tol (absolute) or ≤ tol·‖b‖ (relative). */
  tol?: number;
  /** `'absolute'` or `'relative'` stopping rule. */
  tolMode?: 'absolute' | 'relative';
  /** Iteration cap. */
  maxIter?: number;
}

/**
 * Defaults of {@link cg}.
 *
 * `tol = 1e-5` relative: in float32 the recursively updated CG residual drifts from the
 * true one at about 1e-6·‖b‖·cond, so 1e-5 is the tightest target that is reliably met on
 * moderately conditioned systems.
 */
export const CG_DEFAULTS = { tol: 1e-5, tolMode: 'relative', maxIter: 200 } as const satisfies Required<LinearBaseOptions>;

/**
 * Per-solve bookkeeping shared by the linear solvers (internal): validated options, the
 * owned initial guess, ‖b‖, the threshold, and a matvec that counts and checks shapes.
 */
export interface LinearSetup {
  where: string;
  x: tf.Tensor;
  /** Whether x0 was all zeros by default (then r₀ = b needs no matvec). */
  zeroStart: boolean;
  bNorm: number;
  threshold: number;
  tol: number;
  tolMode: 'absolute' | 'relative';
  maxIter: number;
  work: Work;
  t0: number;
  apply: MatVec;
}

/** Validates a linear solve's arguments and builds its {@link LinearSetup}. */
export function setupLinear(
  where: string,
  matvec: MatVec,
  b: tf.Tensor,
  options: LinearSolveOptions | undefined,
  defaults: Required<LinearBaseOptions>,
): LinearSetup {
  const t0 = performance.now();
  if (typeof matvec !== 'function') throw new Error(`${where}.solve: 'matvec' must be a function v => A v, got ${typeof matvec}.`);
  checkFinite(`${where}.solve`, 'b', b);
  const opts = options ?? {};
  checkOptionKeys(`${where}.solve`, opts, ['x0', 'tol', 'tolMode', 'maxIter']);
  checkStoppingOptions(`${where}.solve`, opts);
  if (opts.x0 != null) {
    checkFinite(`${where}.solve`, 'x0', opts.x0);
    checkShape(`${where}.solve`, 'x0', opts.x0.shape, b.shape);
  }
  const tol = opts.tol ?? defaults.tol;
  const tolMode = opts.tolMode ?? defaults.tolMode;
  const maxIter = opts.maxIter ?? defaults.maxIter;
  const [bNorm] = readScalars(tf.tidy(() => tf.norm(b)));
  const work = emptyWork();
  const apply: MatVec = (v) => {
    work.hvps += 1;
    const out = matvec(v);
    if (!(out instanceof tf.Tensor)) throw new Error(`${where}: matvec must return a tf.Tensor, got ${typeof out}.`);
    if (!tf.util.arraysEqual(out.shape, v.shape)) {
      out.dispose();
      throw new Error(`${where}: matvec returned shape [${out.shape}] for an input of shape [${v.shape}]; A v must be shaped like v (and b).`);
    }
    return out;
  };
  return {
    where,
    x: opts.x0 != null ? tf.clone(opts.x0) : tf.zerosLike(b),
    zeroStart: opts.x0 == null,
    bNorm,
    threshold: tolMode === 'absolute' ? tol : tol * bNorm,
    tol,
    tolMode,
    maxIter,
    work,
    t0,
    apply,
  };
}

/** `b − A x` (one counted matvec). */
export function residual(setup: LinearSetup, b: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const ax = setup.apply(x);
  const r = tf.tidy(() => tf.sub(b, ax));
  ax.dispose();
  return r;
}

/** Builds a {@link LinearResult}, with a message naming the fix when the solve failed. */
export function finishLinear(
  setup: LinearSetup,
  x: tf.Tensor,
  iterations: number,
  residualNorm: number,
  status: LinearStatus,
  detail = '',
  fix?: string,
): LinearResult {
  const { where, work, threshold } = setup;
  let converged = status === 'converged';
  if (status === 'converged' && !(residualNorm <= threshold)) {
    // The recursion said converged but the true residual disagrees (float32 drift).
    converged = false;
    status = 'max-iterations';
  }
  if (!Number.isFinite(residualNorm) && status !== 'nan') status = 'nan';
  const message = statusMessage(status, {
    where, iterations, residual: residualNorm, residualName: '‖b − Ax‖', threshold, tol: setup.tol, tolMode: setup.tolMode,
    relativeTo: '‖b‖', maxIter: setup.maxIter, detail: detail || undefined,
    fix: status === 'max-iterations' ? fix : status === 'nan' ? 'the operator or b produced non-finite values; check the matvec (e.g. the HVP at x) and b' : undefined,
  });
  work.linearIterations = iterations;
  work.timeMs = performance.now() - setup.t0;
  return { x, iterations, residualNorm, converged, status, message, work };
}

/** Options of {@link cg}. */
export type CgOptions = LinearBaseOptions;

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
  checkOptionKeys(where, options, ['tol', 'tolMode', 'maxIter']);
  checkStoppingOptions(where, options);
  const defaults = {
    tol: options.tol ?? CG_DEFAULTS.tol,
    tolMode: options.tolMode ?? CG_DEFAULTS.tolMode,
    maxIter: options.maxIter ?? CG_DEFAULTS.maxIter,
  };
  return {
    name: where,
    requiresSymmetric: true,
    solve: (matvec, b, solveOptions) => withCleanup(() => {
      const setup = setupLinear(where, matvec, b, solveOptions, defaults);
      let x = setup.x;
      let r = setup.zeroStart ? tf.clone(b) : residual(setup, b, x);
      let p = tf.clone(r);
      let [rr] = readScalars(tf.tidy(() => tf.sum(tf.square(r))));
      let k = 0;
      let status: LinearStatus = 'max-iterations';
      let detail = '';
      let trueNorm: number | undefined;
      while (true) {
        if (!Number.isFinite(rr)) {
          status = 'nan';
          break;
        }
        if (Math.sqrt(rr) <= setup.threshold) {
          // Confirm on the true residual; replace the recursive one if they disagree.
          const rTrue = residual(setup, b, x);
          const [rrTrue] = readScalars(tf.tidy(() => tf.sum(tf.square(rTrue))));
          trueNorm = Math.sqrt(rrTrue);
          if (trueNorm <= setup.threshold || k >= setup.maxIter) {
            rTrue.dispose();
            status = trueNorm <= setup.threshold ? 'converged' : 'max-iterations';
            break;
          }
          tf.dispose([r, p]);
          r = rTrue;
          p = tf.clone(r);
          rr = rrTrue;
          trueNorm = undefined;
        }
        if (k >= setup.maxIter) break;
        const ap = setup.apply(p);
        const [pAp] = readScalars(tf.tidy(() => tf.sum(tf.mul(p, ap))));
        if (!Number.isFinite(pAp)) {
          ap.dispose();
          status = 'nan';
          detail = 'pᵀAp is not finite';
          break;
        }
        if (pAp <= 0) {
          ap.dispose();
          status = 'non-positive-curvature';
          detail = `pᵀAp = ${pAp.toExponential(3)} ≤ 0 at iteration ${k}: the operator is not positive definite ` +
            '(e.g. the energy is not strongly convex at x). Add ξ‖x‖² to the energy, or use gmres or a solver for indefinite systems.';
          break;
        }
        const alpha = rr / pAp;
        const xNew = tf.tidy(() => tf.add(x, tf.mul(p, alpha)));
        const rNew = tf.tidy(() => tf.sub(r, tf.mul(ap, alpha)));
        ap.dispose();
        const [rrNew] = readScalars(tf.tidy(() => tf.sum(tf.square(rNew))));
        const beta = rrNew / rr;
        const pNew = tf.tidy(() => tf.add(rNew, tf.mul(p, beta)));
        tf.dispose([x, r, p]);
        x = xNew;
        r = rNew;
        p = pNew;
        rr = rrNew;
        k += 1;
      }
      tf.dispose([r, p]);
      if (trueNorm === undefined) {
        const rTrue = residual(setup, b, x);
        trueNorm = readScalars(tf.tidy(() => tf.norm(rTrue)))[0];
        rTrue.dispose();
      }
      return finishLinear(setup, x, k, trueNorm, status, detail);
    }),
  };
}
