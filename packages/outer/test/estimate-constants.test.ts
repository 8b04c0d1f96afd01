// estimateBoundConstants on Φ(x; s) = ½‖x − y‖² + ½eˢ‖x‖², where every constant is known:
// μ = 1 + eˢ, ∇²ₓₓΦ = (1 + eˢ)I does not depend on x (L_H = 0), ∇²_{xθ}Φ = eˢx (B_J = eˢ‖x‖
// at the point it is measured, and the secant of L_J is eˢ|⟨x₁ − x₀, v⟩|/‖x₁ − x₀‖ ≤ eˢ).
import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, defineProblem, type Params } from '@bilevel/core';
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
});
