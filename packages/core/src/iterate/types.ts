import type { StatusCode, StatusFacts } from '../status.js';
import type { Work } from '../work.js';

/** Why a step ended the iteration, with the solver's sentence for the message. */
export interface Stop {
  /** The status code from the table ({@link StatusCode}). */
  status: StatusCode;
  /** What the solver found, e.g. `'pᵀAp = -1.2e-3 ≤ 0 at iteration 4'`. */
  detail?: string;
}

/**
 * What one step returns:
 * - `{ state }`: the next state; the loop disposes the tensors of the old state it no longer holds;
 * - `{ state, stop }`: the next state is kept and the iteration ends (e.g. a restart cycle
 *   that made no progress);
 * - `{ stop }`: the iteration ends at the old state (a failed line search, pᵀAp ≤ 0).
 *
 * `count` is how many iterations the step did (default 1 with a state, 0 without): a
 * restarted-GMRES cycle is several matrix–vector products, each one an iteration.
 */
export type Step<S> = { state: S; stop?: Stop; count?: number } | { stop: Stop; count?: number };

/** What {@link IterativeMethod.step} is told about where the loop is. */
export interface StepInfo {
  /** Iterations done so far. */
  iteration: number;
  /** The cap: a step that does several iterations must not go past it. */
  maxIter: number;
}

/**
 * An iterative solver as the shared loop sees it (Optimistix's `init / step / terminate`):
 * a few fields captured in closures plus these functions. The state is a plain object
 * whose tensors (fields, arrays of tensors, nested records) the loop owns: it keeps the
 * new state's tensors, disposes the old state's others, and releases everything but the
 * final state when a step throws. A state must hold no tensor the caller owns.
 */
export interface IterativeMethod<S> {
  /** The state at iteration 0. */
  init(): S;
  /** One iteration from `state`; must not dispose tensors of `state` (the loop does). */
  step(state: S, info: StepInfo): Step<S>;
  /**
   * The stopping quantity of a state (‖∇Φ‖, ‖b − Ax‖, ‖T(x) − x‖): NaN/Inf stops the loop
   * with `'nan'` at the last finite state. `undefined` means not measured (a fixed-term
   * series): then only the cap stops the loop, with status `'fixed-steps'`.
   */
  residual(state: S): number | undefined;
  /**
   * Called when the residual meets the threshold, to confirm on a better measure (CG's
   * recursive residual against the true `b − Ax`). Not confirmed: the loop continues from
   * the returned state (residual replacement).
   */
  confirm?(state: S): { converged: true } | { converged: false; state: S };
}

/** What the per-iteration callback receives. */
export interface IterationInfo<S> {
  /** Iterations done. */
  iteration: number;
  /** The residual of the new state (undefined when not measured). */
  residual: number | undefined;
  /** The new state (read-only: its tensors belong to the loop). */
  state: S;
}

/** How the shared loop stops. */
export interface IterateOptions<S> {
  /**
   * Converged when `residual ≤ threshold`: an absolute number (tol, or tol·‖b‖), or a
   * function of the initial residual (a relative tol: `(r0) => tol * r0`).
   */
  threshold: number | ((initialResidual: number | undefined) => number);
  /** Iteration cap. */
  maxIter: number;
  /**
   * Stop with `'stalled'` when the best residual has not dropped by 1% in this many
   * iterations (0 or undefined: never). In float32 a threshold under the round-off floor
   * is otherwise chased until `maxIter`.
   */
  stallIterations?: number;
  /** Per-iteration callback; returning `true` stops the loop with status `'stopped'`. */
  onIteration?: (info: IterationInfo<S>) => boolean | void;
  /** Work record whose `key` counter receives the iterations (and `timeMs` the wall time). */
  work?: { record: Work; key: 'innerIterations' | 'linearIterations' };
  /** What the message names (the solver, the residual, the options); see {@link StatusFacts}. */
  facts?: Omit<StatusFacts, 'iterations' | 'residual' | 'threshold' | 'maxIter' | 'best' | 'stallIterations' | 'detail'>;
}

/** How the shared loop ended. The caller owns the tensors of `state`. */
export interface IterateOutcome<S> {
  /** The final state (the last finite one when a NaN/Inf appeared). */
  state: S;
  /** Iterations done (the sum of the steps' counts). */
  iterations: number;
  /** Why the loop stopped. */
  status: StatusCode;
  /** The residual of the final state. */
  residual: number | undefined;
  /** The absolute threshold the residual was compared with. */
  threshold: number;
  /** The best residual seen. */
  best: number | undefined;
  /** The solver's sentence, when a step stopped the loop. */
  detail?: string;
  /** The table's message for this outcome (see {@link statusMessage}). */
  message: string;
}
