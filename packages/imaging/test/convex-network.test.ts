import { it, expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { expectDerivativesMatchAutodiff } from './helpers.js';
import {
  convexNetwork, reconstructionProblem, smoothedRelu, smoothedReluDerivative, smoothedReluConjugate, proxSmoothedReluConjugate,
  projectEpigraph, proxEpigraphConjugate,
} from '../src/index.js';

/*
 * ψ_w (Bogensperger et al. 2024, eq. (31)), its conjugate and the proximal maps of the dualised ICNN
 * (33) / FoE (35), then the analytic derivatives of the energy form against autodiff.
 */
const w = 0.01;
const psi = (t: number) => (t <= 0 ? 0 : t < w ? (t * t) / (2 * w) : t - w / 2);
const arr = (t: tf.Tensor) => Array.from(t.dataSync());
/** Values of a tensor made in `fn`, which is disposed. */
const values = (fn: () => tf.Tensor) => {
  const t = tf.tidy(fn);
  const out = arr(t);
  t.dispose();
  return out;
};
/** Spread over all pieces of ψ_w: below 0, inside (0, w), beyond w. */
const spread = (n: number, seed: number) => tf.tidy(() => tf.mul(randn([n], seed), 3 * w));

describeEachBackend('imaging: ψ_w, its conjugate and the prox maps of the ICNN saddle', () => {
  it('Fenchel–Young holds with equality at s = ψ′(t): ψ(t) + ψ*(ψ′(t)) = tψ′(t); ψ* = ∞ off [0, 1]', () => {
    const before = tf.memory().numTensors;
    const t = spread(200, 1);
    const [lhs, rhs, outside] = tf.tidy(() => {
      const s = smoothedReluDerivative(t, w);
      return [tf.add(smoothedRelu(t, w), smoothedReluConjugate(s, w)), tf.mul(t, s), smoothedReluConjugate(tf.tensor([-0.1, 1.1]), w)];
    });
    // values ≤ 0.1: 1e-7 absolute is a few float32 ulp
    arr(lhs).forEach((v, i) => expect(Math.abs(v - arr(rhs)[i])).toBeLessThan(1e-7));
    expect(arr(outside)).toEqual([Infinity, Infinity]);
    // and the value matches the closed form (31)
    const tv = arr(t);
    values(() => smoothedRelu(t, w)).forEach((v, i) => expect(Math.abs(v - psi(tv[i]))).toBeLessThan(1e-7));
    tf.dispose([t, lhs, rhs, outside]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Moreau: prox_{σ(γψ)*}(v) + σ prox_{(γ/σ)ψ}(v/σ) = v, with the prox of (γ/σ)ψ in closed form', () => {
    const before = tf.memory().numTensors;
    for (const [sigma, gamma] of [[0.5, 1], [2, 0.3], [0.05, 2]]) {
      const v = tf.tidy(() => tf.mul(randn([300], 2), 2 * gamma));
      const dual = values(() => proxSmoothedReluConjugate(v, sigma, gamma, w));
      // prox_{cψ}(x): x for x ≤ 0; x/(1 + c/w) when that is in (0, w); x − c when that is ≥ w
      const c = gamma / sigma;
      const proxPsi = (x: number) => (x <= 0 ? x : x / (1 + c / w) < w ? x / (1 + c / w) : x - c);
      arr(v).forEach((vi, i) => {
        const primal = proxPsi(vi / sigma);
        // |v| ≤ ~8: float32 rounding of the two terms ~1e-6
        expect(Math.abs(dual[i] + sigma * primal - vi)).toBeLessThan(2e-6 * Math.max(1, Math.abs(vi)));
      });
      v.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('projectEpigraph is the projection onto C = {ψ_w(p) ≤ q}: in C, idempotent, equal to a dense float64 search, variational inequality', () => {
    const before = tf.memory().numTensors;
    const p = spread(400, 3);
    const q = tf.tidy(() => tf.mul(randn([400], 4), 2 * w));
    const [ps, qs] = projectEpigraph(p, q, w);
    const [pp, qq] = projectEpigraph(ps, qs, w);
    const P = arr(ps), Q = arr(qs), p0 = arr(p), q0 = arr(q);
    for (let i = 0; i < P.length; i++) {
      // in C (float32: 1e-8 on values ≤ 0.1)
      expect(psi(P[i])).toBeLessThanOrEqual(Q[i] + 1e-8);
      // closest point of the graph (or the point itself) by a coarse-to-fine search in doubles
      let arg = p0[i];
      if (psi(p0[i]) > q0[i]) {
        const search = (lo: number, hi: number, step: number) => {
          let best = Infinity;
          for (let t = lo; t <= hi; t += step) {
            const d = (t - p0[i]) ** 2 + (psi(t) - q0[i]) ** 2;
            if (d < best) { best = d; arg = t; }
          }
        };
        search(p0[i] - 0.2, p0[i] + 0.2, 1e-4);
        search(arg - 2e-4, arg + 2e-4, 1e-7);
      }
      // final grid step 1e-7; the projection's float32 Newton root ~1e-9 at |p| ≤ 0.1
      expect(Math.abs(P[i] - arg)).toBeLessThan(1e-6);
      // variational inequality ⟨(p, q) − P, c − P⟩ ≤ 0 for c on the graph
      for (const t of [-0.02, 0, 0.003, 0.008, 0.02, 0.05]) {
        const vi = (p0[i] - P[i]) * (t - P[i]) + (q0[i] - Q[i]) * (psi(t) - Q[i]);
        expect(vi).toBeLessThan(1e-9);
      }
    }
    expect(relErr(pp, ps)).toBeLessThan(1e-6);
    expect(relErr(qq, qs)).toBeLessThan(1e-6);
    tf.dispose([p, q, ps, qs, pp, qq]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('autodiff of projectEpigraph (Cardano + a Newton step) matches central differences of the projection', () => {
    const before = tf.memory().numTensors;
    const p = spread(100, 5);
    const q = tf.tidy(() => tf.mul(randn([100], 6), w));
    const dp = randn([100], 7);
    const dq = randn([100], 8);
    const ca = randn([100], 9);
    const cb = randn([100], 10);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const [x, y] = projectEpigraph(a, b, w);
      return tf.add(tf.sum(tf.mul(x, ca)), tf.sum(tf.mul(y, cb)));
    };
    const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b))([p, q]);
    const analytic = tf.tidy(() => tf.add(tf.sum(tf.mul(ga, dp)), tf.sum(tf.mul(gb, dq))).dataSync()[0]);
    // h = 1e-5 ≪ w: few points cross a kink; the projection is piecewise smooth
    const h = 1e-5;
    const fd = tf.tidy(() => (f(tf.add(p, tf.mul(dp, h)), tf.add(q, tf.mul(dq, h))).dataSync()[0] - f(tf.sub(p, tf.mul(dp, h)), tf.sub(q, tf.mul(dq, h))).dataSync()[0]) / (2 * h));
    // float32 differences of O(1) sums at h = 1e-5: ~1e-2 relative resolution
    expect(Math.abs(analytic - fd)).toBeLessThan(3e-2 * Math.abs(fd));
    tf.dispose([p, q, dp, dq, ca, cb, ga, gb]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prox of f₂* (+ (ε/2)‖·‖²): (v − (1 + σε)y)/σ lies in C and maximises ⟨y, ·⟩ over C (y ∈ ∂ of its support function)', () => {
    const before = tf.memory().numTensors;
    for (const [sigma, eps] of [[0.7, 0], [0.2, 0.5], [3, 1e-3]]) {
      const a = tf.tidy(() => tf.mul(randn([200], 11), 0.05));
      const b = tf.tidy(() => tf.mul(randn([200], 12), 0.05));
      const [ya, yb] = proxEpigraphConjugate(a, b, sigma, w, eps);
      const A = arr(a), B = arr(b), Ya = arr(ya), Yb = arr(yb);
      for (let i = 0; i < A.length; i++) {
        const cp = (A[i] - (1 + sigma * eps) * Ya[i]) / sigma;
        const cq = (B[i] - (1 + sigma * eps) * Yb[i]) / sigma;
        expect(psi(cp)).toBeLessThanOrEqual(cq + 1e-6);
        for (const t of [-0.05, 0, 0.004, 0.01, 0.03, 0.1]) expect(Ya[i] * (t - cp) + Yb[i] * (psi(t) + 0.01 - cq)).toBeLessThan(1e-7);
      }
      tf.dispose([a, b, ya, yb]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

/*
 * Energy form against autodiff of the same energy: both are float32 evaluations of the same sums
 * (≤ 25·16 products per entry, then 25·16 again through W), so 1e-4 relative is far above
 * rounding and far below any formula error.
 */
const TOL = 1e-4;

describeEachBackend('imaging: convexNetwork (ICNN / FoE energy form) analytic derivatives', () => {
  for (const layers of [1, 2] as const) {
    it(`${layers} layer${layers > 1 ? 's' : ''}: gradient, value, HVP and mixed product match autodiff; verify accepts them`, () => {
      const options = { layers, channels: 4, outChannels: 2, size: 3, scale: 0.5, seed: 3 };
      const { keys, supplied } = expectDerivativesMatchAutodiff(
        () => [reconstructionProblem(convexNetwork(options), { xi: 0.01, verify: true }), reconstructionProblem(convexNetwork(options), { xi: 0.01, derivatives: false })],
        [2, 9, 8, 1],
        TOL,
      );
      expect(supplied[0]).toEqual({ gradient: true, hessian: true, mixed: true });
      expect(keys).toEqual(layers === 2 ? ['V', 'omega'] : ['V']);
    });
  }

  it('convex by construction: midpoint convexity holds after arbitrary (even negative) updates of omega', () => {
    const before = tf.memory().numTensors;
    const R = convexNetwork({ layers: 2, channels: 4, outChannels: 2, size: 3, scale: 1 });
    const theta0 = R.init();
    const theta: Params = { V: tf.tidy(() => tf.mul(randn(theta0.V.shape, 20), 2)), omega: tf.tidy(() => tf.mul(randn(theta0.omega.shape, 21), 5)) };
    for (let trial = 0; trial < 20; trial++) {
      const [gap] = tf.tidy(() => {
        const a = tf.mul(randn([1, 8, 8, 1], 30 + trial), 0.2);
        const b = tf.mul(randn([1, 8, 8, 1], 60 + trial), 0.2);
        const mid = R.value(tf.div(tf.add(a, b), 2), theta);
        return [tf.sub(tf.div(tf.add(R.value(a, theta), R.value(b, theta)), 2), mid).dataSync()[0]];
      });
      // values O(1): float32 round-off of the three sums ~1e-6
      expect(gap).toBeGreaterThan(-1e-5);
    }
    disposeParams(theta0);
    disposeParams(theta);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('errors name the function, the option and the fix', () => {
    expect(() => convexNetwork({ size: 4 })).toThrow(/convexNetwork: option 'size' must be odd/);
    expect(() => convexNetwork({ gamma: -1 })).toThrow(/convexNetwork.*gamma/);
    expect(() => convexNetwork({ chanels: 3 } as never)).toThrow(/channels/);
  });
});
