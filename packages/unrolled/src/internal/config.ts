import { tf, emptyWork, formatNumber as fmt } from '@bilevel/core';
import type { Params, Problem, FixedPointProblem, ForwardOutcome, Work } from '@bilevel/core';
import { makeStep, initialState, advance } from './steps.js';
import type { State, StepMap, StepSize, Method } from './steps.js';

/** Which states the reverse sweep keeps. */
export type UnrolledMemory = 'full' | { checkpoint: 'sqrt' } | { checkpointEvery: number };

/** The resolved options every piece of the unrolled strategy reads. */
export interface UnrolledConfig {
  /** T, the unrolled steps. */
  steps: number;
  /** K ≤ T, the differentiated (last) steps. */
  K: number;
  method: Method;
  momentum: number;
  memory: UnrolledMemory;
  stepSize?: StepSize;
}

export type EnergyOrMap<D> = Problem<D> | FixedPointProblem<D>;

/** The step map at θ: gradient step (size s or 1/L) for energies, T itself for fixed points. */
export function stepFor<D>(config: UnrolledConfig, problem: EnergyOrMap<D>, theta: Params, data: D): { step: StepMap; stateSize: number } {
  let size: StepSize = 1;
  if (problem.kind === 'energy') {
    size = config.stepSize ?? (() => {
      const L = problem.lipschitz(theta, data);
      if (L == null || L <= 0) throw new Error(`unrolled: no step size for '${problem.name}': pass options.stepSize or give defineProblem a 'smoothness' (L, step 1/L).`);
      return 1 / L;
    })();
  }
  return makeStep(problem, data, config.method, size, config.momentum);
}

/** Runs the T − K constant steps from x0 (not consumed) and returns the state where differentiation starts. */
export function prefix(config: UnrolledConfig, step: StepMap, stateSize: number, x0: tf.Tensor, theta: Params): State {
  return advance(step, initialState(x0, stateSize), theta, config.steps - config.K, true);
}

/** The forward residual ‖∇ₓΦ(x)‖ or ‖T(x) − x‖ and ‖x‖ (one device read). */
export function measure<D>(problem: EnergyOrMap<D>, x: tf.Tensor, theta: Params, data: D): { residual: number; norm: number } {
  const both = tf.tidy(() => {
    const r = problem.kind === 'fixed-point' ? tf.sub(problem.map(x, theta, data), x) : problem.gradient(x, theta, data);
    return tf.stack([tf.norm(r), tf.norm(x)]);
  });
  const [residual, norm] = Array.from(both.dataSync());
  both.dispose();
  return { residual, norm };
}

/** Work of the T forward steps plus the two residual evaluations (at x_0 and x_T). */
export function forwardWork<D>(problem: EnergyOrMap<D>, steps: number): Work {
  const w = emptyWork();
  w.innerIterations = steps;
  if (problem.kind === 'energy') w.gradEvals = steps + 2;
  else w.energyEvals = steps + 2;
  return w;
}

/** Work of a sweep's counts: step VJPs of a gradient step are one HVP (+ mixed product) each. */
export function sweepWork<D>(problem: EnergyOrMap<D>, counts: { vjps?: number; jvps?: number; recomputed?: number }): Work {
  const w = emptyWork();
  w.innerIterations = counts.recomputed ?? 0;
  if (problem.kind === 'energy') {
    w.gradEvals = counts.recomputed ?? 0;
    w.hvps = counts.vjps ?? 0;
  } else {
    w.energyEvals = counts.recomputed ?? 0;
  }
  w.vjps = counts.vjps ?? 0;
  w.jvps = counts.jvps ?? 0;
  return w;
}

/**
 * The forward outcome of T steps from x_0 to x_T: without `tol` the status is `'fixed-steps'`
 * (the exact gradient of T steps, not of the solution map); a non-finite iterate or value, or
 * a residual that grew over the run (‖r_T‖ > 2‖r_0‖ above float32 noise), is flagged as
 * diverged and not converged, with the fix.
 */
export function outcome<D>(
  config: UnrolledConfig, problem: EnergyOrMap<D>, theta: Params, data: D,
  r0: number, xT: tf.Tensor, tol: number | undefined, value = 0,
): ForwardOutcome {
  const { residual, norm } = measure(problem, xT, theta, data);
  const T = config.steps;
  const what = problem.kind === 'energy' ? '‖∇ₓΦ(x_T)‖' : '‖T(x_T) − x_T‖';
  const fix = problem.kind === 'energy' ? "reduce 'stepSize' (s < 2/L for gradient descent) or 'momentum'" : 'check that the map is a contraction (‖∂ₓT‖ < 1)';
  const work = forwardWork(problem, T);
  const base = { x: xT, residual, iterations: T, work, tol };
  // Growth above float32 noise: a warm start at the solution has r_0 at rounding level.
  const grew = residual > 2 * r0 && residual > 1e-5 * (1 + norm);
  if (!Number.isFinite(residual) || !Number.isFinite(norm) || !Number.isFinite(value) || grew) {
    return {
      ...base, converged: false, status: 'diverged',
      message: `unrolled: the iteration diverges: ${what} went from ${fmt(r0)} at x_0 to ${fmt(residual)} after ${T} steps${Number.isFinite(value) ? '' : ` (loss ${value})`}; the gradient of the unrolled map is meaningless here. Fix: ${fix}.`,
    };
  }
  if (tol != null) {
    const converged = residual <= tol;
    return {
      ...base, converged, status: converged ? 'converged' : 'max-iterations',
      message: converged
        ? `unrolled: ${T} steps, ${what} = ${fmt(residual)} ≤ tol ${fmt(tol)}.`
        : `unrolled: after ${T} steps ${what} = ${fmt(residual)} > tol ${fmt(tol)}; increase 'steps' (now ${T}) or the step size to reach it.`,
    };
  }
  return {
    ...base, converged: true, status: 'fixed-steps',
    message: `unrolled: exact gradient of T = ${T} steps, not of the solution map (no tol given; ${what} = ${fmt(residual)}). Pass tol to check convergence.`,
  };
}
