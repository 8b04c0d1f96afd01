import type { tf, Work } from '@bilevel/core';

/** How a forward (fixed-point) solve ended. */
export type ForwardStatus = 'converged' | 'max-iterations' | 'nan';

/** Per-call options of a forward solver. */
export interface ForwardSolveOptions {
  /** Stop when ‖T(x) − x‖ ≤ tol (absolute). */
  tol?: number;
  /** Iteration cap (map evaluations). */
  maxIter?: number;
}

/** What every forward solver returns. The caller owns `x`. */
export interface ForwardResult {
  /** Approximate fixed point. */
  x: tf.Tensor;
  iterations: number;
  /** ‖T(x) − x‖ at the returned x. */
  residualNorm: number;
  converged: boolean;
  status: ForwardStatus;
  /** Human-readable status naming the fix when it failed. */
  message: string;
  work: Work;
}

/** A fixed-point solver for `x = T(x)`: `solve(map, x0, { tol, maxIter })`. */
export interface ForwardSolver {
  readonly name: string;
  /**
   * @param map - `x ↦ T(x)` (returns a new tensor; called outside any tape).
   * @param x0 - starting point (not consumed).
   */
  solve(map: (x: tf.Tensor) => tf.Tensor, x0: tf.Tensor, options?: ForwardSolveOptions): ForwardResult;
}

/** Defaults shared by the forward solvers. */
export const FORWARD_DEFAULTS = { tol: 1e-5, maxIter: 500 } as const;
