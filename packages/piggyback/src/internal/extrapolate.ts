import { tf, valueAndGradParams, keysOf } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import type { SaddleBoundConstants } from '../bound.js';
import { contractionEstimate, estimatedSaddleBound, stepFloor, type ContractionEstimate } from '../estimate.js';

/** What {@link extrapolatedEstimate} reads (none consumed). */
export interface ExtrapolationInputs {
  /** x̃, ỹ and the PDHG iterate the last step started from. */
  x: tf.Tensor;
  z: tf.Tensor;
  xPrev: tf.Tensor;
  zPrev: tf.Tensor;
  /** X̃, Ỹ and their last adjoint step. */
  X: tf.Tensor;
  Y: tf.Tensor;
  dX: tf.Tensor;
  dY: tf.Tensor;
  /** Step-norm histories (one entry per iteration, whole problem) of PDHG and of the adjoint. */
  forwardSteps: number[][];
  adjointSteps: number[][];
  /** ∇ℓ₁(x̃), shaped like x̃. */
  lossGrad: tf.Tensor;
}

/** The estimated bound and the rates it came from. */
export interface Extrapolated {
  bound: number;
  valueBound: number;
  forward: ContractionEstimate;
  adjoint: ContractionEstimate;
}

/**
 * The estimated hypergradient bound of `estimatedSaddleBound`: contraction rates from the step
 * norms, errors extrapolated along the last steps (Δ = step/(1 − ρ̂)), and the first-order part of
 * z − ∇F evaluated with them by one θ-gradient of `⟨K(θ)ΔX, ỹ⟩ + ⟨K(θ)x̃, ΔY⟩` and one of
 * `⟨K(θ)(X̃ − ΔX), Δy⟩ + ⟨K(θ)Δx, Ỹ − ΔY⟩` (θ enters K only, which `operatorDerivativeNorm` declares).
 *
 * @returns the estimate, or undefined when no rate < 1 was measured.
 */
export function extrapolatedEstimate<D>(problem: SaddleProblem<D>, theta: Params, data: D, t: ExtrapolationInputs, c: SaddleBoundConstants): Extrapolated | undefined {
  // steps at the float32 floor of the iterates' norms are rounding noise, not a rate (contractionEstimate)
  const norms = tf.tidy(() => tf.stack([tf.sqrt(tf.add(tf.sum(tf.square(t.x)), tf.sum(tf.square(t.z)))), tf.sqrt(tf.add(tf.sum(tf.square(t.X)), tf.sum(tf.square(t.Y))))]));
  const [forwardNorm, adjointNorm] = norms.dataSync();
  norms.dispose();
  const forward = contractionEstimate(t.forwardSteps.map((r) => r[0]), 10, stepFloor(forwardNorm));
  const adjoint = contractionEstimate(t.adjointSteps.map((r) => r[0]), 10, stepFloor(adjointNorm));
  if (forward == null || adjoint == null) return undefined;
  const ff = 1 / (1 - forward.rate);
  const fa = 1 / (1 - adjoint.rate);
  const read = tf.tidy(() => {
    const dx = tf.mul(tf.sub(t.x, t.xPrev), ff);
    const dy = tf.mul(tf.sub(t.z, t.zPrev), ff);
    const dX = tf.mul(t.dX, fa);
    const dY = tf.mul(t.dY, fa);
    const gradOf = (f: (th: Params) => tf.Scalar) => {
      const { value, grad } = valueAndGradParams(f, theta);
      value.dispose();
      return keysOf(grad).map((k) => tf.reshape(grad[k], [-1]));
    };
    const ga = gradOf((th) => tf.add(tf.sum(tf.mul(problem.apply(dX, th, data), t.z)), tf.sum(tf.mul(problem.apply(t.x, th, data), dY))));
    // the forward part with the second-order terms: B(X̃ − ΔX, Δy) + B(Δx, Ỹ − ΔY)
    const XmdX = tf.sub(t.X, dX);
    const YmdY = tf.sub(t.Y, dY);
    const gf = gradOf((th) => tf.add(tf.sum(tf.mul(problem.apply(XmdX, th, data), dy)), tf.sum(tf.mul(problem.apply(dx, th, data), YmdY))));
    const a = tf.concat(ga);
    const total = tf.add(a, tf.concat(gf));
    return tf.stack([tf.norm(total), tf.norm(a), tf.sqrt(tf.add(tf.sum(tf.square(dX)), tf.sum(tf.square(dY)))), tf.norm(t.X), tf.norm(t.Y), tf.norm(dx), tf.norm(dy), tf.abs(tf.sum(tf.mul(t.lossGrad, dx)))]);
  });
  const [correctionNorm, adjointPart, adjointStep, adjointPrimalNorm, adjointDualNorm, primalError, dualError, lossGradInner] = read.dataSync();
  read.dispose();
  const lossWeight = c.lossWeight ?? c.weightFloor;
  const e = estimatedSaddleBound(
    { weightFloor: c.weightFloor, lossWeight, hessianLipschitz: c.hessianLipschitz, dualHessianLipschitz: c.dualHessianLipschitz, lossLipschitz: c.lossLipschitz * lossWeight, operatorDerivativeNorm: c.operatorDerivativeNorm },
    { correctionNorm, adjointGain: adjointStep > 0 ? adjointPart / adjointStep : 0, primalError, dualError, adjointPrimalNorm, adjointDualNorm, lossGradInner },
  );
  return { bound: e.bound, valueBound: e.valueBound, forward, adjoint };
}
