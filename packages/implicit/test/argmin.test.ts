import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, argmin, lbfgs, cg, defineProblem, ArgminLayer, registerArgminProblem } from '@bilevel/core';
import { implicit } from '../src/index.js';
import { quadraticFixture, norm, sub } from '@bilevel/testing';

const fx = quadraticFixture();
const theta0 = [0.3, -0.2, 0.5, 0.1];

describe('argmin with the implicit strategy [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('tf.grad through argmin matches hypergradient() and the exact hypergradient', () => {
    const before = tf.memory().numTensors;
    const data = fx.data();
    const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5 });
    const solve = argmin(fx.problem, strategy, { onNotConverged: 'error' });
    const theta = tf.tensor1d(theta0);
    const g = tf.grad((t: tf.Tensor) => fx.loss(solve({ theta: t }, data), {}, data))(theta);
    const r = hypergradient({ problem: fx.problem, theta: { theta }, data, loss: fx.loss, strategy });
    const viaGrad = Array.from(g.dataSync());
    const viaHypergradient = Array.from(r.grad.theta.dataSync());
    const exact = fx.exact(theta0).grad;
    expect(norm(sub(viaGrad, viaHypergradient)) / norm(viaHypergradient)).toBeLessThan(1e-3);
    expect(norm(sub(viaGrad, exact)) / norm(exact)).toBeLessThan(1e-3);
    // Forward values match the closed form too.
    const x = solve({ theta }, data);
    expect(norm(sub(Array.from(x.dataSync()), fx.exact(theta0).x))).toBeLessThan(1e-4);
    tf.dispose([g, x, theta, ...Object.values(data)]);
    r.dispose();
    strategy.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a tf.train.adam loop over tf.Variables decreases the loss with a flat tensor count', () => {
    const data = fx.data();
    const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5 });
    const solve = argmin(fx.problem, strategy, { onNotConverged: 'error' });
    const theta = tf.variable(tf.tensor1d(theta0));
    const optimizer = tf.train.adam(0.05);
    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 20; step++) {
      const value = optimizer.minimize(() => fx.loss(solve({ theta }, data), {}, data) as tf.Scalar, true)!;
      losses.push(value.dataSync()[0]);
      value.dispose();
      counts.push(tf.memory().numTensors);
    }
    console.log(`adam: loss ${losses[0].toFixed(5)} → ${losses[19].toFixed(5)}; tensors ${counts[1]} … ${counts[19]}`);
    expect(losses[19]).toBeLessThan(0.9 * losses[0]);
    // After the first step (adam creates its moment slots) the count stays flat.
    expect(new Set(counts.slice(1)).size).toBe(1);
    optimizer.dispose();
    strategy.dispose();
    tf.dispose([theta, ...Object.values(data)]);
  });

  it('an ArgminLayer inside tf.sequential trains with model.fit; the loss decreases; tensors stay flat', async () => {
    const n = 16;
    const batch = 32;
    // Tikhonov denoising of 1-D signals: Φ(x; θ, y) = ½‖x − y‖² + ½e^{logAlpha}‖Dx‖² (summed over the batch).
    const problem = defineProblem<tf.Tensor>({
      name: 'tikhonov-1d',
      energy: (x, th, y) => {
        const dx = tf.sub(tf.slice(x, [0, 1], [-1, n - 1]), tf.slice(x, [0, 0], [-1, n - 1]));
        return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, y)))), tf.mul(tf.mul(0.5, tf.exp(th.logAlpha)), tf.sum(tf.square(dx))));
      },
      init: (_t, y) => y.clone(),
      strongConvexity: 1,
    });
    const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-4, linearTol: 1e-4 });
    registerArgminProblem('tikhonov-1d-test', problem, strategy);
    const clean = tf.tidy(() => {
      const t = tf.linspace(0, 2 * Math.PI, n).reshape([1, n]);
      const phase = tf.randomUniform([batch, 1], 0, 6.28, 'float32', 1);
      return tf.sin(tf.add(t, phase));
    });
    const noisy = tf.tidy(() => tf.add(clean, tf.mul(0.3, tf.randomNormal([batch, n], 0, 1, 'float32', 2))));
    const layer = new ArgminLayer({ problem: 'tikhonov-1d-test', weights: { logAlpha: { shape: [], initial: -3 } }, inputShape: [n] });
    const model = tf.sequential({ layers: [layer] });
    model.compile({ optimizer: tf.train.adam(0.2), loss: 'meanSquaredError' });
    const history = await model.fit(noisy, clean, { epochs: 8, batchSize: 16, shuffle: false, verbose: 0 });
    const losses = history.history.loss as number[];
    console.log(`ArgminLayer model.fit losses: ${losses.map((l) => l.toFixed(4)).join(', ')}; logAlpha = ${layer.theta().logAlpha.dataSync()[0].toFixed(3)}`);
    expect(losses[losses.length - 1]).toBeLessThan(0.8 * losses[0]);
    // Tensor count flat across further epochs (first epoch allocates the optimizer slots).
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await model.fit(noisy, clean, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    // Save/restore through the registered key.
    const config = layer.getConfig();
    expect(config.problem).toBe('tikhonov-1d-test');
    const pred = model.predict(noisy) as tf.Tensor;
    expect(pred.shape).toEqual([batch, n]);
    tf.dispose([pred, clean, noisy]);
    model.dispose();
    strategy.dispose();
  });
});
