import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, disposeParams, seededNormal } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { relErr } from '@bilevel/testing/vitest';
import {
  learnedPrimalDual, LEARNED_PRIMAL_DUAL_DEFAULTS, adversarialLoss, convexNetwork, radon, fbp, ctPhantoms, psnr,
} from '../src/index.js';
import type { Regularizer, RadonOperator } from '../src/index.js';

/*
 * The learned baselines of sparse-view CT (Bogensperger et al. 2024, Table 1): learned primal-dual
 * (Adler & Öktem 2018) and the adversarial loss of the ACR (Lunz et al. 2018, Mukherjee et al. 2021).
 * Training tests run on wasm only (the default backend; cpu is 15–40× slower) at 16², 8 angles.
 */
const value = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

/** A tiny sparse-view CT set: 16² phantoms, 8 angles, noise 2% of the peak, FBP of each sinogram. */
function tinyCt(A: RadonOperator, count: number, seed: number) {
  return tf.tidy(() => {
    const { train, test } = ctPhantoms({ size: 16, count, testCount: 2, seed });
    const measure = (t: tf.Tensor, s: number) => {
      const u = A.apply(t);
      return tf.add(u, tf.mul(seededNormal(u.shape, s), tf.mul(0.02, tf.max(u))));
    };
    const u = measure(train, seed + 1);
    const uTest = measure(test, seed + 2);
    return { train, test, u, uTest, fbpTrain: fbp(A, u), fbpTest: fbp(A, uTest) };
  });
}

describe('imaging: learnedPrimalDual [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('has Adler & Öktem\'s parameter count (50,396 at 2 iterations, 5 + 5 memory, 32 hidden, 3×3) and their weights are tfjs variables', () => {
    const before = tf.memory().numTensors;
    const A = radon(16, { angles: 8 });
    const count = (I: number, Np: number, Nd: number, H: number, k: number) =>
      I * (k * k * ((Nd + 2) * H + H * H + H * Nd) + k * k * ((Np + 1) * H + H * H + H * Np) + 4 * H + Nd + Np + 4);
    const net = learnedPrimalDual(A, { iterations: 2 });
    const d = LEARNED_PRIMAL_DUAL_DEFAULTS;
    expect(net.parameterCount).toBe(count(2, d.primalChannels, d.dualChannels, d.hidden, d.kernelSize));
    expect(net.parameterCount).toBe(50396);
    expect(net.variables.every((v) => v instanceof tf.Variable && v.trainable)).toBe(true);
    const small = learnedPrimalDual(A, { iterations: 3, primalChannels: 1, dualChannels: 2, hidden: 4, kernelSize: 5 });
    expect(small.parameterCount).toBe(count(3, 1, 2, 4, 5));
    const y = tf.zeros([2, 8, A.detectors, 1]);
    const x = small.apply(y);
    expect(x.shape).toEqual([2, 16, 16, 1]);
    expect(() => tf.tidy(() => small.apply(tf.zeros([1, 16, 16, 1])))).toThrow(/learnedPrimalDual\.apply: 'y' must be measurements \[batch, 8,/);
    expect(() => tf.tidy(() => small.apply(y, tf.zeros([1, 16, 16, 1])))).toThrow(/learnedPrimalDual\.apply: 'x0' must be an image \[2, 16,16,1\]/);
    expect(() => learnedPrimalDual(A, { kernelSize: 4 })).toThrow(/learnedPrimalDual: option 'kernelSize' must be odd/);
    expect(() => learnedPrimalDual({ name: 'no shape', apply: (t) => t, adjoint: (t) => t, dispose: () => {} })).toThrow(/must declare inShape/);
    tf.dispose([x, y]);
    net.dispose();
    small.dispose();
    small.dispose(); // idempotent
    expect(() => tf.tidy(() => small.apply(tf.zeros([1, 8, A.detectors, 1])))).toThrow(/was disposed/);
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trained with tf.train.adam from the FBP, its training loss falls and it beats FBP on held-out phantoms; no tensors left', () => {
    const before = tf.memory().numTensors;
    const A = radon(16, { angles: 8 });
    const ct = tinyCt(A, 16, 11);
    const scale = A.normBound!;
    const op = { ...A, apply: (x: tf.Tensor) => tf.tidy(() => tf.div(A.apply(x), scale)), adjoint: (y: tf.Tensor) => tf.tidy(() => tf.div(A.adjoint(y), scale)), dispose: () => {} };
    const net = learnedPrimalDual(op, { iterations: 2, primalChannels: 2, dualChannels: 2, hidden: 8, seed: 1 });
    const y = tf.div(ct.u, scale);
    const yTest = tf.div(ct.uTest, scale);
    const adam = tf.train.adam(5e-3);
    const losses: number[] = [];
    // minibatches of 4 of the 16 training phantoms, cycled
    for (let step = 0; step < 96; step++) {
      const k = 4 * (step % 4);
      const [yb, tb, xb] = [y, ct.train, ct.fbpTrain].map((t) => tf.slice(t, [k, 0, 0, 0], [4, -1, -1, -1]));
      losses.push(value(adam.minimize(() => tf.mean(tf.square(tf.sub(net.apply(yb, xb), tb))) as tf.Scalar, true, net.variables)!));
      tf.dispose([yb, tb, xb]);
    }
    // a falling loss, not one lucky step: the mean of the last 8 (two passes) against the first
    const last = losses.slice(-8).reduce((a, b) => a + b) / 8;
    expect(last).toBeLessThan(0.2 * losses[0]);
    const x = net.apply(yTest, ct.fbpTest);
    const clipped = tf.clipByValue(x, 0, 1);
    const ours = psnr(clipped, ct.test).mean;
    const clippedFbp = tf.clipByValue(ct.fbpTest, 0, 1);
    const baseline = psnr(clippedFbp, ct.test).mean;
    console.log(`lpd test: loss ${losses[0].toExponential(2)} → ${last.toExponential(2)}, held-out PSNR ${ours.toFixed(2)} vs FBP ${baseline.toFixed(2)}`);
    expect(ours).toBeGreaterThan(baseline);
    tf.dispose([x, clipped, clippedFbp, y, yTest, ...Object.values(ct)]);
    adam.dispose();
    net.dispose();
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('imaging: adversarialLoss (ACR) [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  const network = { layers: 2 as const, channels: 4, outChannels: 2, size: 3, gamma: 1, scale: 0.3 };

  it('∇_θ by the analytic mixed product equals double backprop, and matches central differences of the loss', () => {
    const before = tf.memory().numTensors;
    const R = convexNetwork(network);
    // the same R without its analytic derivatives: adversarialLoss falls back to autodiff
    const auto: Regularizer = { name: 'autodiff', convex: true, value: R.value, init: R.init };
    const theta = R.init();
    const real = tf.tidy(() => tf.sigmoid(seededNormal([3, 8, 8, 1], 1)));
    const fake = tf.tidy(() => tf.add(real, tf.mul(seededNormal([3, 8, 8, 1], 2), 0.2)));
    const a = adversarialLoss(R, theta, real, fake, { seed: 5 });
    const b = adversarialLoss(auto, theta, real, fake, { seed: 5 });
    expect(a.penalty).toBeGreaterThan(0); // the penalty's gradient is exercised
    // same maths, different float32 summation orders: 1e-4 relative
    expect(Math.abs(a.value - b.value)).toBeLessThan(1e-4 * Math.abs(a.value));
    for (const k of Object.keys(theta)) expect(relErr(a.grad[k], b.grad[k])).toBeLessThan(1e-3);
    // central differences along a random unit direction d (same interpolation seed): ∇ₓR has kinks
    // where Vx or Wψ(Vx) crosses 0 or w, so h = 1e-4 keeps most entries on one piece; the float32
    // rounding of L (≈ 1e-5 relative of |L| ≈ 50) over 2h is then ≈ 0.5% of the directional derivative
    const d: Params = tf.tidy(() => {
      const dv = seededNormal(theta.V.shape, 3);
      const dw = seededNormal(theta.omega.shape, 4);
      const n = tf.sqrt(tf.add(tf.sum(tf.square(dv)), tf.sum(tf.square(dw))));
      return { V: tf.div(dv, n), omega: tf.div(dw, n) };
    });
    const at = (s: number): number => {
      const th: Params = tf.tidy(() => ({ V: tf.add(theta.V, tf.mul(d.V, s)), omega: tf.add(theta.omega, tf.mul(d.omega, s)) }));
      const r = adversarialLoss(R, th, real, fake, { seed: 5 });
      disposeParams(r.grad);
      disposeParams(th);
      return r.value;
    };
    const h = 1e-4;
    const fd = (at(h) - at(-h)) / (2 * h);
    const directional = value(tf.tidy(() => tf.add(tf.sum(tf.mul(a.grad.V, d.V)), tf.sum(tf.mul(a.grad.omega, d.omega)))));
    expect(Math.abs(fd - directional)).toBeLessThan(2e-2 * Math.abs(directional));
    // without the penalty it is the critic gap alone
    const c = adversarialLoss(R, theta, real, fake, { gradientPenalty: 0 });
    expect(c.value).toBeCloseTo(c.real - c.fake, 5);
    expect(() => tf.tidy(() => void adversarialLoss(R, theta, real, tf.zeros([2, 8, 8, 1])))).toThrow(/adversarialLoss: 'real' \[3,8,8,1\] and 'fake' \[2,8,8,1\] must have the same shape/);
    // a flat R (γ = 1e-3, ‖∇R‖ ≪ 1): the one-sided penalty is 0, the two-sided one ≈ (0 − 1)² = 1,
    // and its gradient (which pulls ‖∇R‖ up) agrees with double backprop too
    const flat = convexNetwork({ ...network, gamma: 1e-3 });
    const flatAuto: Regularizer = { name: 'autodiff', convex: true, value: flat.value, init: flat.init };
    const one = adversarialLoss(flat, theta, real, fake, { seed: 5 });
    const two = adversarialLoss(flat, theta, real, fake, { seed: 5, oneSided: false });
    const twoAuto = adversarialLoss(flatAuto, theta, real, fake, { seed: 5, oneSided: false });
    expect(one.penalty).toBe(0);
    expect(two.penalty).toBeGreaterThan(0.9);
    expect(two.penalty).toBeLessThanOrEqual(1);
    for (const k of Object.keys(theta)) expect(relErr(two.grad[k], twoAuto.grad[k])).toBeLessThan(1e-3);
    [one, two, twoAuto].forEach((r) => disposeParams(r.grad));
    [a, b, c].forEach((r) => disposeParams(r.grad));
    disposeParams(theta);
    disposeParams(d);
    tf.dispose([real, fake]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trained adversarially (Adam) on 4 phantoms, R ranks held-out ground truth below FBP and stays convex (midpoint inequality)', () => {
    const before = tf.memory().numTensors;
    const A = radon(16, { angles: 8 });
    const ct = tinyCt(A, 4, 21);
    const R = convexNetwork(network);
    const init = R.init();
    const theta: Params = { V: tf.variable(init.V), omega: tf.variable(init.omega) };
    disposeParams(init);
    const gap = () => value(tf.tidy(() => tf.div(tf.sub(R.value(ct.test, theta), R.value(ct.fbpTest, theta)), 2)));
    const initialGap = gap();
    const adam = tf.train.adam(5e-3);
    for (let step = 0; step < 60; step++) {
      const r = adversarialLoss(R, theta, ct.train, ct.fbpTrain, { seed: step });
      adam.applyGradients(Object.keys(theta).map((k) => ({ name: (theta[k] as tf.Variable).name, tensor: r.grad[k] })));
      disposeParams(r.grad);
    }
    // held out: mean R(truth) − mean R(FBP) < 0, and lower than before training
    const trainedGap = gap();
    expect(trainedGap).toBeLessThan(0);
    expect(trainedGap).toBeLessThan(initialGap);
    // convex for the trained θ too (W = softplus(ω) ≥ 0): R((a+b)/2) ≤ (R(a)+R(b))/2 on 20 random
    // pairs, each compared in float32 at 1e-5 of the values' scale
    for (let i = 0; i < 20; i++) {
      const [lhs, rhs, size] = tf.tidy(() => {
        const p = tf.sigmoid(tf.mul(seededNormal([1, 16, 16, 1], 100 + i), 2));
        const q = i % 2 === 0 ? tf.sigmoid(tf.mul(seededNormal([1, 16, 16, 1], 200 + i), 2)) : tf.slice(ct.fbpTest, [Math.floor(i / 2) % 2, 0, 0, 0], [1, -1, -1, -1]);
        const ra = R.value(p, theta);
        const rb = R.value(q, theta);
        return [R.value(tf.div(tf.add(p, q), 2), theta), tf.div(tf.add(ra, rb), 2), tf.add(tf.abs(ra), tf.abs(rb))];
      }).map(value);
      expect(lhs).toBeLessThanOrEqual(rhs + 1e-5 * size);
    }
    adam.dispose();
    disposeParams(theta);
    tf.dispose(Object.values(ct));
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
