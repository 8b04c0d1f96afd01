import { it, expect, describe, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, lbfgs, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { maid, train } from '@bilevel/outer';
import { randn, relErr } from '@bilevel/testing/vitest';
import { convexNetwork, convexNetworkSaddle, reconstructionProblem, radon, ctPhantoms, smoothedRelu, scaledOperator, ICNN_MAID_OPTIONS } from '../src/index.js';
import type { LinearOperator } from '../src/index.js';

/*
 * The ICNN (Bogensperger et al. 2024, eqs. (32)–(33)) and FoE ((34)–(35)) lower levels in saddle
 * form: PDHG's solution against the primal optimum of the energy form (L-BFGS), and piggyback
 * hypergradients against central differences, on a small sparse-view CT problem.
 */
beforeAll(async () => {
  await initBackend();
});

const n = 12;
/** Â = A/‖A‖ (‖A‖ by power iteration, ×1.01): the data block of K then has norm ≈ 1, like V and W. */
function normalisedRadon(size = n, angles = 8): { op: LinearOperator; dispose: () => void } {
  const A = radon(size, { angles });
  let s = 1;
  tf.tidy(() => {
    let v = randn([1, size, size, 1], 1);
    for (let i = 0; i < 60; i++) {
      const u = A.adjoint(A.apply(v));
      s = Math.sqrt(tf.norm(u).dataSync()[0] / tf.norm(v).dataSync()[0]);
      v = tf.div(u, tf.norm(u));
    }
  });
  const c = 1.01 * s;
  const op: LinearOperator = {
    name: 'Â', inShape: [size, size, 1], normBound: 1,
    apply: (x) => tf.tidy(() => tf.div(A.apply(x), c)),
    adjoint: (y) => tf.tidy(() => tf.div(A.adjoint(y), c)),
    dispose: () => A.dispose(),
  };
  return { op, dispose: () => A.dispose() };
}

// w = 0.2 (the paper's 0.01 makes F's pieces too narrow for central differences, see below)
type CtData = { y: tf.Tensor; t: tf.Tensor };
const network = { channels: 4, outChannels: 2, size: 3, gamma: 0.05, scale: 0.5, seed: 1, smoothing: 0.2 };

function ctData(op: LinearOperator) {
  const { train, test, sheppLogan } = ctPhantoms({ size: n, count: 1, testCount: 0, seed: 3 });
  tf.dispose([test, sheppLogan]);
  const y = tf.tidy(() => tf.add(op.apply(train), tf.mul(randn(op.apply(train).shape, 5), 0.01)));
  return { t: train, y };
}

describe('convexNetworkSaddle: PDHG solution = primal optimum, piggyback = finite differences', () => {
  for (const layers of [2, 1] as const) {
    it(`${layers === 2 ? 'ICNN (33)' : 'FoE (35)'}: the PDHG x minimises (32)/(34) (stationary, equal to L-BFGS's optimum${layers === 2 ? ', z = ψ_w(Vx)' : ''})`, () => {
      const before = tf.memory().numTensors;
      const { op, dispose } = normalisedRadon();
      const data = ctData(op);
      const mu = 0.05;
      const saddle = convexNetworkSaddle<CtData>({ ...network, layers, operator: op, mu, zWeight: 0, dualSmoothing: 0 });
      const strategy = piggyback({ warmStart: false });
      const t0 = performance.now();
      const r = strategy.solve({ problem: saddle.problem as never, theta: saddle.theta, data, tol: 1e-6, maxIter: 20000 });
      const ms = performance.now() - t0;
      // the primal (32) with z eliminated: ½‖Âx − y‖² + (μ/2)‖x‖² + γΣψ(Wψ(Vx)), by L-BFGS to ‖∇Φ‖ ≤ 1e-6
      const energy = reconstructionProblem(convexNetwork({ ...network, layers }), { operator: op, xi: mu });
      const x = saddle.image(r.x);
      const ref = lbfgs().solve(energy.problem, saddle.theta, { y: data.y }, { tol: 1e-6, maxIter: 2000 });
      const g0 = tf.tidy(() => energy.problem.gradient(tf.zerosLike(x), saddle.theta, { y: data.y }));
      const g = energy.problem.gradient(x, saddle.theta, { y: data.y });
      const stationarity = tf.tidy(() => tf.div(tf.norm(g), tf.norm(g0)).dataSync()[0]);
      const distance = relErr(x, ref.x);
      let gap = 0;
      if (layers === 2) {
        gap = tf.tidy(() => {
          const z = tf.slice(r.x, [0, 0, 0, 1], [-1, -1, -1, network.channels]);
          const psiVx = smoothedRelu(tf.conv2d(x as tf.Tensor4D, saddle.theta.V as tf.Tensor4D, 1, 'same'), network.smoothing);
          return tf.div(tf.norm(tf.sub(z, psiVx)), tf.norm(psiVx)).dataSync()[0];
        });
      }
      console.log(`${layers} layers: PDHG ${r.work.innerIterations} iterations (${ms.toFixed(0)} ms, ${r.converged}); ‖∇Φ(x_PDHG)‖/‖∇Φ(0)‖ = ${stationarity.toExponential(2)}; ‖x_PDHG − x_LBFGS‖/‖x‖ = ${distance.toExponential(2)}; ‖z − ψ(Vx)‖/‖ψ(Vx)‖ = ${gap.toExponential(2)}`);
      expect(r.converged).toBe(true);
      // residual 1e-6 on an O(1) problem with μ = 0.05: x within ~1e-4 of x̂; float32 floor ~1e-6
      expect(stationarity).toBeLessThan(1e-3);
      expect(distance).toBeLessThan(1e-3);
      if (layers === 2) expect(gap).toBeLessThan(1e-3);
      tf.dispose([r.x, x, ref.x, g0, g, data.t, data.y]);
      energy.dispose();
      disposeParams(saddle.theta);
      strategy.dispose();
      dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    it(`${layers === 2 ? 'ICNN' : 'FoE'}: piggyback hypergradient ⟨∇F, d⟩ matches central differences of F; the certified bound is finite`, () => {
      const before = tf.memory().numTensors;
      const { op, dispose } = normalisedRadon();
      const data = ctData(op);
      const saddle = convexNetworkSaddle<CtData>({ ...network, layers, operator: op, mu: 0.05, zWeight: 0.05, dualSmoothing: 0.05 });
      const loss = (u: tf.Tensor, _th: Params, d: { t: tf.Tensor }) => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(saddle.image(u), d.t)))));
      const strategy = piggyback({ tol: 1e-6, linearTol: 1e-6, maxIter: 20000, linearMaxIter: 20000, lossLipschitz: 1, lossWeight: 0.05, warmStart: false });
      const res = hypergradient({ problem: saddle.problem, theta: saddle.theta, data, loss, strategy });
      const dir: Params = {};
      for (const [k, t] of Object.entries(saddle.theta)) dir[k] = randn(t.shape, 40 + k.length);
      const F = (h: number) => {
        const th: Params = {};
        for (const k of Object.keys(saddle.theta)) th[k] = tf.tidy(() => tf.add(saddle.theta[k], tf.mul(dir[k], h)));
        const r = strategy.solve({ problem: saddle.problem as never, theta: th, data, tol: 1e-6, maxIter: 20000 });
        const v = tf.tidy(() => loss(r.x, th, data).dataSync()[0]);
        r.x.dispose();
        disposeParams(th);
        return v;
      };
      // F is only piecewise C² (ψ_w'' jumps at 0 and w, and the prox maps clip), so h must keep
      // (almost) every response on its piece; w = 0.2 here makes the pieces wide. Measured (wasm): FD
      // 0.10370 / 0.10424 / 0.10482 / 0.10729 at h = 1e-2 / 3e-3 / 1e-3 / 1e-4 (ICNN; piggyback 0.10496)
      // and 0.4096 / 0.33528 / 0.33730 / 0.33736 (FoE; piggyback 0.33854): at h = 1e-3 the pieces hold
      // and the float32 loss (rounding ~1e-7 of F ≈ 0.5, solves to residual 1e-6) resolves ~1e-3.
      const h = 1e-3;
      const fd = (F(h) - F(-h)) / (2 * h);
      let analytic = 0;
      for (const k of Object.keys(dir)) analytic += tf.tidy(() => tf.sum(tf.mul(res.grad[k], dir[k])).dataSync()[0]);
      const gradNorm = Math.sqrt(Object.values(res.grad).reduce((s, t) => s + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]), 0));
      console.log(`${layers} layers: piggyback ⟨∇F, d⟩ = ${analytic.toExponential(5)}, FD ${fd.toExponential(5)}; ${res.work.innerIterations} PDHG + ${res.work.linearIterations} adjoint iterations; bound ${res.bound?.toExponential(2)} vs ‖∇F‖ ${gradNorm.toExponential(2)}`);
      expect(Math.abs(analytic - fd)).toBeLessThan(1e-2 * Math.abs(fd));
      expect(Number.isFinite(res.bound)).toBe(true);
      expect(res.bound!).toBeGreaterThan(0);
      res.dispose();
      disposeParams(dir);
      tf.dispose([data.t, data.y]);
      disposeParams(saddle.theta);
      strategy.dispose();
      dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const layers of [1, 2] as const) {
    it(`${layers === 2 ? 'ICNN' : 'FoE'} with option 'anchor' x₀: PDHG (constant and diagonal steps on Â = scaledOperator(A, 1/‖A‖)) is stationary for ½‖Âx − y‖² + (μ/2)‖x − x₀‖² + R(x)`, () => {
      const before = tf.memory().numTensors;
      const { op, dispose } = normalisedRadon();
      const A = radon(n, { angles: 8 });
      // the same Â as op (1/c from op's scale), now with absoluteSums for the diagonal steps
      const c = tf.tidy(() => tf.norm(A.apply(tf.ones([1, n, n, 1]))).dataSync()[0] / tf.norm(op.apply(tf.ones([1, n, n, 1]))).dataSync()[0]);
      const Ahat = scaledOperator(A, 1 / c, { normBound: 1 });
      const data = ctData(Ahat);
      // x₀: a rough estimate of the phantom (the FBP's role in the CT example), far from 0
      const x0 = tf.tidy(() => tf.add(tf.mul(data.t, 0.8), 0.1));
      const withAnchor = { ...data, x0 };
      const mu = 0.05;
      const saddle = convexNetworkSaddle<typeof withAnchor>({ ...network, layers, operator: Ahat, mu, zWeight: 0, dualSmoothing: 0, anchor: (d) => d.x0 });
      const energy = reconstructionProblem(convexNetwork({ ...network, layers }), { operator: Ahat, xi: mu });
      // ∇ of the anchored energy = ∇ of the unanchored one (ξ = μ) − μx₀
      const grad = (x: tf.Tensor) => tf.tidy(() => tf.sub(energy.problem.gradient(x, saddle.theta, { y: data.y }), tf.mul(x0, mu)));
      const g0 = tf.tidy(() => grad(tf.zerosLike(x0)));
      const lines: string[] = [];
      for (const precondition of [false, 'diagonal'] as const) {
        const strategy = piggyback({ warmStart: false, precondition });
        const r = strategy.solve({ problem: saddle.problem as never, theta: saddle.theta, data: withAnchor, tol: 1e-6, maxIter: 20000 });
        const x = saddle.image(r.x);
        const g = grad(x);
        const stationarity = tf.tidy(() => tf.div(tf.norm(g), tf.norm(g0)).dataSync()[0]);
        lines.push(`${precondition || 'constant'}: ${r.work.innerIterations} PDHG iterations, ‖∇Φ(x)‖/‖∇Φ(0)‖ = ${stationarity.toExponential(2)}`);
        expect(r.converged).toBe(true);
        // as the unanchored test above: residual 1e-6, μ = 0.05, float32 floor ~1e-6
        expect(stationarity).toBeLessThan(1e-3);
        tf.dispose([r.x, x, g]);
        strategy.dispose();
      }
      console.log(`${layers} layers, anchored: ${lines.join('; ')}`);
      // the unanchored solution is not stationary for the anchored energy (the option does something)
      const plain = convexNetworkSaddle<CtData>({ ...network, layers, operator: Ahat, mu, zWeight: 0, dualSmoothing: 0 });
      const strategy = piggyback({ warmStart: false });
      const r = strategy.solve({ problem: plain.problem as never, theta: plain.theta, data, tol: 1e-6, maxIter: 20000 });
      const off = tf.tidy(() => { const x = plain.image(r.x); return tf.div(tf.norm(grad(x)), tf.norm(g0)).dataSync()[0]; });
      expect(off).toBeGreaterThan(1e-2);
      expect(() => convexNetworkSaddle({ operator: Ahat, anchr: (d: CtData) => d.t } as never)).toThrow(/convexNetworkSaddle.*anchr.*anchor/);
      expect(() => convexNetworkSaddle({ operator: Ahat, anchor: x0 } as never)).toThrow(/convexNetworkSaddle: option 'anchor'.*\(data\) =>/);
      const bad = convexNetworkSaddle<CtData>({ ...network, layers, operator: Ahat, anchor: () => 1 as never });
      expect(() => strategy.solve({ problem: bad.problem as never, theta: bad.theta, data, tol: 1e-3, maxIter: 5 })).toThrow(/option 'anchor' must return a tf.Tensor/);
      tf.dispose([r.x, g0, data.t, data.y, x0]);
      disposeParams(saddle.theta);
      disposeParams(plain.theta);
      disposeParams(bad.theta);
      energy.dispose();
      strategy.dispose();
      A.dispose();
      dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('errors name the function, the option and the fix', () => {
    const { op, dispose } = normalisedRadon();
    expect(() => convexNetworkSaddle({ operator: { ...op, inShape: undefined } })).toThrow(/convexNetworkSaddle: option 'operator' must be a LinearOperator with inShape/);
    expect(() => convexNetworkSaddle({ operator: op, zWeight: -1 })).toThrow(/convexNetworkSaddle: option 'zWeight' must be ≥ 0/);
    expect(() => convexNetworkSaddle({ operator: op, smothing: 1 } as never)).toThrow(/smoothing/);
    dispose();
  });
});

describe('convexNetworkSaddle trained by MAID over certified piggyback (Algorithm 3)', () => {
  it('ICNN on small sparse-view CT: the accurately re-evaluated F decreases, with the paper\'s ICNN settings ν̲ 0.5, ν̄ 1.05, ρ̲ 0.1, ρ̄ 1.1', async () => {
    const before = tf.memory().numTensors;
    const { op, dispose } = normalisedRadon(8, 6);
    const { train: t, test, sheppLogan } = ctPhantoms({ size: 8, count: 1, testCount: 0, seed: 5 });
    tf.dispose([test, sheppLogan]);
    const y = tf.tidy(() => tf.add(op.apply(t), tf.mul(randn(op.apply(t).shape, 6), 0.01)));
    const data = { y, t };
    // moduli 0.2 (μ_g, ε_z, ε₂; w/γ = 1): the certified bound scales like 1/min modulus, and CI has seconds
    const mu = 0.2;
    const saddle = convexNetworkSaddle<CtData>({ ...network, smoothing: 0.05, layers: 2, operator: op, mu, zWeight: mu, dualSmoothing: mu });
    const loss = (u: tf.Tensor, _th: Params, d: { t: tf.Tensor }) => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(saddle.image(u), d.t)))));
    const accurate = (th: Params) => {
      const s = piggyback({ warmStart: false });
      const r = s.solve({ problem: saddle.problem as never, theta: th, data, tol: 1e-6, maxIter: 20000 });
      const v = tf.tidy(() => loss(r.x, th, data).dataSync()[0]);
      r.x.dispose();
      s.dispose();
      return v;
    };
    const F0 = accurate(saddle.theta);
    const strategy = piggyback({ lossLipschitz: 1, lossWeight: mu });
    const events: Array<{ loss: number; bound: number; eps: number; accepted: boolean }> = [];
    const t0 = performance.now();
    const result = await train({
      method: maid({ ...ICNN_MAID_OPTIONS, tol0: 1e-2, step0: 0.05 }),
      problem: saddle.problem, strategy, data, loss, theta0: saddle.theta,
      budget: { iterations: 3 },
      onProgress: (e) => events.push({ loss: e.loss, bound: e.bound, eps: e.eps, accepted: e.accepted }),
    });
    const ms = performance.now() - t0;
    const F1 = accurate(result.theta);
    console.log(`MAID ICNN: F ${F0.toExponential(4)} → ${F1.toExponential(4)} in ${events.length} iterations (${(ms / 1000).toFixed(1)} s), work ${result.work.innerIterations} PDHG + ${result.work.linearIterations} adjoint; ε ${events.map((e) => e.eps.toExponential(1)).join(' ')}; bound ${events.map((e) => e.bound.toExponential(1)).join(' ')}; ${result.status}: ${result.message}`);
    expect(events.length).toBeGreaterThan(0);
    expect(events.some((e) => e.accepted)).toBe(true);
    expect(events.every((e) => Number.isFinite(e.bound))).toBe(true);
    // accurate F (solves to residual 1e-6: |ΔF| ≲ 1e-6 here) strictly below its start
    expect(F1).toBeLessThan(F0 - 1e-4);
    disposeParams(result.theta);
    strategy.dispose();
    disposeParams(saddle.theta);
    tf.dispose([y, t]);
    dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
