import type { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { Problem, Data } from '../problem.js';
import type { Work } from '../work.js';
import type { StatusCode } from '../status.js';

/** How an inner solve ended (a subset of the status table's codes, {@link StatusCode}). */
export type InnerStatus = Extract<StatusCode, 'converged' | 'max-iterations' | 'stalled' | 'line-search-failed' | 'nan'>;

/** Per-call options of an inner solver (override the factory's defaults). */
export interface InnerSolveOptions {
  /** Starting point (warm start). Not consumed: the solver clones it. */
  x0?: tf.Tensor;
  /** Stop when ‖∇ₓΦ‖ ≤ tol (absolute) or ≤ tol·‖∇ₓΦ(x0)‖ (relative). */
  tol?: number;
  /** `'absolute'` or `'relative'` stopping rule. */
  tolMode?: 'absolute' | 'relative';
  /** Iteration cap. */
  maxIter?: number;
  /** Stop as `'stalled'` after this many iterations without a 1% drop of the best ‖∇ₓΦ‖ (0: never). */
  stallIterations?: number;
}

/** What every inner solver returns. The caller owns `x` and must dispose it. */
export interface InnerResult {
  /** Approximate minimiser x̂. */
  x: tf.Tensor;
  /** Iterations taken. */
  iterations: number;
  /** ‖∇ₓΦ(x)‖ at the returned x. */
  gradNorm: number;
  /** ‖∇ₓΦ(x)‖ / μ when μ is known: certifies ‖x − x̂‖ ≤ distanceBound for μ-strongly convex Φ. */
  distanceBound?: number;
  /** Whether the tolerance was reached. */
  converged: boolean;
  /** Why the solve stopped. */
  status: InnerStatus;
  /** Human-readable status, naming the fix when it failed. */
  message: string;
  /** Work done. */
  work: Work;
}

/** A lower-level solver: one small object, shared by every strategy that needs one. */
export interface InnerSolver {
  readonly name: string;
  solve<D = Data>(problem: Problem<D>, theta: Params, data: D, options?: InnerSolveOptions): InnerResult;
}
