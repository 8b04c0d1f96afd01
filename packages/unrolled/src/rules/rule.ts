import { tf } from '@bilevel/core';
import type { DifferentiationRule, Params } from '@bilevel/core';
import { disposeState } from '../internal/steps.js';
import { type UnrolledConfig, type EnergyOrMap, stepFor, prefix, measure, outcome, sweepWork } from '../internal/config.js';
import type { SweepFn } from './sweep.js';

/**
 * The unrolled differentiation rule over a sweep (reverse, checkpointed or forward mode):
 * T − K untaped steps, then the sweep over the last K. For hypergradients it runs fused
 * (`throughForward`: the forward and its derivative in one sweep, ℓ(x_T, θ) as the terminal);
 * for `argmin` (`vjp`) it re-runs from the problem's initial point with the terminal ⟨x_T, v⟩.
 *
 * @param config - the resolved options.
 * @param name - rule name for results.
 * @param sweep - the differentiation mode.
 * @param vjpSweep - the mode of `vjp` (default `sweep`; reverse is cheaper for one cotangent).
 * @returns the rule.
 */
export function sweepRule(config: UnrolledConfig, name: string, sweep: SweepFn, vjpSweep: SweepFn = sweep): DifferentiationRule {
  function run<D>(problem: EnergyOrMap<D>, theta: Params, data: D, start: tf.Tensor | undefined, terminal: (x: tf.Tensor, th: Params) => tf.Tensor, mode: SweepFn) {
    const { step, stateSize } = stepFor(config, problem, theta, data);
    const x0 = problem.initialPoint(theta, data, start);
    let r0: number;
    let from;
    try {
      r0 = measure(problem, x0, theta, data).residual;
      from = prefix(config, step, stateSize, x0, theta);
    } finally {
      x0.dispose();
    }
    try {
      return { r0, result: mode(step, from, theta, config.K, terminal) };
    } finally {
      disposeState(from);
    }
  }

  return {
    name,
    throughForward({ problem: p, theta, data, x0, tol, terminal }) {
      const problem = p as EnergyOrMap<typeof data>;
      const { r0, result } = run(problem, theta, data, x0, terminal, sweep);
      const forward = outcome(config, problem, theta, data, r0, result.xT, tol, result.value);
      return { forward, value: result.value, grad: result.grad, work: sweepWork(problem, result.counts) };
    },
    vjp({ problem: p, theta, data, forward, cotangent, wrtData }) {
      if (wrtData) throw new Error(`${name}: argmin's 'differentiateData' is not supported by the unrolled strategy; differentiate with respect to θ.`);
      const problem = p as EnergyOrMap<typeof data>;
      if (!tf.util.arraysEqual(forward.x.shape, cotangent.shape)) {
        throw new Error(`unrolled.vjpSolution: cotangent has shape [${cotangent.shape}], expected the shape of x [${forward.x.shape}].`);
      }
      const { result } = run(problem, theta, data, undefined, (x) => tf.sum(tf.mul(x, cotangent)), vjpSweep);
      result.xT.dispose();
      const work = sweepWork(problem, result.counts);
      work.innerIterations += config.steps;
      return { grad: result.grad, converged: true, status: 'fixed-steps', message: `unrolled: VJP through ${config.K} of ${config.steps} unrolled steps.`, work };
    },
  };
}
