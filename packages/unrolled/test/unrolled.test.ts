import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend, defineProblem, hvp, mixedProduct, valueAndGradParams, disposeParams, flattenParams, richardson, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { unrolled } from '../src/index.js';
import { makeQuadratic, quadraticTensors, disposeData, relErrNumbers, logCoshProblem, gaussians } from '@bilevel/testing';

/*
 * Tolerances (float32, ~7 significant digits):
 * - Two ways of computing the same float32 quantity (full tape vs checkpointed, forward vs
 *   reverse, exact AD vs Richardson on a quadratic): the operations are the same up to
 *   summation order, so they agree to a few ulps per step; over ≤ 500 steps with a
 *   contraction the accumulated difference stays near 1e-6 relative. We assert 1e-4.
 * - Against the float64 closed form: the float32 solve itself is good to ~1e-6 relative
 *   (κ(H) ≈ 10 here), so at convergence we assert 1e-3 as the issue asks, and check the
 *   error decreases with T.
 * - Central differences with h = 1e-2 on O(1) losses: truncation O(h²) ≈ 1e-4 and
 *   round-off ≈ 1e-7/h = 1e-5 relative, so we assert 2e-3.
 */
const SAME = 1e-4;

function relErr(a: Params, b: Params): number {
  return tf.tidy(() => {
    const fa = flattenParams(a);
    const fb = flattenParams(b);
    return tf.norm(tf.sub(fa, fb)).dataSync()[0] / Math.max(tf.norm(fb).dataSync()[0], 1e-12);
  });
}

describe('unrolled [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  const q = makeQuadratic();
  let t: ReturnType<typeof quadraticTensors>;
  beforeAll(() => {
    t = quadraticTensors(q);
  });
  afterAll(() => {
    disposeData(t.data);
    disposeParams(t.theta);
  });

  it('converges to the exact hypergradient of the bilevel quadratic as T grows (full tape)', () => {
    const exact = q.exact(q.theta0);
    const errors: number[] = [];
    for (const steps of [10, 50, 200]) {
      const r = unrolled({ steps }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, tol: 1e-4 });
      errors.push(relErrNumbers(r.grad.theta.dataSync(), exact.grad));
      expect(r.work.innerIterations).toBe(steps);
      expect(r.work.hvps).toBe(steps);
      if (steps === 200) {
        expect(r.converged).toBe(true);
        expect(Math.abs(r.value - exact.value) / exact.value).toBeLessThan(1e-4);
      }
      r.dispose();
    }
    console.log(`unrolled GD vs exact (κ = ${(q.L / q.mu).toFixed(1)}): T=10 ${errors[0].toExponential(2)}, T=50 ${errors[1].toExponential(2)}, T=200 ${errors[2].toExponential(2)}`);
    expect(errors[1]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(errors[1]);
    expect(errors[2]).toBeLessThan(1e-3);
  });

  it('checkpointed reverse mode and forward mode give the full-tape gradient', () => {
    const steps = 60;
    const full = unrolled({ steps }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    for (const memory of [{ checkpoint: 'sqrt' as const }, { checkpointEvery: 7 }, { checkpointEvery: 1 }]) {
      const r = unrolled({ steps, memory }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
      expect(relErr(r.grad, full.grad)).toBeLessThan(SAME);
      expect(Math.abs(r.value - full.value)).toBeLessThan(1e-5 * Math.abs(full.value));
      expect(r.work.innerIterations).toBe(2 * steps); // one extra forward sweep
      r.dispose();
    }
    const fwd = unrolled({ steps, mode: 'forward' }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    expect(relErr(fwd.grad, full.grad)).toBeLessThan(SAME);
    expect(fwd.work.jvps).toBe(q.p * steps);
    fwd.dispose();
    // Forward mode also converges to the exact hypergradient.
    const fwdLong = unrolled({ steps: 200, mode: 'forward' }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    const e = relErrNumbers(fwdLong.grad.theta.dataSync(), q.exact(q.theta0).grad);
    console.log(`forward mode T=200 vs exact: ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-3);
    fwdLong.dispose();
    full.dispose();
  });

  it('truncated backprop differentiates only the last K steps', () => {
    const steps = 50;
    const K = 10;
    const strategy = unrolled({ steps, truncate: K });
    const r = strategy.compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    // Same as K full-tape steps from x_{T−K} taken as a constant x0.
    const head = unrolled({ steps: steps - K }).solve({ problem: t.problem, theta: t.theta, data: t.data });
    const ref = unrolled({ steps: K }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, x0: head.x });
    expect(relErr(r.grad, ref.grad)).toBeLessThan(SAME);
    const ck = unrolled({ steps, truncate: K, memory: { checkpointEvery: 3 } }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    expect(relErr(ck.grad, ref.grad)).toBeLessThan(SAME);
    const fw = unrolled({ steps, truncate: K, mode: 'forward' }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    expect(relErr(fw.grad, ref.grad)).toBeLessThan(SAME);
    // And it differs from the full gradient (the test can tell them apart).
    const full = unrolled({ steps }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    expect(relErr(r.grad, full.grad)).toBeGreaterThan(1e-2);
    for (const x of [r, ref, ck, fw, full]) x.dispose();
    head.x.dispose();
  });

  it('equivalence theorem (Ehrhardt & Roberts 2024): inexact AD = T Richardson steps on ∇²Φ(x_T) q = ∇ₓℓ(x_T) from q₀ = 0; on a quadratic also = reverse-mode AD', () => {
    /*
     * Seed 002: inexact AD runs the reverse recursion with all second derivatives at x_T,
     *   x̃_T = ∇f(x_T), h ← h − s(∂²_{xθ}g(x_T))ᵀ x̃_{k+1}, x̃_k = x̃_{k+1} − s ∂²_{xx}g(x_T) x̃_{k+1},
     * and this equals K steps of GD (Richardson) with step s on ∂²_{xx}g(x_T) q = ∇f(x_T)
     * from q₀ = 0, returning −(∂²_{xθ}g(x_T))ᵀ q_K. On the quadratic the second derivatives do
     * not depend on x, so reverse-mode AD through the GD steps (the full tape) is inexact AD
     * and therefore equals the Richardson/IFT formula step for step. We check both.
     * Tolerance 1e-4: identical arithmetic up to summation order over ≤ 20 steps (~1e-6
     * seen); an off-by-one in T would differ by ‖(I − sH)^T‖ ≳ 0.3 relative here.
     */
    const cases = [
      { name: 'quadratic', problem: t.problem, loss: t.loss, data: t.data as unknown, theta: t.theta, s: 1 / q.L, x0: tf.tensor1d(gaussians(q.n, 3)) },
    ];
    const lc = logCoshProblem(16, 5);
    cases.push({ name: 'log-cosh', problem: lc.problem as never, loss: lc.loss as never, data: lc.data, theta: lc.theta, s: 0.5, x0: lc.data.y.clone() });
    const maxDev: Record<string, { inexactVsRichardson: number; adVsRichardson: number }> = {};
    for (const c of cases) {
      const energy = (x: tf.Tensor, th: Params) => c.problem.energy(x, th, c.data as never);
      let devIR = 0;
      let devAR = 0;
      for (let T = 1; T <= 20; T++) {
        const ad = unrolled({ steps: T, stepSize: c.s }).compute({ problem: c.problem, theta: c.theta, data: c.data as never, loss: c.loss, x0: c.x0 });
        const xT = ad.x;
        const gl = valueAndGradParams((p) => c.loss(p.x, p, c.data as never), { ...c.theta, x: xT });
        const b = gl.grad.x;
        // (1) inexact AD, literally as in Ehrhardt & Roberts 2024.
        let xt = b.clone();
        let h: tf.Tensor = tf.tidy(() => tf.zerosLike(flattenParams(c.theta)));
        for (let k = 0; k < T; k++) {
          const m = mixedProduct(energy, xT, c.theta, xt);
          const hNew = tf.tidy(() => tf.sub(h, tf.mul(c.s, flattenParams(m))));
          disposeParams(m);
          h.dispose();
          h = hNew;
          const hv = hvp((z) => energy(z, c.theta), xT, xt);
          const xtNew = tf.tidy(() => tf.sub(xt, tf.mul(c.s, hv)));
          hv.dispose();
          xt.dispose();
          xt = xtNew;
        }
        xt.dispose();
        // (2) IFT with core's richardson: T steps q ← q + s(b − Hq) from q₀ = 0 (tol 0 forces all T).
        const solved = richardson({ step: c.s }).solve((v) => hvp((z) => energy(z, c.theta), xT, v), b, { tol: 0, tolMode: 'absolute', maxIter: T });
        expect(solved.iterations).toBe(T);
        const qk = solved.x;
        const mq = mixedProduct(energy, xT, c.theta, qk);
        const direct = tf.tidy(() => flattenParams(Object.fromEntries(Object.keys(c.theta).map((k) => [k, gl.grad[k]]))));
        const ift = tf.tidy(() => tf.sub(direct, flattenParams(mq)));
        const inexact = tf.tidy(() => tf.add(direct, h));
        const adFlat = flattenParams(ad.grad);
        const rel = (a: tf.Tensor, r: tf.Tensor) => tf.tidy(() => tf.norm(tf.sub(a, r)).dataSync()[0] / tf.norm(r).dataSync()[0]);
        devIR = Math.max(devIR, rel(inexact, ift));
        const dAR = rel(adFlat, ift);
        if (c.name === 'quadratic') devAR = Math.max(devAR, dAR);
        else devAR = Math.max(devAR, dAR); // reported only: exact AD ≠ inexact AD off quadratics
        for (const x of [h, qk, ift, inexact, adFlat, direct]) x.dispose();
        disposeParams(mq);
        disposeParams(gl.grad);
        gl.value.dispose();
        ad.dispose();
      }
      maxDev[c.name] = { inexactVsRichardson: devIR, adVsRichardson: devAR };
      expect(devIR).toBeLessThan(SAME);
      if (c.name === 'quadratic') expect(devAR).toBeLessThan(SAME);
      c.x0.dispose();
    }
    console.log('equivalence theorem, max relative deviation over T = 1..20:', JSON.stringify(maxDev));
    disposeData(lc.data);
    disposeParams(lc.theta);
  });

  it('finite differences: exact gradient of the unrolled map on a log-cosh energy (gd, heavy-ball, nesterov, θ-dependent step)', () => {
    const lc = logCoshProblem(12, 11);
    const stepOf = (th: Params) => tf.mul(0.4, tf.exp(th.logStep)) as tf.Scalar;
    const theta: Params = { ...lc.theta, logStep: tf.scalar(-0.2) };
    const direction: Params = {
      alpha: tf.scalar(0.7),
      c: tf.tensor1d(gaussians(12, 21)),
      logStep: tf.scalar(-0.5),
    };
    const h = 1e-2;
    for (const method of ['gd', 'heavy-ball', 'nesterov'] as const) {
      const strategy = unrolled({ steps: 25, stepSize: stepOf, method, momentum: 0.5 });
      const r = strategy.compute({ problem: lc.problem, theta, data: lc.data, loss: lc.loss });
      const lossAt = (sign: number) => {
        const th: Params = {};
        for (const k of Object.keys(theta)) th[k] = tf.add(theta[k], tf.mul(sign * h, direction[k]));
        const { x } = strategy.solve({ problem: lc.problem, theta: th, data: lc.data });
        const v = tf.tidy(() => lc.loss(x, th, lc.data).dataSync()[0]);
        x.dispose();
        disposeParams(th);
        return v;
      };
      const fd = (lossAt(1) - lossAt(-1)) / (2 * h);
      const analytic = tf.tidy(() => tf.sum(tf.mul(flattenParams(r.grad), flattenParams(direction))).dataSync()[0]);
      const ck = unrolled({ steps: 25, stepSize: stepOf, method, momentum: 0.5, memory: { checkpoint: 'sqrt' } }).compute({ problem: lc.problem, theta, data: lc.data, loss: lc.loss });
      console.log(`${method}: directional derivative ${analytic.toFixed(6)} vs FD ${fd.toFixed(6)}`);
      expect(Math.abs(analytic - fd) / Math.abs(fd)).toBeLessThan(2e-3);
      expect(relErr(ck.grad, r.grad)).toBeLessThan(SAME);
      r.dispose();
      ck.dispose();
    }
    disposeParams(direction);
    theta.logStep.dispose();
    disposeData(lc.data);
    disposeParams(lc.theta);
  });

  it('checkpointing T = 500 steps needs less peak memory than the full tape (tf.profile peakBytes), same gradient', async () => {
    // A cheap separable energy ½Σ wᵢ(xᵢ − yᵢ)² (θ = w) keeps the 500 nested-gradient steps fast.
    const n = 2000;
    const lc = {
      problem: defineProblem<{ y: tf.Tensor; target: tf.Tensor }>({
        energy: (x, th, d) => tf.mul(0.5, tf.sum(tf.mul(th.w, tf.square(tf.sub(x, d.y))))),
        init: (_th, d) => tf.zerosLike(d.y),
      }),
      loss: (x: tf.Tensor, _th: Params, d: { target: tf.Tensor }) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.target)))),
      data: { y: tf.tensor1d(gaussians(n, 31)), target: tf.tensor1d(gaussians(n, 32)) },
      theta: { w: tf.tensor1d(gaussians(n, 33).map((v) => 1 + 0.3 * Math.tanh(v))) } as Params,
    };
    const steps = 500;
    /*
     * tf.profile records numBytes after every kernel and reports the maximum, but computes it
     * as Math.max(...kernels), which overflows the call stack past ~100k kernels (T = 500
     * nested-gradient steps run more). Every energy evaluation (one per step) therefore folds
     * the kernel log recorded so far into one entry holding its maximum snapshot: the same
     * peak, none of the samples dropped.
     */
    const energy = lc.problem.energy;
    const problem = {
      ...lc.problem,
      energy: (x: tf.Tensor, th: Params, d: typeof lc.data) => {
        const profile = (tf.engine().state as unknown as { activeProfile: { kernels: Array<{ totalBytesSnapshot: number }> }; profiling: boolean });
        const kernels = profile.activeProfile.kernels;
        if (profile.profiling && kernels.length > 1000) {
          let peak = 0;
          for (const k of kernels) peak = Math.max(peak, k.totalBytesSnapshot);
          const folded = { ...kernels[0], totalBytesSnapshot: peak };
          kernels.length = 0;
          kernels.push(folded);
        }
        return energy(x, th, d);
      },
    };
    const run = async (memory: 'full' | { checkpoint: 'sqrt' }) => {
      const strategy = unrolled({ steps, stepSize: 0.5, memory });
      let result!: ReturnType<typeof strategy.compute>;
      const info = await tf.profile(() => {
        result = strategy.compute({ problem, theta: lc.theta, data: lc.data, loss: lc.loss });
      });
      return { result, peak: info.peakBytes - 0 };
    };
    const base = tf.memory().numBytes;
    const full = await run('full');
    const ck = await run({ checkpoint: 'sqrt' });
    console.log(
      `T = 500, n = ${n}: peak bytes full tape ${(full.peak - base).toLocaleString()} (+ ${base.toLocaleString()} resident), ` +
        `checkpointed (every ${Math.ceil(Math.sqrt(steps))}) ${(ck.peak - base).toLocaleString()}; ratio ${((full.peak - base) / (ck.peak - base)).toFixed(1)}`,
    );
    expect(ck.peak).toBeLessThan(full.peak);
    expect((full.peak - base) / (ck.peak - base)).toBeGreaterThan(5);
    expect(relErr(ck.result.grad, full.result.grad)).toBeLessThan(SAME);
    full.result.dispose();
    ck.result.dispose();
    disposeData(lc.data);
    disposeParams(lc.theta);
  });

  it('plugs into hypergradient() and backs argmin-style VJPs (solve + vjpSolution = full-tape gradient)', () => {
    const strategy = unrolled({ steps: 300, memory: { checkpoint: 'sqrt' } });
    const r = hypergradient({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, strategy, tol: 1e-4 });
    expect(r.converged).toBe(true);
    expect(relErrNumbers(r.grad.theta.dataSync(), q.exact(q.theta0).grad)).toBeLessThan(1e-3);
    // vjpSolution with cotangent ∇ₓℓ(x_T) reproduces the hypergradient (ℓ has no direct θ term).
    const { x } = strategy.solve({ problem: t.problem, theta: t.theta, data: t.data });
    const gx = tf.grad((z: tf.Tensor) => t.loss(z, t.theta, t.data))(x);
    const vj = strategy.vjpSolution({ problem: t.problem, theta: t.theta, data: t.data, x, cotangent: gx });
    expect(relErr(vj.grad, r.grad)).toBeLessThan(SAME);
    for (const z of [x, gx]) z.dispose();
    disposeParams(vj.grad);
    r.dispose();
  });

  it('reports non-convergence, errors on bad options, leaks no tensors', () => {
    const r = unrolled({ steps: 3 }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, tol: 1e-6 });
    expect(r.converged).toBe(false);
    expect(r.status).toBe('forward-not-converged');
    expect(r.message).toMatch(/increase 'steps'/);
    r.dispose();
    expect(() => unrolled({ steps: 0 })).toThrow(/unrolled: option 'steps' must be a positive integer/);
    expect(() => unrolled({ stepSize: -1 })).toThrow(/unrolled: option 'stepSize'/);
    expect(() => unrolled({ method: 'adam' as never })).toThrow(/option 'method' must be one of/);
    expect(() => unrolled({ memory: { checkpointEvery: 0 } })).toThrow(/option 'memory'/);
    expect(() => unrolled({ steps: 5, truncate: 9 })).toThrow(/'truncate' \(9\) exceeds 'steps' \(5\)/);
    expect(() => unrolled({ momentum: 1 })).toThrow(/'momentum' must be < 1/);
    expect(() => unrolled({ step: 3 } as never)).toThrow(/unknown option 'step'/);
    const noL = { ...t.problem, lipschitz: () => undefined };
    expect(() => unrolled({ steps: 2 }).compute({ problem: noL, theta: t.theta, data: t.data, loss: t.loss })).toThrow(/pass options.stepSize/);

    for (const options of [{ steps: 5 }, { steps: 5, memory: { checkpointEvery: 2 } }, { steps: 5, mode: 'forward' as const }, { steps: 5, method: 'nesterov' as const, truncate: 3 }]) {
      const strategy = unrolled({ ...options, warmStart: true });
      const once = strategy.compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
      once.dispose();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) {
        strategy.compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss }).dispose();
        const v = tf.tensor1d(gaussians(q.n, i));
        const vj = strategy.vjpSolution({ problem: t.problem, theta: t.theta, data: t.data, x: v, cotangent: v });
        disposeParams(vj.grad);
        v.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      strategy.reset();
    }
  });
});

describe('unrolled [cpu smoke]', () => {
  it('runs on the cpu backend and matches forward mode', async () => {
    await initBackend({ backend: 'cpu', log: false });
    const q = makeQuadratic(4, 2, 0.5, 3);
    const t = quadraticTensors(q);
    const r = unrolled({ steps: 8, memory: { checkpointEvery: 3 } }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    const f = unrolled({ steps: 8, mode: 'forward' }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
    expect(relErr(r.grad, f.grad)).toBeLessThan(SAME);
    r.dispose();
    f.dispose();
    disposeData(t.data);
    disposeParams(t.theta);
  });
});
