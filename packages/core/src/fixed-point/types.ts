import type { tf } from '../tf.js';
import type { Work } from '../work.js';
import type { StatusCode } from '../status.js';

/** How a fixed-point solve ended (a subset of the status table's codes, {@link StatusCode}). */
export type FixedPointStatus = Extract<StatusCode, 'converged' | 'max-iterations' | 'nan'>;

/** Per-call options of a fixed-point solver. */
export interface FixedPointSolveOptions {
  /** Stop when ‖T(x) − x‖ ≤ tol (absolute). */
  tol?: number;
  /** Iteration cap (map evaluations). */
  maxIter?: number;
}

/** What every fixed-point solver returns. The caller owns `x`. */
export interface FixedPointResult {
  /** Approximate fixed point. */
  x: tf.Tensor;
  iterations: number;
  /** ‖T(x) − x‖ at the returned x. */
  residualNorm: number;
  converged: boolean;
  status: FixedPointStatus;
  /** Human-readable status naming the fix when it failed. */
  message: string;
  work: Work;
}

/** A fixed-point solver for `x = T(x)`: `solve(map, x0, { tol, maxIter })`. */
export interface FixedPointSolver {
  readonly name: string;
  /**
   * @param map - `x ↦ T(x)` (returns a new tensor; called outside any tape).
   * @param x0 - starting point (not consumed).
   */
  solve(map: (x: tf.Tensor) => tf.Tensor, x0: tf.Tensor, options?: FixedPointSolveOptions): FixedPointResult;
}

/** Defaults shared by the fixed-point solvers. */
export const FIXED_POINT_DEFAULTS = { tol: 1e-5, maxIter: 500 } as const;
