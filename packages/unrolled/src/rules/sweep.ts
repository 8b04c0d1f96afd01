import type { tf, Params } from '@bilevel/core';
import type { State, StepMap } from '../internal/steps.js';

/** What a sweep over the K differentiated steps returns. */
export interface Sweep {
  /** terminal(x_T, θ). */
  value: number;
  /** ∇_θ terminal(x_T(θ), θ), x_{T−K} held constant. */
  grad: Params;
  /** x_T (owned by the caller). */
  xT: tf.Tensor;
  /** Step VJPs / JVPs done, and steps recomputed (checkpointing). */
  counts: { vjps?: number; jvps?: number; recomputed?: number };
}

/** A differentiation mode of the unrolled strategy: K steps from `start` (not consumed). */
export type SweepFn = (step: StepMap, start: State, theta: Params, K: number, terminal: (x: tf.Tensor, theta: Params) => tf.Tensor) => Sweep;
