import type { tf } from '../tf.js';
import type { Work } from '../work.js';
import type { StatusCode } from '../status.js';

/** A matrix-free linear operator `v ↦ A v`. Must return a new tensor shaped like v. */
export type MatVec = (v: tf.Tensor) => tf.Tensor;

/** How a linear solve ended (a subset of the status table's codes, {@link StatusCode}). */
export type LinearStatus = Extract<StatusCode, 'converged' | 'max-iterations' | 'non-positive-curvature' | 'breakdown' | 'nan'>;

/** Per-call options of a linear solver (override the factory's defaults). */
export interface LinearSolveOptions {
  /** Initial guess (warm start). Not consumed. */
  x0?: tf.Tensor;
  /** Stop when ‖b − Ax‖ ≤ tol (absolute) or ≤ tol·‖b‖ (relative). */
  tol?: number;
  /** `'absolute'` or `'relative'` stopping rule. */
  tolMode?: 'absolute' | 'relative';
  /** Iteration cap (matrix–vector products). */
  maxIter?: number;
}

/** What every linear solver returns. The caller owns `x`. */
export interface LinearResult {
  x: tf.Tensor;
  iterations: number;
  /** ‖b − A x‖ at the returned x (recomputed, not the recursive estimate, where cheap). */
  residualNorm: number;
  converged: boolean;
  status: LinearStatus;
  /** Human-readable status, naming the fix when it failed. */
  message: string;
  work: Work;
}

/** A matrix-free linear solver `solve(matvec, b, options)`. */
export interface LinearSolver {
  readonly name: string;
  /** Whether the solver needs A symmetric positive definite (CG) or handles general A (GMRES). */
  readonly requiresSymmetric: boolean;
  solve(matvec: MatVec, b: tf.Tensor, options?: LinearSolveOptions): LinearResult;
}
