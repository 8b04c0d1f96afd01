// The pieces of one training iteration: the budget test, the progress event, and the final θ.
import { workUnits, disposeParams, type Params, type Work } from '@bilevel/core';
import type { ParamsArrays, StepInfo, StopReason } from '../../types.js';
import type { Budget, ProgressEvent } from '../../train.js';
import type { Reparameterisation } from '../../transforms.js';
import { fromArrays } from '../util.js';
import { WHERE } from './setup.js';

/** The first budget reached before the next iteration (iterations, then work, then seconds), if any. */
export function budgetStop(budget: Budget, iterations: number, work: Work, elapsedMs: number): { status: StopReason; message: string } | undefined {
  if (budget.iterations != null && iterations >= budget.iterations) {
    return { status: 'budget-iterations', message: `${WHERE}: reached budget.iterations = ${budget.iterations}.` };
  }
  if (budget.work != null && workUnits(work) >= budget.work) {
    return { status: 'budget-work', message: `${WHERE}: reached budget.work = ${budget.work} (inner + linear iterations).` };
  }
  if (budget.seconds != null && elapsedMs >= budget.seconds * 1000) {
    return { status: 'budget-seconds', message: `${WHERE}: reached budget.seconds = ${budget.seconds}.` };
  }
  return undefined;
}

/** The event of iteration `iteration` from the method's step info and the cumulative work. */
export function progressEvent(iteration: number, info: StepInfo, work: Work, timeMs: number): ProgressEvent {
  return {
    iteration,
    loss: info.value,
    gradNorm: info.gradNorm,
    bound: info.bound,
    eps: info.tol,
    delta: info.linearTol,
    step: info.step,
    accepted: info.accepted,
    work: workUnits(work),
    evaluations: info.evaluations,
    timeMs,
  };
}

/** θ = T(φ) from the final state (the caller owns the result). */
export function finalTheta(theta: ParamsArrays, transform: Reparameterisation | undefined): Params {
  const phi = fromArrays(theta);
  if (transform == null) return phi;
  const out = transform.forward(phi);
  disposeParams(phi);
  return out;
}
