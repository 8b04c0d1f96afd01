import { it, expect, describe, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { convexNetworkSaddle, radon, scaledOperator, ctPhantoms } from '@bilevel/imaging';
import { piggyback } from '@bilevel/piggyback';
import { meanScaled, meanUnscaled, withFilterMeanScale } from '../src/filter-mean.js';

/*
 * `--netMeanScale c` (filter-mean.ts): MAID's variable φ with V = Pφ, P = identity on zero-mean filters and c on
 * each filter's mean. It is a change of variables, so the piggyback hypergradient in φ is P times the one in V at
 * V = Pφ (the chain rule through the wrapped K), and c = 0 leaves only zero-mean directions.
 */
beforeAll(async () => {
  await initBackend();
});

const rel = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0] / tf.norm(b).dataSync()[0]);
const means = (t: tf.Tensor) => tf.tidy(() => tf.mean(t, [0, 1]));

describe('ct-sparse-view filter-mean reparametrisation', () => {
  it('V = Pφ scales the filters\' means by c and is inverted by meanUnscaled', () => {
    const before = tf.memory().numTensors;
    const phi = tf.randomNormal([5, 5, 1, 6], 0.3, 1, 'float32', 3);
    const V = meanScaled(phi, 0.2);
    // means ×c, zero-mean parts unchanged (float32 sums of 25 taps: 1e-6 relative)
    expect(tf.tidy(() => rel(means(V), tf.mul(means(phi), 0.2)))).toBeLessThan(1e-5);
    expect(tf.tidy(() => rel(meanScaled(V, 0), meanScaled(phi, 0)))).toBeLessThan(1e-5);
    const back = meanUnscaled(V, 0.2);
    expect(rel(back, phi)).toBeLessThan(1e-5);
    expect(() => meanUnscaled(V, 0)).toThrow(/netMeanScale/);
    tf.dispose([phi, V, back]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the hypergradient in φ is P·(the hypergradient in V); c = 0 leaves zero-mean filters', () => {
    const before = tf.memory().numTensors;
    const n = 12;
    const A = radon(n, { angles: 6 });
    const op = scaledOperator(A, 1 / 8, { normBound: 1, name: 'A/8' });
    const { train, test, sheppLogan } = ctPhantoms({ size: n, count: 2, testCount: 1, seed: 4 });
    tf.dispose([test, sheppLogan]);
    const data = { y: tf.tidy(() => tf.div(A.apply(train), 8)) };
    const saddle = convexNetworkSaddle({ operator: op, operatorNorm: 1, layers: 1, channels: 4, size: 3, gamma: 0.05, smoothing: 0.01, scale: 0.2, mu: 0.05 });
    const loss = (x: tf.Tensor) => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, train)))));
    const grad = (problem: typeof saddle.problem, theta: Params) => {
      const strategy = piggyback({ lossLipschitz: 1, lossWeight: 0.05, certificate: 'estimated', warmStart: false });
      const r = hypergradient({ problem, theta, data, loss, strategy, tol: 1e-5, linearTol: 1e-5, maxIter: 20000, linearMaxIter: 20000 });
      const g = r.grad.V.clone();
      const value = r.value;
      r.dispose();
      strategy.dispose();
      return { g, value };
    };
    try {
      const c = 0.2;
      const phi = meanUnscaled(saddle.theta.V, c);
      const plain = grad(saddle.problem, saddle.theta);
      const wrapped = grad(withFilterMeanScale(saddle.problem, c), { V: phi });
      // the same lower-level problem at V = Pφ (up to float32 rounding of Pφ): same value, h_φ = P h_V; both solved
      // to residual 1e-5, so they agree to ~1e-4 relative (not to the digit: the PDHG runs round differently)
      expect(Math.abs(wrapped.value - plain.value)).toBeLessThan(1e-4 * plain.value);
      const expected = meanScaled(plain.g, c);
      expect(rel(wrapped.g, expected)).toBeLessThan(1e-3);
      // the test is not vacuous: h_V has a mean part that P shrinks (h_φ differs from h_V)
      expect(rel(wrapped.g, plain.g)).toBeGreaterThan(1e-2);
      const v0 = meanScaled(saddle.theta.V, 0);
      const zero = grad(withFilterMeanScale(saddle.problem, 0), { V: v0 });
      // c = 0: every filter's hypergradient has zero mean (float32: 1e-6 of its size)
      expect(tf.tidy(() => tf.max(tf.abs(means(zero.g))).dataSync()[0])).toBeLessThan(1e-5 * tf.tidy(() => tf.max(tf.abs(zero.g)).dataSync()[0]));
      expect(() => withFilterMeanScale(saddle.problem, 2)).toThrow(/netMeanScale/);
      tf.dispose([phi, plain.g, wrapped.g, expected, zero.g, v0]);
    } finally {
      tf.dispose([data.y, train, ...Object.values(saddle.theta)]);
      A.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 120000);
});
