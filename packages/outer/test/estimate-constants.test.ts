// estimateBoundConstants on Φ(x; s) = ½‖x − y‖² + ½eˢ‖x‖², where every constant is known:
// μ = 1 + eˢ, ∇²ₓₓΦ = (1 + eˢ)I does not depend on x (L_H = 0), ∇²_{xθ}Φ = eˢx (B_J = eˢ‖x‖
// at the point it is measured, and the secant of L_J is eˢ|⟨x₁ − x₀, v⟩|/‖x₁ − x₀‖ ≤ eˢ).
import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, defineProblem, lbfgs, seededUnit, type Params } from '@bilevel/core';
import { estimateBoundConstants } from '../src/index.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

type D = { y: tf.Tensor };
const S = Math.log(0.5);
const Y = [0.9, -0.4, 1.3, 0.2, -1.1, 0.7, 0.05, -0.6];
// `init` returns a fresh tensor (solvers dispose their start), as defineProblem asks.
const ridge = (withMu: boolean) => defineProblem<D>({
  name: 'shrinkage',
  energy: (x, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.mul(0.5, tf.exp(th.s)), tf.sum(tf.square(x)))),
  init: (_th, d) => d.y.clone(),
  ...(withMu ? { strongConvexity: (th: Params) => 1 + Math.exp(th.s.dataSync()[0]) } : {}),
});

describe('estimateBoundConstants', () => {
  it('measures μ, B_J, L_H, L_J of an energy whose constants are known, and leaks nothing', () => {
    const theta = { s: tf.scalar(S) };
    const data = { y: tf.tensor1d(Y) };
    const before = tf.memory().numTensors;
    const c = estimateBoundConstants(ridge(true), theta, data, { lossLipschitz: 0.25, safety: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(data.y.isDisposed).toBe(false);
    const e = Math.exp(S);
    const normY = Math.hypot(...Y);
    // float32 throughout: μ is read from a float32 θ (1e-6 relative).
    expect(c.mu).toBeCloseTo(1 + e, 6);
    expect(c.lossLipschitz).toBe(0.25);
    // B_J = eˢ‖x₁‖ with x₁ the L-BFGS solve at relative tol 1e-2: ‖x₁‖ is ‖x̂‖ = ‖y‖/(1 + eˢ)
    // to ~1e-2, and the θ central difference of step 1e-2 adds h²/6 ≈ 2e-5.
    expect(Math.abs(c.mixedNorm - 2 * e * normY / (1 + e)) / (2 * e * normY / (1 + e))).toBeLessThan(2e-2);
    // The Hessian does not depend on x: both HVPs are (1 + eˢ)v, so the secant is 0 exactly.
    expect(c.hessianLipschitz).toBe(0);
    // 0 < L_J ≤ safety·eˢ (a secant along three directions; 1e-5 for float32 norms).
    expect(c.mixedLipschitz).toBeGreaterThan(0);
    expect(c.mixedLipschitz).toBeLessThanOrEqual(2 * e * (1 + 1e-5));
    // safety scales the three heuristic constants only (the power iteration is seeded: same σ).
    const c3 = estimateBoundConstants(ridge(true), theta, data, { lossLipschitz: 0.25, safety: 3 });
    expect(c3.mixedNorm / c.mixedNorm).toBeCloseTo(1.5, 6);
    expect(c3.mixedLipschitz / c.mixedLipschitz).toBeCloseTo(1.5, 6);
    expect(c3.mu).toBe(c.mu);
    tf.dispose([theta.s, data.y]);
  });

  it('takes μ from the option when the energy declares none, and refuses without either', () => {
    const theta = { s: tf.scalar(S) };
    const data = { y: tf.tensor1d(Y) };
    const before = tf.memory().numTensors;
    expect(estimateBoundConstants(ridge(false), theta, data, { lossLipschitz: 1, mu: 1 }).mu).toBe(1);
    expect(() => estimateBoundConstants(ridge(false), theta, data, { lossLipschitz: 1 })).toThrow(/estimateBoundConstants: the energy 'shrinkage' declares no strong convexity .*pass option 'mu'/);
    expect(() => estimateBoundConstants(ridge(true), theta, data, {} as never)).toThrow(/estimateBoundConstants: option 'lossLipschitz' is required/);
    expect(() => estimateBoundConstants(ridge(true), theta, data, { lossLipschitz: 1, saftey: 2 } as never)).toThrow(/saftey.*safety/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([theta.s, data.y]);
  });

  it("L_H is the secant of the Hessian between x₀ = y and x₁, equal to its float64 closed form on a quartic — also when init returns data.y itself", () => {
    // Φ(x; s) = ½‖x − y‖² + (eˢ/4)Σx⁴: ∇²Φ(x) = I + 3eˢ diag(x²), so the secant along v is
    // 3eˢ‖(x₁² − x₀²) ⊙ v‖/‖x₁ − x₀‖, computed here in float64 from the same x₁ (the estimator's L-BFGS
    // solve, deterministic) and the same seeded directions. The old foe-denoise estimator took x₀ = data.y
    // itself, where tfjs's tape (tensors tracked by identity) dropped the data term's I from the HVP at x₀:
    // L_H read 0.35 instead of 0.229. initialPoint hands out a fresh tensor even when init returns data.y,
    // and core's autodiff now differentiates at a fresh handle (core test/autodiff.test.ts), so both inits
    // must give the closed form. float32 HVPs of O(1) entries: 1e-4 relative is ~100× their round-off.
    const s0 = Math.log(0.3);
    const yv = Array.from({ length: 16 }, (_, i) => 1.5 * Math.sin(1.7 * i + 0.4));
    const quartic = (aliased: boolean) => defineProblem<D>({
      name: 'quartic',
      energy: (x, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.div(tf.exp(th.s), 4), tf.sum(tf.pow(x, 4)))),
      init: (_th, d) => (aliased ? d.y : d.y.clone()),
      strongConvexity: 1,
    });
    const theta = { s: tf.scalar(s0) };
    const data = { y: tf.tensor1d(yv) };
    const before = tf.memory().numTensors;
    const x1t = lbfgs().solve(quartic(false), theta, data, { tol: 1e-2, tolMode: 'relative', maxIter: 200 }).x;
    const x1 = Array.from(x1t.dataSync());
    x1t.dispose();
    const e = Math.exp(Math.fround(s0));
    const dist = Math.hypot(...x1.map((v, i) => v - yv[i]));
    let want = 0;
    for (let k = 0; k < 3; k++) {
      const vt = seededUnit([16], 100 + k);
      const v = Array.from(vt.dataSync());
      vt.dispose();
      want = Math.max(want, Math.hypot(...v.map((vi, i) => 3 * e * (x1[i] ** 2 - Math.fround(yv[i]) ** 2) * vi)) / dist);
    }
    for (const aliased of [false, true]) {
      const c = estimateBoundConstants(quartic(aliased), theta, data, { lossLipschitz: 1, safety: 2 });
      expect(Math.abs(c.hessianLipschitz - 2 * want) / (2 * want)).toBeLessThan(1e-4);
    }
    expect(data.y.isDisposed).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([theta.s, data.y]);
  });
});
