import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { hypergradientBound, adjointErrorBound, valueBound, distanceBound, mulberry32 } from '../src/index.js';
import { makeQuadratic, quadraticOracle } from './quadratic.js';
import * as D from '@bilevel/testing';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('hypergradientBound (formula)', () => {
  const c = { mu: 0.5, lossLipschitz: 2, mixedNorm: 3, hessianLipschitz: 0.7, mixedLipschitz: 0.4, lossThetaLipschitz: 0.1 };

  it('matches the expanded O(ε + δ + ε² + εδ) form', () => {
    const eps = 1e-2;
    const delta = 3e-3;
    const q = 1.7;
    const eq = (delta + (c.lossLipschitz + c.hessianLipschitz * q) * eps) / c.mu;
    expect(adjointErrorBound(c, eps, delta, q)).toBeCloseTo(eq, 14);
    const expanded =
      ((c.mixedNorm * c.lossLipschitz) / c.mu + (c.mixedNorm * c.hessianLipschitz * q) / c.mu + c.mixedLipschitz * q + c.lossThetaLipschitz) * eps +
      (c.mixedNorm / c.mu) * delta +
      ((c.mixedLipschitz * (c.lossLipschitz + c.hessianLipschitz * q)) / c.mu) * eps * eps +
      (c.mixedLipschitz / c.mu) * eps * delta;
    expect(hypergradientBound(c, { eps, delta, adjointNorm: q })).toBeCloseTo(expanded, 12);
  });

  it('a-priori form (from ‖∇ₓℓ‖) dominates the a-posteriori one when ‖q̃‖ ≤ (‖∇ₓℓ‖+δ)/μ', () => {
    const gl = 0.8;
    const qMax = (gl + 1e-3) / c.mu;
    const post = hypergradientBound(c, { eps: 1e-3, delta: 1e-3, adjointNorm: 0.9 * qMax });
    const prior = hypergradientBound(c, { eps: 1e-3, delta: 1e-3, lossGradNorm: gl });
    expect(prior).toBeGreaterThan(post);
  });

  it('is zero at exact solves, and valueBound / distanceBound are the documented formulas', () => {
    expect(hypergradientBound(c, { eps: 0, delta: 0, adjointNorm: 5 })).toBe(0);
    expect(valueBound(2, 1e-2, 4)).toBeCloseTo(0.0202, 15);
    expect(distanceBound(1e-3, 0.5)).toBeCloseTo(2e-3, 15);
  });

  it('rejects bad constants with the function and option named', () => {
    expect(() => hypergradientBound({ ...c, mu: 0 }, { eps: 1, delta: 1, adjointNorm: 1 })).toThrow(/hypergradientBound: option 'constants.mu'/);
    expect(() => hypergradientBound({ ...c, mixedNorm: -1 }, { eps: 1, delta: 1, adjointNorm: 1 })).toThrow(/constants.mixedNorm/);
    expect(() => hypergradientBound(c, { eps: 1, delta: 1 })).toThrow(/adjointNorm.*lossGradNorm/);
    expect(() => valueBound(1, NaN, 1)).toThrow(/valueBound: option 'eps'/);
  });
});

describe('hypergradientBound certifies the true error (quadratic bilevel, float32 solves)', () => {
  it('bound ≥ ‖h − ∇F‖ in every one of 1,000 random trials over ε, δ ∈ [1e-4, 1e-1]', () => {
    const rng = mulberry32(2024);
    const ratios: number[] = [];
    let violations = 0;
    const before = tf.memory().numTensors;
    const trialsPerProblem = 250;
    for (let seed = 1; seed <= 4; seed++) {
      const q = makeQuadratic({ rows: 20, m: 5, p: 3, samples: 1, ridge: 0.1, seed });
      const oracle = quadraticOracle(q, { warm: false });
      for (let t = 0; t < trialsPerProblem; t++) {
        const eps = Math.pow(10, -4 + 3 * rng.next());
        const delta = Math.pow(10, -4 + 3 * rng.next());
        const theta = Array.from({ length: 3 }, () => Math.fround(2 * rng.next() - 1));
        const thetaT = tf.tensor1d(theta);
        // Inner tolerance on ‖∇ₓΦ‖ = ε μ certifies ‖x̃ − x̂‖ ≤ ε.
        const r = oracle({ theta: thetaT }, { tol: eps * q.constants.mu, linearTol: delta });
        const h = Array.from(r.grad!.theta.dataSync());
        const trueError = D.norm(D.sub(h, q.gradF(theta)));
        if (!(r.bound >= trueError)) violations++;
        ratios.push(r.bound / Math.max(trueError, 1e-300));
        r.dispose();
        thetaT.dispose();
      }
      oracle.dispose();
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)];
    console.log(`[bounds] trials=${ratios.length} violations=${violations} median bound/true-error=${median.toFixed(2)} min=${ratios[0].toFixed(2)} p90=${ratios[Math.floor(0.9 * ratios.length)].toFixed(1)}`);
    expect(ratios.length).toBeGreaterThanOrEqual(1000);
    expect(violations).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
