/**
 * What every linear solver shares (internal): the option shape, the per-solve setup
 * (validated options, the owned initial guess, ‖b‖, the threshold, a counting and
 * shape-checking matvec), the true residual, and the result with the table's message.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import { emptyWork, type Work } from '../work.js';
import { statusMessage } from '../status.js';
import { checkFinite, checkShape } from '../validate.js';
import { normNumber } from '../internal/fused-ops.js';
import type { LinearResult, LinearSolveOptions, LinearStatus, MatVec } from './types.js';
import { checkOptions, opt } from '../options.js';
import { LINEAR_STOPPING_SCHEMA } from '../internal/solver-options.js';

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

/** The per-call options of every linear solver's `solve`. */
const LINEAR_SOLVE_SCHEMA = { x0: opt.nullable(opt.tensor()), ...LINEAR_STOPPING_SCHEMA };

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
  checkOptions(`${where}.solve`, opts, LINEAR_SOLVE_SCHEMA);
  if (opts.x0 != null) {
    checkFinite(`${where}.solve`, 'x0', opts.x0);
    checkShape(`${where}.solve`, 'x0', opts.x0.shape, b.shape);
  }
  const tol = opts.tol ?? defaults.tol;
  const tolMode = opts.tolMode ?? defaults.tolMode;
  const maxIter = opts.maxIter ?? defaults.maxIter;
  const bNorm = normNumber(b);
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
