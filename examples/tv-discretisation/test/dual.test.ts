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
});
