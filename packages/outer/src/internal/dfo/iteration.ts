// One iteration k of the dynamic-accuracy derivative-free trust-region method (Ehrhardt &
// Roberts, "Inexact derivative-free optimization for bilevel learning", J. Math. Imaging Vision
// 2021, Algorithm 1 lines 3–12): model, step, accuracy phase, trial, ratio test, update.
import type { DfoOptions } from '../../dfo-options.js';
import { dot, normInf, quadraticChange } from '../linalg.js';
import { clip, WHERE, type Box } from './layout.js';
import { buildModel } from './model.js';
import { Stop, type Sampler, type WorkingSet } from './accuracy.js';
import { geometryBad, improveGeometry, initialPoints, replacementIndex, resampleAround } from './geometry.js';
import { trustRegionStep, stepBounds, acceptedRadius, SHORT_STEP } from './trust-region.js';

/** Runs iteration k on `w` (mutated); returns whether the step was accepted and its ∞-norm. Throws {@link Stop}. */
export function iterate(opts: Readonly<DfoOptions>, w: WorkingSet, npt: number, box: Box, theta: number[], sample: Sampler): { accepted: boolean; stepLength: number } {
  if (w.points.length === 0) {
    // Algorithm 1 line 1: the first interpolation set.
    initialPoints(theta, w.radius, npt, box).forEach((x, j) => sample.store(j, x, w.tol));
    w.base = 0;
  }
  let restarted = false;
  let criticalityDone = false;
  for (;;) {
    const model = buildModel(w.points, w.values, w.base, w.radius, w.hessian);
    if (model == null) {
      // Degenerate set (rounding, repeated rejections): resample around θ_k once.
      if (restarted) throw new Stop('radius-limit', `${WHERE}: the interpolation set stays degenerate at Δ = ${w.radius}; θ cannot be resolved further in float32 (raise minRadius).`);
      restarted = true;
      resampleAround(w, npt, box, sample);
      continue;
    }
    // Criticality phase (lines 5–7): near a stationary point of the model, make the model fully
    // linear in a region no larger than ‖g̃‖, so that a small ‖g̃‖ means a small ‖∇F‖.
    const gNorm = Math.sqrt(dot(model.g, model.g));
    if (gNorm <= opts.criticalityTol && (w.radius > gNorm || !criticalityDone)) {
      criticalityDone = true;
      w.gradNorm = gNorm;
      w.criticalitySteps = (w.criticalitySteps ?? 0) + 1;
      if (w.radius > gNorm) w.radius = Math.max(w.radius * opts.radiusShrink, gNorm);
      if (w.radius < opts.minRadius) throw new Stop('radius-limit', `${WHERE}: criticality phase: ‖g̃‖ = ${gNorm} ≤ criticalityTol = ${opts.criticalityTol} and Δ = ${w.radius} fell below minRadius: θ is stationary to this resolution.`);
      resampleAround(w, npt, box, sample);
      continue;
    }
    const x0 = w.points[w.base];
    const { lo, hi } = stepBounds(x0, w.radius, box.lower, box.upper);
    let s = trustRegionStep(model.g, model.h, lo, hi, w.radius);
    // The step lands exactly on a float32 θ; the prediction is for that point.
    const trialPoint = clip(x0.map((v, i) => v + s[i]), box);
    s = trialPoint.map((v, i) => v - x0[i]);
    const pred = -quadraticChange(model.g, model.h, s);
    w.gradNorm = Math.sqrt(dot(model.g, model.g));
    const target = opts.accuracyRatio * pred;
    if (!(pred > 0) || !Number.isFinite(pred) || normInf(s) < SHORT_STEP * w.radius) {
      w.hessian = model.h;
      // Safety step (Powell's BOBYQA, DFO-LS): the model predicts no decrease, or its
      // minimiser lies deep inside the region, where pred (and the accuracy it would demand)
      // is tiny while the model error is not: improve the set or resolve a smaller region.
      if (geometryBad(w, opts)) improveGeometry(w, box, sample);
      else w.radius *= opts.radiusShrink;
      return { accepted: false, stepLength: 0 };
    }
    // Accuracy phase (lines 3–9): F̃(θ_k) too inexact for this predicted decrease.
    if (sample.refineBase(target)) continue;
    if (sample.refineModelValues(pred)) continue;
    w.hessian = model.h;
    // Line 10: the trial evaluation, as accurate as the ratio test needs.
    const trial = sample.evaluateTrial(trialPoint, target);
    const rho = (w.values[w.base] - trial.value) / pred;
    // (33) with `fullyLinearAcceptance`: a merely successful step (η₁ ≤ ρ < η₂) is taken only
    // from a model fully linear in B(θ_k, Δ_k) (no point farther than geometryFactor·Δ);
    // otherwise (DFO-LS) every successful step is taken.
    const fullyLinear = !geometryBad(w, opts);
    const accepted = rho >= opts.expandRatio || (rho >= opts.acceptRatio && (fullyLinear || !opts.fullyLinearAcceptance));
    const stepLength = normInf(s);
    // Line 12: the trial point joins the set either way.
    const drop = replacementIndex(w, model, s, accepted ? trialPoint : w.points[w.base]);
    w.points[drop] = trialPoint;
    w.values[drop] = trial.value;
    w.tols[drop] = trial.tol;
    w.valueBounds[drop] = Number.isFinite(trial.bound) ? trial.bound : null;
    // Line 11: (33)–(34).
    if (accepted) {
      w.base = drop;
      w.radius = acceptedRadius(opts, rho, w.radius, stepLength);
      if (opts.dynamicAccuracy) w.tol = Math.min(opts.tol0, w.tol * opts.accuracyGrow);
    } else if ((opts.fullyLinearAcceptance && !fullyLinear) || geometryBad(w, opts)) {
      // (34): Δ kept while the model is not fully linear; fix the geometry instead.
      improveGeometry(w, box, sample);
    } else {
      w.radius *= opts.radiusShrink;
    }
    return { accepted, stepLength };
  }
}
