import { tf } from '../tf.js';
import type { Params } from '../params.js';
import { disposeParams, keysOf } from '../params.js';
import type { Work } from '../work.js';
import type { HypergradientResult, HypergradientStatus } from '../strategy.js';
import type { ForwardOutcome, RuleVjpOutcome } from './types.js';
import { formatNumber as fmt } from '../status.js';
import { heapAllFinite } from '../internal/fused-ops.js';

/** Whether every entry of every tensor of `grad` is finite (off the backend's memory where it can be read, else one device read). */
export function finiteParams(grad: Params): boolean {
  const keys = keysOf(grad);
  if (keys.length === 0) return true;
  const onHeap = keys.map((k) => heapAllFinite(grad[k]));
  if (onHeap.every((ok) => ok != null)) return onHeap.every((ok) => ok);
  const ok = tf.tidy(() => tf.all(tf.stack(keys.map((k) => tf.all(tf.isFinite(grad[k]))))));
  const v = ok.dataSync()[0] === 1;
  ok.dispose();
  return v;
}

/** What {@link buildResult} assembles. */
export interface ResultParts {
  strategy: string;
  value: number;
  grad: Params;
  x: tf.Tensor;
  forward: Pick<ForwardOutcome, 'residual' | 'converged' | 'status' | 'message'>;
  backward?: Pick<RuleVjpOutcome, 'residual' | 'converged' | 'status' | 'message' | 'bound' | 'valueBound' | 'notASolution'>;
  work: Work;
}

/**
 * The one {@link HypergradientResult} every driven strategy returns: status from the forward
 * and backward outcomes (a non-finite residual, value or gradient is never 'converged'), one
 * message joining both, `dispose()` releasing grad and x.
 */
export function buildResult(parts: ResultParts): HypergradientResult {
  const { forward, backward, grad, x } = parts;
  const forwardOk = forward.converged && Number.isFinite(forward.residual) && backward?.notASolution !== true;
  const backwardOk = backward == null || (backward.converged && (backward.residual == null || Number.isFinite(backward.residual)));
  const finite = Number.isFinite(parts.value) && finiteParams(grad);
  let status: HypergradientStatus;
  if (!forwardOk) status = 'forward-not-converged';
  else if (!backwardOk) status = 'backward-not-converged';
  else if (!finite) status = 'forward-not-converged';
  else status = forward.status === 'fixed-steps' ? 'fixed-steps' : 'converged';
  const pieces = [forward.message, backward?.message].filter((m): m is string => m != null && m !== '');
  if (!finite && forwardOk && backwardOk) {
    pieces.push(`the hypergradient is not finite (value ${fmt(parts.value)}); check the loss and θ, or reduce the step size of the solver`);
  }
  return {
    value: parts.value,
    grad,
    x,
    bound: backward?.bound,
    valueBound: backward?.valueBound,
    work: parts.work,
    status,
    converged: status === 'converged' || status === 'fixed-steps',
    residuals: { forward: forward.residual, backward: backward?.residual },
    message: pieces.join('; '),
    strategy: parts.strategy,
    dispose() {
      disposeParams(grad);
      if (!x.isDisposed) x.dispose();
    },
  };
}
