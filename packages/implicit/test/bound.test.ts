import { describe, it, expect } from 'vitest';
import { mulberry32Uniform as rng } from '@bilevel/testing';
import { implicitErrorBound, hypergradientBound, adjointErrorBound } from '../src/index.js';

/**
 * Scalar non-quadratic bilevel problem with every constant known exactly (float64):
 * Φ(x; θ) = ½cx² + a·cos x − θx − bθ·sin x   (Φ'' = c − a cos x ≥ μ = c − a, L_H = a,
 * ∂²Φ/∂x∂θ = −1 − b cos x, L_J = b), ℓ(x, θ) = ½(x − y)² + κθx (L_{∇ℓ} = 1, L_θ = |κ|).
 */
function scalarProblem(c: number, a: number, b: number, kappa: number, y: number) {
  const phiX = (x: number, th: number) => c * x - a * Math.sin(x) - th - b * th * Math.cos(x);
  const A = (x: number) => c - a * Math.cos(x);
  const B = (x: number) => -1 - b * Math.cos(x);
  const lossX = (x: number, th: number) => x - y + kappa * th;
  const lossTh = (x: number) => kappa * x;
  const solve = (th: number) => {
    let lo = -1e3;
    let hi = 1e3;
    for (let k = 0; k < 200; k++) {
      const mid = 0.5 * (lo + hi);
      if (phiX(mid, th) > 0) hi = mid;
      else lo = mid;
    }
    return 0.5 * (lo + hi);
  };
  return { mu: c - a, A, B, phiX, lossX, lossTh, solve, constants: { lossLipschitz: 1, hessianLipschitz: a, mixedLipschitz: b, lossThetaLipschitz: Math.abs(kappa) } };
}

describe('hypergradientBound (the one implementation, re-exported by @bilevel/outer)', () => {
  it('implicitErrorBound is hypergradientBound with ‖q̃‖ and ‖∇ₓℓ‖; lossThetaLipschitz defaults to 0', () => {
    const constants = { lossLipschitz: 2, hessianLipschitz: 0.7, mixedLipschitz: 0.4, mixedNorm: 3 };
    const r = implicitErrorBound({ epsilon: 1e-2, delta: 3e-3, mu: 0.5, adjointNorm: 1.7, lossGradNorm: 0.8, constants });
    expect(r.missing).toEqual([]);
    expect(r.bound).toBe(hypergradientBound({ ...constants, mu: 0.5 }, { eps: 1e-2, delta: 3e-3, adjointNorm: 1.7, lossGradNorm: 0.8 }));
    const withTheta = implicitErrorBound({ epsilon: 1e-2, delta: 3e-3, mu: 0.5, adjointNorm: 1.7, lossGradNorm: 0.8, constants: { ...constants, lossThetaLipschitz: 0.1 } });
    expect(withTheta.bound! - r.bound!).toBeCloseTo(0.1 * 1e-2, 14);
    expect(() => implicitErrorBound({ epsilon: 1, delta: 1, mu: 1, adjointNorm: 1, lossGradNorm: 1, constants: { ...constants, lossThetaLipschitz: -1 } })).toThrow(
      /implicitErrorBound: constant 'lossThetaLipschitz'/,
    );
  });

  it('a diverged solve (non-finite ε or norms) gives an infinite / NaN bound, not an exception', () => {
    const constants = { lossLipschitz: 1, hessianLipschitz: 0, mixedLipschitz: 0, mixedNorm: 1 };
    const inf = implicitErrorBound({ epsilon: Infinity, delta: 1e-3, mu: 1, adjointNorm: 1, lossGradNorm: 1, constants });
    expect(inf.bound).toBe(Infinity);
    expect(inf.valueBound).toBe(Infinity);
    const nan = implicitErrorBound({ epsilon: 1e-3, delta: 1e-3, mu: 1, adjointNorm: NaN, lossGradNorm: 1, constants });
    expect(nan.bound).toBeNaN();
    expect(nan.valueBound).toBeCloseTo(1e-3 + 0.5e-6, 15);
  });

  it('the ‖∇ₓℓ‖-based ‖q*‖ bound only tightens: never above the ‖q̃‖-only (expanded) form', () => {
    const next = rng(7);
    for (let t = 0; t < 500; t++) {
      const c = { mu: 0.1 + next(), lossLipschitz: 3 * next(), mixedNorm: 3 * next(), hessianLipschitz: 2 * next(), mixedLipschitz: 2 * next(), lossThetaLipschitz: next() };
      const eps = Math.pow(10, -5 + 5 * next());
      const delta = Math.pow(10, -5 + 5 * next());
      const adjointNorm = 5 * next();
      const lossGradNorm = 5 * next();
      const post = hypergradientBound(c, { eps, delta, adjointNorm });
      const both = hypergradientBound(c, { eps, delta, adjointNorm, lossGradNorm });
      expect(both).toBeLessThanOrEqual(post);
      const eq = adjointErrorBound(c, eps, delta, adjointNorm);
      expect(post).toBeCloseTo(c.mixedNorm * eq + c.mixedLipschitz * eps * (adjointNorm + eq) + c.lossThetaLipschitz * eps, 12);
    }
  });

  it('certifies the true error on a non-quadratic scalar problem (L_H, L_J, L_θ > 0), 2,000 trials, every input form', () => {
    const next = rng(2024);
    let violations = 0;
    const ratios: number[] = [];
    for (let t = 0; t < 2000; t++) {
      const cc = 1 + 2 * next();
      const p = scalarProblem(cc, 0.9 * cc * next(), 2 * next(), 2 * next() - 1, 4 * next() - 2);
      const th = 4 * next() - 2;
      const xHat = p.solve(th);
      const qStar = p.lossX(xHat, th) / p.A(xHat);
      const gradF = p.lossTh(xHat) - p.B(xHat) * qStar;
      const xT = xHat + (next() < 0.5 ? -1 : 1) * Math.pow(10, -6 + 5 * next());
      const delta = Math.pow(10, -6 + 5 * next());
      const r = (next() < 0.5 ? -1 : 1) * delta;
      const qT = (p.lossX(xT, th) + r) / p.A(xT);
      const h = p.lossTh(xT) - p.B(xT) * qT;
      const err = Math.abs(h - gradF);
      const eps = Math.abs(p.phiX(xT, th)) / p.mu;
      const constants = { ...p.constants, mu: p.mu, mixedNorm: Math.abs(p.B(xT)) };
      const lossGradNorm = Math.abs(p.lossX(xT, th));
      const forms = [
        hypergradientBound(constants, { eps, delta, adjointNorm: Math.abs(qT) }),
        hypergradientBound(constants, { eps, delta, adjointNorm: Math.abs(qT), lossGradNorm }),
        hypergradientBound(constants, { eps, delta, lossGradNorm }),
        implicitErrorBound({ epsilon: eps, delta, mu: p.mu, adjointNorm: Math.abs(qT), lossGradNorm, constants }).bound!,
      ];
      // Float64 round-off of err is ~1e-15 relative to |h|; the bound is ≥ ε-size terms ≥ 1e-7.
      for (const b of forms) if (!(b * (1 + 1e-9) + 1e-14 >= err)) violations++;
      ratios.push(forms[1] / Math.max(err, 1e-300));
    }
    ratios.sort((x, y) => x - y);
    console.log(`[implicit bound] scalar non-quadratic: violations=${violations} median bound/true-error=${ratios[1000].toFixed(2)}`);
    expect(violations).toBe(0);
  });
});
