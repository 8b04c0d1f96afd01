// Accuracy control of the derivative-free method (Ehrhardt & Roberts, "Inexact derivative-free
// optimization for bilevel learning", J. Math. Imaging Vision 2021, Algorithm 1 lines 3–10 and
// condition (32)): every value F̃ comes with valueBound ≥ |F̃ − F|, and the inner tolerance ε
// is tightened until the bounds that the ratio test and the model rely on are small enough.
import { addWork, emptyWork, type Work } from '@bilevel/core';
import type { Oracle, StopReason } from '../../types.js';
import type { DfoOptions } from '../../dfo-options.js';
import { withParams } from '../util.js';
import { unflatten, WHERE, type Layout } from './layout.js';

/** Ends the iteration early with a stop reason for `train` (not an error of the caller). */
export class Stop extends Error {
  constructor(readonly reason: StopReason, message: string) {
    super(message);
  }
}

/** The mutable state of one iteration: the interpolation set Y, F̃ on it, Δ_k, ε_k and the model Hessian. */
export interface WorkingSet {
  points: number[][];
  values: number[];
  tols: number[];
  valueBounds: Array<number | null>;
  base: number;
  radius: number;
  tol: number;
  hessian: number[][];
  gradNorm: number;
  /** Criticality-phase passes in this iteration (Algorithm 1 line 6). */
  criticalitySteps?: number;
}

export const boundOf = (w: WorkingSet, j: number): number => w.valueBounds[j] ?? Infinity;

/** Value-only oracle calls of one iteration, with the work, evaluation and tightening counts. */
export interface Sampler {
  readonly work: Work;
  readonly evaluations: number;
  evaluate(x: number[], at: number, target?: number): { value: number; bound: number };
  /** Evaluates `x` at tolerance `at` into slot j of the set (an unconverged solve is kept when its valueBound ≤ target). */
  store(j: number, x: number[], at: number, target?: number): void;
  /** Next tolerance for a point whose valueBound misses `target`; valueBound ∝ ε predicts the factor. */
  tighten(from: number, bound: number, target: number): number;
  /** Accuracy phase at θ_k: true when F̃(θ_k) had to be re-evaluated (valueBound > η₁'·pred). */
  refineBase(target: number): boolean;
  /** Model accuracy: re-evaluates the interpolation values whose error may exceed modelAccuracy·pred; true when any was. */
  refineModelValues(pred: number): boolean;
  /** F̃(θ_k + s), tightening ε until its valueBound ≤ target (dynamic accuracy), and the tolerance it was computed at. */
  evaluateTrial(x: number[], target: number): { value: number; bound: number; tol: number };
}

export function sampler(opts: Readonly<DfoOptions>, oracle: Oracle, layout: Layout, w: WorkingSet): Sampler {
  const dynamic = opts.dynamicAccuracy;
  let work: Work = emptyWork();
  let evaluations = 0;
  let reductions = 0;
  let refreshes = 0;
  // accuracyLimit 'continue': a solve stopped short of what the step needs; no more tightening this iteration.
  let atFloor = false;

  // `target`: the valueBound this evaluation must meet. A solve that stops short of `at` (in
  // float32 the inner solver stalls at its round-off floor) is still usable when its achieved
  // valueBound meets the target; only otherwise does the method stop with 'accuracy-limit'.
  const evaluate = (x: number[], at: number, target = -Infinity): { value: number; bound: number } => {
    const r = withParams(unflatten(x, layout), (theta) => oracle(theta, { tol: at, linearTol: at }, { valueOnly: true, skipAdjoint: true }));
    evaluations++;
    work = addWork(work, r.work);
    const { value, valueBound, converged } = r;
    r.dispose();
    if (!Number.isFinite(value)) throw new Stop('oracle-failed', `${WHERE}: the oracle returned a non-finite value ${value} at θ = [${x.join(', ')}]; check the problem (NaN in the energy?), the bounds, or lower radius0.`);
    if (dynamic && Number.isNaN(valueBound)) {
      throw new Error(`${WHERE}.step: the oracle returned no valueBound (NaN); dynamic accuracy needs |F̃ − F| ≤ valueBound: give oracleFromStrategy 'constants' (with lossLipschitz), or use dfo({ dynamicAccuracy: false }).`);
    }
    if (dynamic && converged === false && !(valueBound <= target) && opts.accuracyLimit === 'continue') {
      atFloor = true;
    } else if (dynamic && converged === false && !(valueBound <= target)) {
      throw new Stop('accuracy-limit', `${WHERE}: the oracle could not reach tol = ${at} (raise the solvers' maxIter, or accept this θ).`);
    }
    return { value, bound: valueBound };
  };
  // Without a target (initial set, geometry points) an unconverged value is kept with its
  // valueBound: refineModelValues re-evaluates it once the model's needs are known.
  const store = (j: number, x: number[], at: number, target = Infinity) => {
    const e = evaluate(x, at, target);
    w.points[j] = x;
    w.values[j] = e.value;
    w.tols[j] = at;
    w.valueBounds[j] = Number.isFinite(e.bound) ? e.bound : null;
  };
  const tighten = (from: number, bound: number, target: number): number => {
    if (reductions >= opts.maxAccuracyReductions) {
      throw new Stop('accuracy-limit', `${WHERE}: ${reductions} accuracy tightenings in one iteration did not bring valueBound = ${bound} below η₁'·pred = ${target} (raise maxAccuracyReductions, or the bound constants are too pessimistic).`);
    }
    const next = from * Math.min(opts.accuracyShrink, Math.max(1e-3, (0.5 * target) / bound));
    if (next < opts.minTol) {
      throw new Stop('accuracy-limit', `${WHERE}: the value error bound ${bound} exceeds η₁'·pred = ${target} and the next tolerance ${next} would fall below minTol = ${opts.minTol}: θ is stationary to the attainable accuracy (lower minTol to continue).`);
    }
    reductions++;
    return next;
  };
  const refineBase = (target: number): boolean => {
    if (!dynamic || atFloor || !(boundOf(w, w.base) > target)) return false;
    w.tol = tighten(Math.min(w.tol, w.tols[w.base]), boundOf(w, w.base), target);
    store(w.base, w.points[w.base], w.tol, target);
    return true;
  };
  const refineModelValues = (pred: number): boolean => {
    if (!dynamic || atFloor || !(pred > 0)) return false;
    // An interpolation value whose error may exceed modelAccuracy·pred would make the model
    // gradient wrong by a fraction of ‖g‖ or more (points evaluated early, at loose ε, when Δ
    // was large); re-evaluate those, then rebuild the model.
    const modelTarget = opts.modelAccuracy * pred;
    let refreshed = false;
    let tightest = w.tol;
    for (let j = 0; j < w.points.length; j++) {
      if (j === w.base || boundOf(w, j) <= modelTarget) continue;
      const next = w.tols[j] * Math.min(opts.accuracyShrink, Math.max(1e-3, (0.5 * modelTarget) / boundOf(w, j)));
      if (next < opts.minTol) throw new Stop('accuracy-limit', `${WHERE}: an interpolation value's error bound ${boundOf(w, j)} exceeds modelAccuracy·pred = ${modelTarget} and the next tolerance ${next} would fall below minTol = ${opts.minTol}: θ is stationary to the attainable accuracy (lower minTol to continue).`);
      tightest = Math.min(tightest, next);
      store(j, w.points[j], next, modelTarget);
      refreshed = true;
    }
    w.tol = tightest;
    if (refreshed && ++refreshes > opts.maxAccuracyReductions) throw new Stop('accuracy-limit', `${WHERE}: ${refreshes - 1} model re-evaluations in one iteration did not make the interpolation values accurate enough (raise maxAccuracyReductions, or the bound constants are too pessimistic).`);
    return refreshed;
  };
  const evaluateTrial = (x: number[], target: number) => {
    let trial = evaluate(x, w.tol, target);
    let trialTol = w.tol;
    while (dynamic && !atFloor && !(trial.bound <= target)) {
      w.tol = tighten(trialTol, trial.bound, target);
      trialTol = w.tol;
      trial = evaluate(x, w.tol, target);
    }
    return { ...trial, tol: trialTol };
  };
  return {
    get work() {
      return work;
    },
    get evaluations() {
      return evaluations;
    },
    evaluate,
    store,
    tighten,
    refineBase,
    refineModelValues,
    evaluateTrial,
  };
}
