// The heuristic L_H that `--method maid` runs on (estimateBoundConstants of @bilevel/outer, printed as
// "heuristic bound constants {…}") against a reference that shares no second-order code with it: the
// secant ‖(H(x₁) − H(x₀))v‖/‖x₁ − x₀‖ with each H v a central difference of the problem's gradient.
// Before, the example's estimate read the HVP at x₀ = data.y itself, where tfjs's identity-tracked tape
// dropped the data term's I from H(x₀)v: L_H read 0.350 (TV) / 0.359 (FoE) at the default settings where
// this secant gives 0.229 / 0.254 (README, "MAID and its (heuristic) constants").
import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, lbfgs, seededUnit, readScalar } from '@bilevel/core';
import type { Problem, Params } from '@bilevel/core';
import { estimateBoundConstants } from '@bilevel/outer';
import { tvDenoisingProblem, fieldsOfExperts, reconstructionProblem, lowFrequencyDctFilters } from '@bilevel/imaging';
import { sampleImages } from '@bilevel/imaging/node';
import { tileDataset } from '../src/data.js';

type D = { y: tf.Tensor; clean: tf.Tensor };

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/** safety · max over the estimator's three seeded directions of the secant, H v by central differences of ∇Φ. */
function fdSecant(problem: Problem<D>, theta: Params, data: D, safety: number): number {
  const x0 = problem.initialPoint(theta, data);
  const x1 = lbfgs().solve(problem, theta, data, { tol: 1e-2, tolMode: 'relative', maxIter: 200 }).x;
  // step 1e-2: truncation h²‖∇³Φ‖ and round-off 1e-7‖∇Φ‖/h both ≲ 1e-3 of ‖Hv‖ ≈ 2–3 here (measured
  // 6e-4 and 1e-3 at the default size), against ‖ΔH v‖ ≈ 1.6: about 1e-3 relative on the secant.
  const h = 1e-2;
  const hv = (x: tf.Tensor, v: tf.Tensor) => tf.tidy(() => tf.div(tf.sub(problem.gradient(tf.add(x, tf.mul(h, v)), theta, data), problem.gradient(tf.sub(x, tf.mul(h, v)), theta, data)), 2 * h));
  const dist = readScalar(tf.tidy(() => tf.norm(tf.sub(x1, x0))));
  let lh = 0;
  for (let k = 0; k < 3; k++) {
    const v = seededUnit(x0.shape, 100 + k);
    lh = Math.max(lh, readScalar(tf.tidy(() => tf.norm(tf.sub(hv(x1, v), hv(x0, v))))) / dist);
    v.dispose();
  }
  tf.dispose([x0, x1]);
  return safety * lh;
}

describe('foe-denoise: heuristic bound constants', () => {
  it('L_H equals the gradient-difference secant for TV and FoE, with x₀ the noisy input', () => {
    const all = sampleImages() as Record<string, string>;
    const ds = tileDataset([all.astronaut, all.camera], 24, 4, 2, 0.1, 0);
    const data: D = { y: ds.train.noisy, clean: ds.train.clean };
    const before = tf.memory().numTensors;
    const tv = tvDenoisingProblem({ alpha: 0.05, nu: 0.05, learnNu: true });
    const filters = lowFrequencyDctFilters(5, 6);
    const foe = reconstructionProblem(fieldsOfExperts({ filters, alpha: Math.exp(-6), nu: 0.1, padding: 'symmetric' }));
    filters.dispose();
    for (const [name, model] of [['TV', tv], ['FoE', foe]] as const) {
      const problem = model.problem as unknown as Problem<D>;
      const c = estimateBoundConstants(problem, model.theta, data, { mu: 1, lossLipschitz: 1 / 4, safety: 2, seed: 0 });
      const want = fdSecant(problem, model.theta, data, 2);
      console.log(`${name}: L_H ${c.hessianLipschitz.toPrecision(6)}, gradient-difference secant ${want.toPrecision(6)} (relative difference ${(Math.abs(c.hessianLipschitz - want) / want).toExponential(1)})`);
      expect(Math.abs(c.hessianLipschitz - want) / want).toBeLessThan(1e-2);
    }
    tv.dispose();
    foe.dispose();
    expect(tf.memory().numTensors).toBe(before);
    ds.dispose();
  });
});
