/**
 * HOAG (Pedregosa, "Hyperparameter optimization with approximate gradient", ICML 2016;
 * restated as Algorithm 1 of Crockett & Fessler, "Bilevel methods for image reconstruction",
 * Foundations and Trends in Signal Processing 2022): inexact gradient descent with an a-priori accuracy schedule and a
 * fixed step (1/L where L is a Lipschitz constant of ∇F).
 *
 * @packageDocumentation
 */
import { normParams, type Params } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, StepContext, StepInfo } from './types.js';
import { toArrays, withParams, gradientStep, requireGrad, checkRange, checkKeys } from './internal/util.js';
import { toSchedule, type Schedule } from './schedules.js';

/** Options of {@link hoag}. Give exactly one of `step` and `lipschitz`. */
export interface HoagOptions {
  /** Inner tolerance schedule ε_k (or a constant). */
  schedule: Schedule | number;
  /** Adjoint tolerance schedule δ_k; default: the same as `schedule`. */
  linearSchedule?: Schedule | number;
  /** Fixed step α. */
  step?: number;
  /** L, a Lipschitz constant of ∇F: the step is 1/L. */
  lipschitz?: number;
}

/** HOAG has no tunable defaults besides the schedule and step; this records Pedregosa's ε₀ and ratio. */
export const HOAG_DEFAULTS = Object.freeze({ eps0: 0.1, geometricRatio: 0.9 });

/** HOAG's state: θ and the iteration counter (the schedule index). */
export interface HoagState extends MethodStateBase {}

/**
 * Creates HOAG: θ_{k+1} = prox(θ_k − α h_k) with h_k from the oracle at accuracies
 * (ε_k, δ_k) = (schedule(k), linearSchedule(k)) and α = 1/L or a fixed step.
 *
 * @param options - {@link HoagOptions}.
 * @returns a {@link Method}.
 * @example
 * ```ts
 * const method = hoag({ schedule: quadratic(0.1), lipschitz: 25 });
 * ```
 */
export function hoag(options: HoagOptions): Method<HoagState> & { readonly schedule: Schedule; readonly stepSize: number } {
  const where = 'hoag';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object, e.g. hoag({ schedule: geometric(0.1, 0.9), lipschitz: L }).`);
  checkKeys(where, options, ['schedule', 'linearSchedule', 'step', 'lipschitz']);
  const schedule = toSchedule(where, 'schedule', options.schedule);
  const linearSchedule = toSchedule(where, 'linearSchedule', options.linearSchedule, schedule);
  if ((options.step == null) === (options.lipschitz == null)) {
    throw new Error(`${where}: give exactly one of option 'step' (a fixed step) and option 'lipschitz' (L of ∇F; the step is 1/L).`);
  }
  if (options.step != null) checkRange(where, 'step', options.step, 0, Infinity, true, true, 'give a positive step, e.g. 1/L');
  if (options.lipschitz != null) checkRange(where, 'lipschitz', options.lipschitz, 0, Infinity, true, true, 'give a positive Lipschitz constant of ∇F');
  const stepSize = options.step ?? 1 / options.lipschitz!;

  function init(theta: Params): HoagState {
    return { theta: toArrays(theta), iteration: 0 };
  }

  function step(state: HoagState, oracle: Oracle, context: StepContext = {}): { state: HoagState; info: StepInfo } {
    const k = state.iteration;
    const tol = schedule(k);
    const linearTol = linearSchedule(k);
    return withParams(state.theta, (theta) => {
      const r = oracle(theta, { tol, linearTol });
      try {
        const grad = requireGrad(`${where}.step`, r);
        const penalty = context.proximal != null ? context.proximal.value(theta) : 0;
        const gradNorm = normParams(grad);
        if (!Number.isFinite(r.value) || !Number.isFinite(gradNorm)) {
          return {
            state,
            info: { iteration: k, value: r.value, gradNorm, bound: r.bound, tol, linearTol, step: 0, accepted: false, work: r.work, evaluations: 1, stop: 'oracle-failed' as const, message: `${where}: non-finite value or gradient at θ_${k}; lower the step (it diverged?) or check the problem.` },
          };
        }
        const { next } = gradientStep(theta, grad, stepSize, context.proximal);
        const info: StepInfo = { iteration: k, value: r.value + penalty, gradNorm, bound: r.bound, tol, linearTol, step: stepSize, accepted: true, work: r.work, evaluations: 1 };
        return { state: { theta: next, iteration: k + 1 }, info };
      } finally {
        r.dispose();
      }
    });
  }

  return { name: 'hoag', options: Object.freeze({ schedule, linearSchedule, stepSize }), schedule, stepSize, init, step };
}
