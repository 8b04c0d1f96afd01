import { it, expect, beforeAll, describe } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { convexNetwork } from '@bilevel/imaging';
import { calibrateCritic, interpolateGradientNorm } from '../src/methods/acr-critic.js';
import { selectLambda, type LambdaTrial } from '../src/methods/acr.js';

beforeAll(async () => {
  await initBackend();
});

describe('ICNN-ACR pieces', () => {
  it('calibrateCritic rescales the critic to mean ‖∇R‖ = 1 on the interpolates, and to exactly R/c', () => {
    const before = tf.memory().numTensors;
    const network = { layers: 2 as const, channels: 4, outChannels: 2, size: 3, smoothing: 0.01, gamma: 1, scale: 0.5 };
    const theta = convexNetwork(network).init();
    const real = tf.randomUniform([3, 8, 8, 1], 0, 1, 'float32', 1);
    const fake = tf.tidy(() => tf.add(real, tf.randomNormal([3, 8, 8, 1], 0, 0.2, 'float32', 2)));
    const c0 = interpolateGradientNorm(network, theta, real, fake, 11);
    const r = calibrateCritic(network, theta, real, fake, 11);
    expect(r.c).toBeCloseTo(c0, 6);
    expect(Math.abs(r.c - 1)).toBeGreaterThan(0.1); // the start was not already calibrated: the test can fail
    // float32 gradients over 192 pixels: relative error ~1e-6; 1e-4 leaves room for the sums
    expect(Math.abs(interpolateGradientNorm(r.network, r.theta, real, fake, 11) - 1)).toBeLessThan(1e-4);
    const x = tf.randomNormal([2, 8, 8, 1], 0.5, 0.3, 'float32', 3);
    const v0 = tf.tidy(() => convexNetwork(network).value(x, theta).dataSync()[0]);
    const v1 = tf.tidy(() => convexNetwork(r.network).value(x, r.theta).dataSync()[0]);
    expect(Math.abs(v1 * r.c - v0) / Math.abs(v0)).toBeLessThan(1e-5);
    expect(r.network.smoothing).toBeCloseTo(0.01 / r.c, 10);
    const zero = tf.zerosLike(theta.V);
    expect(() => calibrateCritic(network, { ...theta, V: zero }, real, fake, 11)).toThrow(/acrInit/);
    tf.dispose([real, fake, x, zero, ...Object.values(theta), ...Object.values(r.theta)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('selectLambda extends the grid past an edge until the training MSE has an interior minimum', () => {
    const trial = (mse: (l: number) => number) => (lambda: number): LambdaTrial => ({ lambda, mse: mse(lambda), iterations: 1, converged: true, status: 'converged', relativeGradient: 0 });
    const bowl = selectLambda([0.1, 0.01], trial((l) => (Math.log(l) - Math.log(0.7)) ** 2));
    const tried = bowl.trials.map((t) => t.lambda);
    expect(tried.slice(0, 5)).toEqual([0.01, 0.1, 0.25, 0.625, 1.5625]);
    // then one refinement: the geometric midpoints next to the best
    expect(tried.slice(5)).toHaveLength(2);
    expect(tried.slice(5)).toEqual([0.395, 0.988]); // √(0.25·0.625), √(0.625·1.5625) to 3 digits
    expect(bowl.best.lambda).toBeCloseTo(0.625, 12);
    expect(bowl.atEdge).toBe(false);
    const low = selectLambda([1, 2], trial((l) => l), 10, 2);
    expect(low.trials.map((t) => t.lambda)).toEqual([1, 2, 0.1, 0.01]);
    expect(low.atEdge).toBe(true);
    const inside = selectLambda([1, 2, 4], trial((l) => (l - 2.5) ** 2));
    expect(inside.trials.map((t) => t.lambda).slice(3)).toEqual([1.41, 2.83]);
    expect(inside.best.lambda).toBe(2.83);
    expect(() => selectLambda([0, 1], trial((l) => l))).toThrow(/acrLambdas/);
  });
});
