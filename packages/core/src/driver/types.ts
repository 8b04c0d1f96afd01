/**
 * The driver contract: a strategy is a **forward solve** plus a **differentiation rule**, and
 * one core driver ({@link defineStrategy}) does everything else.
 *
 * How to write a strategy on this contract (the implicit strategy in `@bilevel/implicit` is
 * the reference, about 100 lines):
 *
 * 1. A {@link ForwardSolve}: `solve(request)` returns the approximate lower-level point
 *    `x ≈ x̂(θ)` with its residual, `converged` flag, status, message and work. It never
 *    handles warm starts (the driver passes `x0`), the loss, or result objects.
 * 2. A {@link DifferentiationRule}: `vjp(request)` maps a cotangent `v` (shaped like x) to
 *    `(∂x̂/∂θ)ᵀ v` at the forward point, with its own residual/status/work. The driver calls
 *    it with `v = ∇ₓℓ(x, θ)` for a hypergradient (and adds `∇_θℓ` itself) and with the
 *    incoming cotangent inside `argmin`'s custom gradient. A rule may keep its own warm
 *    starts (the implicit adjoint's q), keyed by `request.purpose`.
 *    Rules that differentiate *through* the forward iterations (unrolled reverse mode) may
 *    also implement {@link DifferentiationRule.throughForward}: one sweep that solves and
 *    differentiates a terminal scalar, used by the driver instead of solve + split + vjp.
 * 3. `defineStrategy({ name, forward, rule, defaults, options })` returns the user-facing
 *    {@link DrivenStrategy}: `compute` (the hypergradient), `solve`, `vjpSolution` (for
 *    `argmin`), `reset`/`dispose`. The driver does: problem-kind checks, warm starts of x,
 *    accuracy resolution (per-call request > strategy option > solver default), the loss
 *    split `∇ℓ → (∇ₓℓ, ∇_θℓ)`, the forward solve, the rule, work and wall-time accounting,
 *    the {@link HypergradientResult} with its status and message, and (in `hypergradient`,
 *    `argmin` and outer's oracle) the convergence policy.
 *
 * Ownership: tensors in a {@link ForwardOutcome} belong to the driver once returned (it
 * disposes `x` or hands it to the result, and calls `disposeAux`); tensors in a
 * {@link RuleVjpOutcome} belong to the driver. Inputs (`theta`, `data`, `x0`, `cotangent`,
 * `forward.x`) are never consumed.
 *
 * @packageDocumentation
 */
import type { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { Data, Problem, FixedPointProblem, SaddleProblem } from '../problem.js';
import type { Work } from '../work.js';
import type { StatusCode } from '../status.js';
import type { Loss, Strategy, HypergradientStatus } from '../strategy.js';
import type { WarmState } from './warm.js';

/** The three shapes of a lower level (`defineProblem`, `defineFixedPoint`, `defineSaddle`). */
export type ProblemKind = 'energy' | 'fixed-point' | 'saddle';

/** Any lower-level problem. */
export type AnyProblem<D = Data> = Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;

/** What a {@link ForwardSolve} is asked. Accuracies are already resolved by the driver. */
export interface ForwardRequest<D = Data> {
  problem: AnyProblem<D>;
  theta: Params;
  data: D;
  /** Starting point (the user's `x0` or the driver's warm start); not consumed. */
  x0?: tf.Tensor;
  /** Forward tolerance (absolute); undefined: the forward solver's own default. */
  tol?: number;
  /** Iteration cap; undefined: the forward solver's own default. */
  maxIter?: number;
}

/**
 * Status of one solve (forward or backward): a code of core's status table (`status.ts`),
 * `converged` or why it stopped; `fixed-steps` when no tolerance applied (unrolled without `tol`).
 */
export type SolveStatus = StatusCode;

/**
 * What a {@link ForwardSolve} returns.
 * @typeParam A - rule-specific state the forward solve leaves for the rule (a PDHG dual, step sizes, checkpoints).
 */
export interface ForwardOutcome<A = unknown> {
  /** The approximate solution (owned by the driver after return). */
  x: tf.Tensor;
  /** Forward residual in the problem's measure (‖∇ₓΦ‖, ‖T(x) − x‖, primal–dual residual). */
  residual: number;
  /** Whether the requested tolerance was met. */
  converged: boolean;
  status: SolveStatus;
  /** One sentence; names the fix when the solve failed. */
  message: string;
  iterations: number;
  work: Work;
  /** The tolerance the solve used (for messages); undefined when none applied. */
  tol?: number;
  /** State for the rule (see `A`). */
  aux?: A;
  /** Releases tensors held in `aux` (called by the driver once the rule is done). */
  disposeAux?(): void;
}

/** The forward half of a strategy: `x ≈ x̂(θ)`. */
export interface ForwardSolve<A = unknown> {
  readonly name: string;
  /** Problem kinds it accepts (the driver rejects others with {@link StrategyParts.kindHint}). */
  readonly kinds: readonly ProblemKind[];
  /**
   * Stopping options the user set explicitly on the underlying solver (`lbfgs({ tol })`, read
   * with core's `explicitOptions`): the driver then leaves them to the solver instead of
   * applying {@link StrategyParts.softDefaults}.
   */
  readonly explicit?: Readonly<ExplicitStopping>;
  solve<D = Data>(request: ForwardRequest<D>): ForwardOutcome<A>;
  /** Warm-start state the forward solve keeps itself (beyond the driver's x), as plain data. */
  warmState?(): WarmState;
  /** Restores what {@link ForwardSolve.warmState} returned (an empty state forgets it). */
  loadWarmState?(state: WarmState): void;
}

/** What {@link DifferentiationRule.vjp} is asked. */
export interface RuleVjpRequest<D = Data, A = unknown> {
  problem: AnyProblem<D>;
  theta: Params;
  data: D;
  /**
   * The forward outcome at which to differentiate. Inside `argmin`'s custom gradient only
   * `x` is known: `aux` is then undefined and `residual` NaN, and a rule that needs more must
   * re-establish it (piggyback re-solves from x).
   */
  forward: ForwardOutcome<A>;
  /** The cotangent v, shaped like x (not consumed). */
  cotangent: tf.Tensor;
  /** Backward tolerance; undefined: the rule's own default. */
  linearTol?: number;
  /** Backward iteration cap; undefined: the rule's own default. */
  linearMaxIter?: number;
  /** Also return `(∂x̂/∂data)ᵀ v` (data a single tensor); rules that cannot must throw. */
  wrtData?: boolean;
  /** `'hypergradient'` (v = ∇ₓℓ) or `'argmin'` (v from an enclosing tape): keys a rule's warm starts. */
  purpose: 'hypergradient' | 'argmin';
}

/** What {@link DifferentiationRule.vjp} returns (tensors owned by the driver). */
export interface RuleVjpOutcome {
  /** `(∂x̂/∂θ)ᵀ v`, shaped like θ. */
  grad: Params;
  /** `(∂x̂/∂data)ᵀ v` when `wrtData` was asked. */
  dataGrad?: tf.Tensor;
  /** Backward residual when the rule solves a system; undefined for closed-form rules. */
  residual?: number;
  converged: boolean;
  status: SolveStatus;
  message: string;
  iterations?: number;
  work: Work;
  /** The tolerance the backward solve used (for messages). */
  tol?: number;
  /** A-posteriori bound on the hypergradient error, where the rule can certify one. */
  bound?: number;
  /** Bound on |value − F(θ)|, where available. */
  valueBound?: number;
  /**
   * Set when the rule found that the forward point is not a solution of the kind it assumes
   * (e.g. negative curvature at a stationary point: a maximum or a saddle, not a minimum):
   * the result is then `'forward-not-converged'`, whatever the residuals say.
   */
  notASolution?: boolean;
}

/** What {@link DifferentiationRule.valueBound} is asked: a forward outcome and ∇ₓℓ there, no backward solve. */
export interface RuleValueRequest<D = Data, A = unknown> {
  problem: AnyProblem<D>;
  theta: Params;
  data: D;
  /** The forward outcome (with the rule's `aux`); not consumed. */
  forward: ForwardOutcome<A>;
  /** ∇ₓℓ(x̃, θ), shaped like x (not consumed). */
  cotangent: tf.Tensor;
}

/** What {@link DifferentiationRule.valueBound} returns. */
export interface RuleValueOutcome {
  /** ≥ |ℓ(x̃) − ℓ(x̂)|, or undefined when the rule's constants give none. */
  valueBound?: number;
  /** What computing it cost (a strong-convexity check's HVPs, ...). */
  work?: Partial<Work>;
  /** Appended to the result's message (how the bound was obtained, or why there is none). */
  note?: string;
}

/** What {@link DifferentiationRule.throughForward} is asked. */
export interface ThroughForwardRequest<D = Data> extends ForwardRequest<D> {
  /** The scalar to differentiate at the final iterate, `ℓ(x_T, θ)`. */
  terminal: (x: tf.Tensor, theta: Params) => tf.Tensor;
}

/** What {@link DifferentiationRule.throughForward} returns. */
export interface ThroughForwardOutcome<A = unknown> {
  /** The forward part (x_T, its residual and status). */
  forward: ForwardOutcome<A>;
  /** terminal(x_T, θ). */
  value: number;
  /** The total gradient `∇_θ terminal(x_T(θ), θ)` (direct term included). */
  grad: Params;
  /** Differentiation work (the forward's work is in `forward.work`). */
  work: Work;
  message?: string;
}

/** The differentiation half of a strategy: `v ↦ (∂x̂/∂θ)ᵀ v`. */
export interface DifferentiationRule<A = unknown> {
  readonly name: string;
  /** Stopping options the user set explicitly on the rule's linear solver (`cg({ tol })`). */
  readonly explicit?: Readonly<ExplicitStopping>;
  vjp<D = Data>(request: RuleVjpRequest<D, A>): RuleVjpOutcome;
  /**
   * Optional fused path: solve and differentiate `terminal(x_T(θ), θ)` in one sweep (for
   * rules whose derivative is taken through the forward iterations). When present the driver
   * uses it for hypergradients instead of `forward.solve` + loss split + `vjp`.
   */
  throughForward?<D = Data>(request: ThroughForwardRequest<D>): ThroughForwardOutcome<A>;
  /**
   * Optional: the bound on |ℓ(x̃) − F(θ)| that {@link RuleVjpOutcome.valueBound} reports, from
   * the forward outcome alone, for value-only requests (`strategy.value`: no backward solve). A
   * rule that reports `valueBound` from `vjp` implements it, so that a value-only call certifies
   * what a hypergradient call would (it depends on the forward accuracy only).
   */
  valueBound?<D = Data>(request: RuleValueRequest<D, A>): RuleValueOutcome;
  /** Forgets the rule's warm starts. */
  reset?(): void;
  /** The rule's own warm starts (the implicit adjoint's q per purpose), as plain data. */
  warmState?(): WarmState;
  /** Restores what {@link DifferentiationRule.warmState} returned (an empty state forgets them). */
  loadWarmState?(state: WarmState): void;
}

/** The stopping options a user set explicitly on a solver factory. */
export interface ExplicitStopping {
  tol?: number;
  maxIter?: number;
}

/** Accuracies a strategy applies when the request gives none. */
export interface StrategyDefaults {
  tol?: number;
  linearTol?: number;
  maxIter?: number;
  linearMaxIter?: number;
}

/** What {@link defineStrategy} builds a strategy from. */
export interface StrategyParts<A = unknown, O extends object = object> {
  /** Name in results and messages, e.g. `implicit(lbfgs, cg)`. */
  name: string;
  forward: ForwardSolve<A>;
  rule: DifferentiationRule<A>;
  /** The accuracies the user set on the strategy (`implicit({ tol })`): applied unless the request gives its own. */
  defaults?: StrategyDefaults;
  /**
   * The strategy's exported defaults: applied only where neither the request, nor `defaults`,
   * nor the solver's explicitly set option (`forward.explicit`, `rule.explicit`) gives one —
   * core's precedence rule (README, "Accuracy precedence").
   */
  softDefaults?: StrategyDefaults;
  /** The factory's resolved options, exposed as `strategy.options`. */
  options: O;
  /** Whether the driver warm-starts each forward solve from the previous x (shape-checked). Default false. */
  warmStart?: boolean;
  /** Sentence appended when a problem kind is rejected (which strategy to use instead). */
  kindHint?: string;
  /** Releases state the forward solve or rule hold beyond the driver's warm start. */
  reset?(): void;
}

/** The user-facing object {@link defineStrategy} returns. */
export interface DrivenStrategy<O extends object = object> extends Strategy {
  readonly options: Readonly<O>;
  readonly forward: ForwardSolve;
  readonly rule: DifferentiationRule;
  /**
   * The accuracies a call without its own gets (core's precedence rule applied to the
   * strategy's options, the solvers' explicit options and the exported defaults); what the
   * convergence policy's `'tighten'` tightens from.
   */
  readonly accuracy: Readonly<StrategyDefaults>;
  /** Whether the driver holds a warm start of x. */
  readonly warm: { x: boolean };
  /** Forgets every warm start (disposes the kept tensors). */
  reset(): void;
  /**
   * Every warm start the strategy holds, as plain float32 data: slot `x` (the driver's),
   * `rule.*` and `forward.*` (the rule's and the forward solve's own). What a checkpoint
   * stores so that a resumed run repeats the uninterrupted one bit for bit.
   */
  warmState(): WarmState;
  /** Replaces every warm start by `state` (from {@link DrivenStrategy.warmState}); `{}` forgets them all. */
  loadWarmState(state: WarmState): void;
  /** Same as {@link DrivenStrategy.reset}. */
  dispose(): void;
}

export type { HypergradientStatus };
