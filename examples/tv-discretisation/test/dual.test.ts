import { it, expect, beforeAll, describe } from 'vitest';
import { tf, initBackend, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { dualLearnedTV, dualIdentityStencils, imageOf } from '../src/dual.js';
import type { DenoisingPair } from '../src/discretisation.js';

beforeAll(async () => {
  await initBackend();
});

describe('dual-side learned TV (eqs. (27)–(29))', () => {
  it('piggyback hypergradient matches central differences in log λ and a stencil tap; the certified bound covers the difference', () => {
    const before = tf.memory().numTensors;
    const n = 10;
    const clean = tf.tidy(() => tf.reshape(tf.tensor1d(Array.from({ length: n * n }, (_, k) => ((k % n) >= n / 2 ? 0.8 : 0.2) + (Math.floor(k / n) >= n / 2 ? 0.1 : 0))), [1, n, n, 1]));
    const noisy = tf.tidy(() => tf.add(clean, tf.mul(tf.randomNormal([1, n, n, 1], 0, 1, 'float32', 3), 0.1)));
    const data: DenoisingPair = { y: noisy, clean };
    const problem = dualLearnedTV({ filters: 2, epsilonQ: 0.01, epsilonY: 0.01 });
    const loss = (u: tf.Tensor, _th: Params, d: DenoisingPair) => tf.mul(0.5, tf.sum(tf.square(tf.sub(imageOf(u), d.clean))));
    const theta = { stencils: dualIdentityStencils(3, 2, 0.1), logLambda: tf.scalar(Math.log(0.3)) };
    const strategy = piggyback({ lossLipschitz: 1, lossWeight: 1, tol: 1e-6, linearTol: 1e-6, maxIter: 20000, linearMaxIter: 20000 });
    const r = hypergradient({ problem, theta, data, loss, strategy });
    const valueAt = (th: Params) => {
      const s = piggyback({ tol: 1e-6, maxIter: 20000, warmStart: false });
      const out = s.solve({ problem: problem as never, theta: th, data, tol: 1e-6, maxIter: 20000 });
      const v = tf.tidy(() => loss(out.x, th, data).dataSync()[0]);
      out.x.dispose();
      s.dispose();
      return v;
    };
    const h = 1e-2;
    const TAP = ((1 * 3 + 1) * 2 + 0) * 4 + 0; // centre tap, y₁ → pair 0's first channel (an active pair)
    const made: tf.Tensor[] = [];
    const own = <T extends tf.Tensor>(t: T): T => (made.push(t), t);
    const fdLambda = (valueAt({ ...theta, logLambda: own(tf.scalar(Math.log(0.3) + h)) }) - valueAt({ ...theta, logLambda: own(tf.scalar(Math.log(0.3) - h)) })) / (2 * h);
    const tap = (delta: number) => own(tf.tidy(() => tf.add(theta.stencils, tf.mul(tf.oneHot(tf.tensor1d([TAP], 'int32'), 3 * 3 * 2 * 4).reshape([3, 3, 2, 4]), delta))));
    const fdTap = (valueAt({ ...theta, stencils: tap(h) }) - valueAt({ ...theta, stencils: tap(-h) })) / (2 * h);
    const gLambda = r.grad.logLambda.dataSync()[0];
    const gTap = r.grad.stencils.dataSync()[TAP];
    console.log(`dual TV: d/dlogλ piggyback ${gLambda.toExponential(4)} vs FD ${fdLambda.toExponential(4)}; tap ${gTap.toExponential(4)} vs FD ${fdTap.toExponential(4)}; bound ${r.bound?.toExponential(2)}; ${r.work.innerIterations} + ${r.work.linearIterations} its`);
    // FD with h = 1e-2 on float32 solves to 1e-6: truncation O(h²)·F''' plus 1e-6/h round-off ≈ 1e-4 relative to |g| ~ 1e-2 … 1e-1.
    expect(Math.abs(gLambda - fdLambda)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fdLambda)) + 0.02 * Math.abs(fdLambda));
    expect(Math.abs(gTap)).toBeGreaterThan(1e-3);
    expect(Math.abs(gTap - fdTap)).toBeLessThan(2e-3 + 0.02 * Math.abs(fdTap));
    expect(r.bound).toBeDefined();
    r.dispose();
    strategy.dispose();
    tf.dispose([theta.stencils, theta.logLambda, noisy, clean, ...made]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("certificate: 'estimated' on the TV-like model: ≥ the true error and 10²–10⁴× below the certificate (1/√ε_q, worst-case c_K)", () => {
    const before = tf.memory().numTensors;
    const n = 10;
    const clean = tf.tidy(() => tf.reshape(tf.tensor1d(Array.from({ length: 2 * n * n }, (_, k) => (((k % n) >= n / 2 ? 0.8 : 0.2) + (Math.floor(k / n) % n >= n / 3 ? 0.1 : 0)))), [2, n, n, 1]));
    const noisy = tf.tidy(() => tf.add(clean, tf.mul(tf.randomNormal([2, n, n, 1], 0, 1, 'float32', 5), 0.1)));
    const data: DenoisingPair = { y: noisy, clean };
    const problem = dualLearnedTV({ filters: 2, epsilonQ: 0.003, epsilonY: 0.003 });
    const loss = (u: tf.Tensor, _th: Params, d: DenoisingPair) => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(imageOf(u), d.clean)))), 2);
    const theta = { stencils: dualIdentityStencils(3, 2), logLambda: tf.scalar(Math.log(0.05)) };
    const flat = (g: Params) => [...g.stencils.dataSync(), ...g.logLambda.dataSync()];
    const refStrategy = piggyback({ warmStart: false, tol: 1e-6, linearTol: 1e-6, maxIter: 40000, linearMaxIter: 40000 });
    const ref = hypergradient({ problem, theta, data, loss, strategy: refStrategy });
    const exact = flat(ref.grad);
    for (const tol of [1e-2, 1e-3]) {
      const strategy = piggyback({ warmStart: false, lossLipschitz: 0.5, lossWeight: 1, certificate: 'estimated', tol, linearTol: tol, maxIter: 40000, linearMaxIter: 40000 });
      const r = hypergradient({ problem, theta, data, loss, strategy });
      const err = Math.hypot(...flat(r.grad).map((v, i) => v - exact[i]));
      const certified = Number(/; certified ‖z − ∇F‖ ≤ ([0-9.e+-]+)/.exec(r.message)![1]);
      console.log(`dual TV tol ${tol}: error ${err.toExponential(2)}, estimated ${r.bound!.toExponential(2)} (ratio ${(r.bound! / err).toFixed(2)}), certified ${certified.toExponential(2)} (ratio ${(certified / err).toExponential(2)}), ${r.work.innerIterations} + ${r.work.linearIterations} its`);
      // the reference at 1e-6 is ≥ 100× tighter than tol, so err is the error of r up to ~1 %
      expect(r.bound!).toBeGreaterThanOrEqual(err);
      expect(certified).toBeGreaterThanOrEqual(err);
      expect(certified / r.bound!).toBeGreaterThan(100);
      r.dispose();
      strategy.dispose();
    }
    ref.dispose();
    refStrategy.dispose();
    tf.dispose([theta.stencils, theta.logLambda, noisy, clean]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("precondition: absoluteSums are the row / column sums of |𝒦|^p of the dense operator; the diagonal proxes equal the scalar ones at constant steps; 'diagonal' gives the constant-step hypergradient", () => {
    const before = tf.memory().numTensors;
    const [h, w, n] = [5, 4, 2];
    const channels = 1 + 2 * n;
    const problem = dualLearnedTV({ filters: n, epsilonQ: 0.05, epsilonY: 0.05 }); // moduli 0.05: PDHG converges in a few hundred steps
    const theta = { stencils: dualIdentityStencils(3, n, 0.3, 7), logLambda: tf.scalar(Math.log(0.3)) };
    const y = tf.tidy(() => tf.randomUniform([1, h, w, 1], 0, 1, 'float32', 11));
    const data: DenoisingPair = { y, clean: y };
    // The dense 𝒦: column j = 𝒦 e_j, all unit vectors as one batch.
    const m = h * w * channels;
    const columns = tf.tidy(() => tf.reshape(problem.apply(tf.reshape(tf.eye(m), [m, h, w, channels]), theta, data), [m, h * w * 2]).arraySync() as number[][]);
    for (const alpha of [1, 0.5]) {
      const sums = tf.tidy(() => problem.absoluteSums!(alpha, theta, data));
      const dual = sums.dual.dataSync();
      const primal = sums.primal.dataSync();
      tf.dispose([sums.primal, sums.dual]);
      let worst = 0;
      for (let i = 0; i < h * w * 2; i++) worst = Math.max(worst, Math.abs(dual[i] - columns.reduce((acc, col) => acc + Math.abs(col[i]) ** alpha, 0)));
      const column = columns.map((col) => col.reduce((acc, v) => acc + Math.abs(v) ** (2 - alpha), 0));
      for (let j = 0; j < m; j++) {
        const c = j % channels;
        // q's two-vector groups (channels 1 + 2k, 2 + 2k) share their larger sum
        const expected = c === 0 ? column[j] : Math.max(column[j - ((c - 1) % 2)], column[j - ((c - 1) % 2) + 1]);
        worst = Math.max(worst, Math.abs(primal[j] - expected));
      }
      // float32 sums of ≤ 2 + 2n·9 terms of size ≤ 1
      expect(worst).toBeLessThan(1e-5);
    }
    const u = tf.tidy(() => tf.randomNormal([1, h, w, channels], 0, 0.3, 'float32', 13));
    const z = tf.tidy(() => tf.randomNormal([1, h, w, 2], 0, 0.3, 'float32', 17));
    const gap = tf.tidy(() => [
      tf.max(tf.abs(tf.sub(problem.proxGDiagonal!(u, tf.fill([1, h, w, channels], 0.7), theta, data), problem.proxG(u, 0.7, theta, data)))).dataSync()[0],
      tf.max(tf.abs(tf.sub(problem.proxFStarDiagonal!(z, tf.fill([1, h, w, 2], 0.7), theta, data), problem.proxFStar(z, 0.7, theta, data)))).dataSync()[0],
    ]);
    expect(Math.max(...gap)).toBeLessThan(1e-6);
    const loss = (x: tf.Tensor, _th: Params, d: DenoisingPair) => tf.mul(0.5, tf.sum(tf.square(tf.sub(imageOf(x), tf.mul(d.clean, 0.9)))));
    const grads = [false, 'diagonal'].map((precondition) => {
      const strategy = piggyback({ precondition: precondition as false | 'diagonal', tol: 1e-5, linearTol: 1e-5, maxIter: 20000, linearMaxIter: 20000 });
      const r = hypergradient({ problem, theta, data, loss, strategy });
      const g = [...r.grad.stencils.dataSync(), ...r.grad.logLambda.dataSync()];
      console.log(`dual TV precondition ${precondition}: ${r.work.innerIterations} + ${r.work.linearIterations} its, ${r.status}`);
      expect(r.status).toBe('converged');
      r.dispose();
      strategy.dispose();
      return g;
    });
    const rel = Math.hypot(...grads[1].map((v, i) => v - grads[0][i])) / Math.hypot(...grads[0]);
    // both solve to residual 1e-5 (float32); the two hypergradients are the same ∇F(θ) up to that accuracy
    expect(rel).toBeLessThan(1e-2);
    tf.dispose([theta.stencils, theta.logLambda, y, u, z]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
