import type { Params, Work } from '@bilevel/core';

/** θ (or any parameter-shaped tree) as plain arrays: what checkpoints and method states hold. */
export type ParamsArrays = Record<string, { shape: number[]; values: number[] }>;

/**
 * Accuracy requested from an {@link Oracle}, with the meaning of the `Strategy` contract:
 * `tol` bounds the inner residual ‖∇ₓΦ(x̃; θ)‖ (so ‖x̃ − x̂(θ)‖ ≤ ε := tol/μ), `linearTol`
 * bounds the adjoint residual ‖∇²ₓₓΦ(x̃) q̃ − ∇ₓℓ(x̃)‖ ≤ δ.
 */
export interface OracleAccuracy {
  tol: number;
  linearTol: number;
}

/** Per-call options of an {@link Oracle}. */
export interface OracleCallOptions {
  /** Indices of the training pairs of this minibatch; absent means the whole training set. */
  batch?: number[];
  /**
   * Only the value (and its `valueBound`) is needed, as in a line-search trial point: the
   * request kind `'value'`. The oracle runs the forward solve alone — no adjoint solve, 0
   * linear iterations — and returns no `grad`; the `valueBound` needs only the forward accuracy
   * (Salehi et al. 2025, Lemma 3.4; Bogensperger et al. 2024, Lemma 5). {@link oracleFromStrategy}
   * does so through `strategy.value` (every `defineStrategy` strategy: implicit, piggyback,
   * unrolled, ...), which reports the rule's forward-only `valueBound`; a pooled oracle sends a
   * `kind: 'value'` request to its pool.
   */
  valueOnly?: boolean;
  /**
   * With `valueOnly`: `false` runs the full hypergradient anyway (adjoint included), as before
   * value requests existed (e.g. to reproduce earlier work counts); `true` also lets
   * {@link oracleFromStrategy} use a bare `strategy.solve` when the strategy has no `value`.
   * Default: skip the adjoint wherever the strategy can.
   */
  skipAdjoint?: boolean;
}

/**
 * What one oracle call returns. The caller owns `grad` and must call `dispose()`.
 *
 * - `value` = F̃(θ) = ℓ(x̃, θ), the upper-level loss at the inexact lower-level solution;
 * - `grad` = h, the inexact hypergradient;
 * - `bound` ≥ ‖h − ∇F(θ)‖ (a-posteriori, see {@link hypergradientBound}); `Infinity` or `NaN`
 *   when the oracle cannot certify one;
 * - `valueBound` ≥ |F̃(θ) − F(θ)| (see {@link valueBound}).
 */
export interface OracleResult {
  value: number;
  grad?: Params;
  bound: number;
  valueBound: number;
  work: Work;
  /**
   * False when the solves stopped short of the requested accuracy (iteration caps, float32
   * floor). `bound`/`valueBound` must still hold for what was achieved; MAID stops instead of
   * asking for even more accuracy. Absent means true.
   */
  converged?: boolean;
  /** Core's hypergradient status (`'converged'`, `'forward-not-converged'`, ...), where the oracle knows it. */
  status?: string;
  /** The strategy's message (names the fix when a solve failed). */
  message?: string;
  dispose(): void;
}

/**
 * An inexact first-order oracle for the upper-level objective F(θ): the abstraction every
 * upper-level method in this package runs on. Build one from a hypergradient strategy with
 * {@link oracleFromStrategy}, or write one by hand (closed-form problems, tests).
 *
 * An oracle may keep warm-start state (the previous lower-level solution); `saveState` /
 * `loadState` expose it as JSON so that a resumed training run follows exactly the same
 * trajectory as an uninterrupted one.
 */
export interface Oracle {
  (theta: Params, accuracy: OracleAccuracy, options?: OracleCallOptions): OracleResult;
  /** JSON-serialisable warm-start state (for checkpoints). */
  saveState?(): unknown;
  /** Restores what {@link Oracle.saveState} returned. */
  loadState?(state: unknown): void;
}

/**
 * A non-smooth part applied after each gradient step: a proximal map (e.g. of λ‖θ‖₁) and/or
 * a projection onto a constraint set. `value` is the non-smooth term J(θ) (0 for a pure
 * projection), included in the objective that line searches compare.
 */
export interface Proximal {
  readonly name: string;
  /** J(θ) (0 for an indicator function at feasible θ). */
  value(theta: Params): number;
  /** prox_{step·J}(θ) (or the projection); returns new tensors. */
  apply(theta: Params, step: number): Params;
}

/** What a method's `step` receives besides its state and the oracle. */
export interface StepContext {
  /** Post-step proximal map / projection (from `train`'s `regularizer` and `project`). */
  proximal?: Proximal;
  /**
   * Work units (inner + linear iterations) left in `train`'s `budget.work` when this step starts; a
   * method that makes several oracle calls per step (MAID) stops with 'budget-work' once its step has
   * spent them. Absent: no work budget.
   */
  workLeft?: number;
}

/** Why a method (or `train`) stopped. */
export type StopReason =
  | 'stationary'
  | 'accuracy-limit'
  | 'backtracking-failed'
  | 'oracle-failed'
  | 'budget-iterations'
  | 'budget-work'
  | 'budget-seconds'
  | 'radius-limit'
  | 'stopped'
  | 'aborted';

/** Diagnostics of one upper-level iteration. */
export interface StepInfo {
  /** Index of the iteration that produced this info (0-based). */
  iteration: number;
  /** F̃(θ_k) (+ J(θ_k)) at the iterate where the gradient was taken. */
  value: number;
  /** ‖h_k‖. */
  gradNorm: number;
  /** Certified bound on ‖h_k − ∇F(θ_k)‖ (NaN when the oracle gave none). */
  bound: number;
  /** Accuracies the accepted gradient was computed with. */
  tol: number;
  linearTol: number;
  /** Step size α_k actually taken (0 if no step was taken). */
  step: number;
  /** Whether θ moved. */
  accepted: boolean;
  /** Work of all oracle calls of this iteration. */
  work: Work;
  /** Oracle calls of this iteration. */
  evaluations: number;
  /** Set when the method cannot continue; `message` says why and what to change. */
  stop?: StopReason;
  message?: string;
}

/** Common shape of every method state: serialisable with `JSON.stringify`. */
export interface MethodStateBase {
  theta: ParamsArrays;
  iteration: number;
}

/**
 * An upper-level method, Optax-style: explicit, JSON-serialisable state; `step` is pure
 * except for the oracle calls it makes (and their warm starts).
 */
export interface Method<S extends MethodStateBase = MethodStateBase> {
  readonly name: string;
  /** The method's resolved options (checkpoints record them in the run's fingerprint). */
  readonly options?: unknown;
  /** State at θ₀ (θ₀ is read, not consumed). */
  init(theta: Params): S;
  /** One upper-level iteration. */
  step(state: S, oracle: Oracle, context?: StepContext): { state: S; info: StepInfo };
}
