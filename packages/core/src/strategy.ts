import type { tf } from './tf.js';
import type { Params } from './params.js';
import type { Problem, FixedPointProblem, Data } from './problem.js';
import type { SaddleProblem } from './saddle-problem.js';
import type { Work } from './work.js';
import type { WarmState } from './driver/warm.js';

/**
 * Upper-level loss `ℓ(x, θ; data)`, a scalar. For a batch, return the sum (or mean) over
 * samples; the hypergradient is of exactly what this returns.
 */
export type Loss<D = Data> = (x: tf.Tensor, theta: Params, data: D) => tf.Tensor;

/** Accuracy requested for one hypergradient (MAID and HOAG set these per call). */
export interface Accuracy {
  /** Inner tolerance ε on ‖∇ₓΦ‖ (absolute). */
  tol?: number;
  /** Adjoint / backward tolerance δ on the linear residual (absolute). */
  linearTol?: number;
  /** Iteration caps for this call. */
  maxIter?: number;
  linearMaxIter?: number;
}

/** What a strategy is asked to differentiate. */
export interface HypergradientRequest<D = Data> extends Accuracy {
  problem: Problem<D> | FixedPointProblem<D>;
  theta: Params;
  data: D;
  loss: Loss<D>;
  /** Warm-start point for the forward solve (not consumed). */
  x0?: tf.Tensor;
}

/**
 * Convergence of the forward (and backward) solves behind one hypergradient. `'fixed-steps'`:
 * no tolerance applied (unrolled without `tol`): the exact gradient of T solver steps, not of
 * the solution map; counted as converged.
 */
export type HypergradientStatus = 'converged' | 'fixed-steps' | 'forward-not-converged' | 'backward-not-converged';

/** What {@link Strategy.compute} returns. The caller owns the tensors (call `dispose()`). */
export interface HypergradientResult {
  /** Upper-level loss ℓ(x, θ) at the returned x. */
  value: number;
  /** Hypergradient estimate. */
  grad: Params;
  /** The lower-level solution used. */
  x: tf.Tensor;
  /** A-posteriori bound on ‖grad − ∇F(θ)‖ where the strategy and the constants allow one. */
  bound?: number;
  /** Bound on |value − F(θ)| (`‖∇ₓℓ‖ε + Lε²/2`) where available. */
  valueBound?: number;
  /** Work of this call. */
  work: Work;
  status: HypergradientStatus;
  converged: boolean;
  /** Forward residual (‖∇ₓΦ‖ or ‖T(x) − x‖) and backward residual, for diagnostics. */
  residuals: { forward: number; backward?: number };
  /** Human-readable status naming the fix when a solve failed. */
  message: string;
  /** Name of the strategy that produced this result (after any fallback). */
  strategy: string;
  /** Disposes `grad` and `x`. */
  dispose(): void;
}

/** What {@link Strategy.value} returns: a {@link HypergradientResult} without `grad` and `bound`. The caller owns `x` (call `dispose()`). */
export interface ValueResult {
  /** ℓ(x̃, θ) at the returned x̃. */
  value: number;
  /** The lower-level solution used. */
  x: tf.Tensor;
  /** Bound on |value − F(θ)| from the forward accuracy alone, where the rule and its constants give one. */
  valueBound?: number;
  /** Work of this call (forward only: 0 linear iterations). */
  work: Work;
  /** `'converged'` or `'forward-not-converged'`. */
  status: HypergradientStatus;
  converged: boolean;
  residuals: { forward: number };
  message: string;
  strategy: string;
  /** Disposes `x`. */
  dispose(): void;
}

/** A differentiation rule: swapping strategy is changing this one object. */
export interface Strategy {
  readonly name: string;
  compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult;
  /**
   * Optional: the upper-level value alone, `ℓ(x̃(θ), θ)` with its bound on |value − F(θ)|, from
   * the forward solve only — no adjoint / backward solve (`defineStrategy` provides it). What a
   * value-only request (a line-search trial point of MAID, a derivative-free evaluation) runs:
   * the sufficient-decrease test of MAID reads the value and its bound `‖∇ₓℓ(x̃)‖ε + Lε²/2`,
   * which depend on the forward accuracy ε alone (Salehi, Mukherjee, Roberts & Ehrhardt 2025,
   * Lemma 3.4; Bogensperger et al. 2024, Lemma 5, (26)).
   */
  value?<D = Data>(request: HypergradientRequest<D>): ValueResult;
  /**
   * Optional: the forward solve alone, `x̂(θ)` (used by `argmin`). Strategies without it
   * cannot back an `argmin` function.
   */
  solve?<D = Data>(request: SolveRequest<D>): SolveResult;
  /**
   * Optional: vector–Jacobian product of the solution map, `(∂x̂/∂θ)ᵀ v` at a point `x`
   * returned by {@link Strategy.solve} (used inside the `tf.customGrad` of `argmin`).
   * Implementations must be safe inside a custom gradient (use core's autodiff primitives,
   * which isolate the tape).
   */
  vjpSolution?<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
  /**
   * Optional: the warm starts the strategy keeps between calls, as plain float32 data
   * (`defineStrategy` provides it). Outer's checkpoints store it for exact resumption.
   */
  warmState?(): WarmState;
  /** Optional: restores what {@link Strategy.warmState} returned. */
  loadWarmState?(state: WarmState): void;
}

/** What {@link Strategy.solve} is asked: the forward solve of `argmin`. */
export interface SolveRequest<D = Data> {
  /** The lower level: an energy, a fixed-point map or (piggyback) a saddle point, as `hypergradient` takes. */
  problem: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;
  theta: Params;
  data: D;
  /** Warm start (not consumed). */
  x0?: tf.Tensor;
  tol?: number;
  maxIter?: number;
}

/** What {@link Strategy.solve} returns. The caller owns `x`. */
export interface SolveResult {
  x: tf.Tensor;
  /** Forward residual (‖∇ₓΦ‖ or ‖T(x) − x‖). */
  residual: number;
  converged: boolean;
  message: string;
  work: Work;
}

/** What {@link Strategy.vjpSolution} is asked. */
export interface SolutionVjpRequest<D = Data> {
  problem: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;
  theta: Params;
  data: D;
  /** The forward solution (not consumed). */
  x: tf.Tensor;
  /** Cotangent `v = ∂L/∂x̂`, shaped like x (not consumed). */
  cotangent: tf.Tensor;
  linearTol?: number;
  linearMaxIter?: number;
  /**
   * Also return `(∂x̂/∂data)ᵀ v` when `data` is a single tensor (e.g. the input of an
   * `ArgminLayer` fed by earlier layers). Strategies that cannot must throw, never skip it.
   */
  wrtData?: boolean;
}

/** What {@link Strategy.vjpSolution} returns. The caller owns `grad`. */
export interface SolutionVjpResult {
  /** `(∂x̂/∂θ)ᵀ v`, shaped like θ. */
  grad: Params;
  /** `(∂x̂/∂data)ᵀ v`, shaped like data, when `wrtData` was asked. */
  dataGrad?: tf.Tensor;
  /** Backward residual, where the strategy solves a system (undefined otherwise). */
  residual?: number;
  converged: boolean;
  message: string;
  work: Work;
}
