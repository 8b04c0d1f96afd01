import { it, expect } from 'vitest';
import { tf, defineProblem, defineFixedPoint, defineSaddle, lbfgs, gradientDescent } from '../src/index.js';
import { describeEachBackend } from '@bilevel/testing/vitest';

// The solvers own and dispose their starting point. A user `init` that returns one of its own
// tensors (the data's `y` itself, not `y.clone()`) must not have that tensor freed by a solve.
describeEachBackend('init returning a tensor the user owns', () => {
  it('energy problems: lbfgs and gradient descent leave data.y alive and unchanged, and leak nothing', () => {
    const y = tf.tensor1d([1, -2, 0.5]);
    const data = { y };
    // Φ(x) = ½‖x − y‖² + ¼‖x‖²  ⇒  x̂ = y/1.5
    const problem = defineProblem<{ y: tf.Tensor }>({
      energy: (x, _th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(0.25, tf.sum(tf.square(x)))),
      init: (_th, d) => d.y,
      strongConvexity: 1.5,
      smoothness: 1.5,
    });
    const before = tf.memory().numTensors;
    for (const solver of [lbfgs(), gradientDescent()]) {
      const r = solver.solve(problem, {}, data, { tol: 1e-5, tolMode: 'absolute', maxIter: 200 });
      expect(r.converged).toBe(true);
      // 1e-5 absolute gradient tolerance with μ = 1.5 bounds ‖x − x̂‖ by 6.7e-6
      Array.from(r.x.dataSync()).forEach((v, i) => expect(Math.abs(v - [1, -2, 0.5][i] / 1.5)).toBeLessThan(1e-5));
      r.x.dispose();
      expect(y.isDisposed).toBe(false);
      expect(Array.from(y.dataSync())).toEqual([1, -2, 0.5]);
    }
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });

  it('fixed-point and saddle problems: initialPoint / initialDual give a copy of a user tensor, which the caller may dispose', () => {
    const y = tf.tensor1d([0.4, -0.2]);
    const fp = defineFixedPoint<{ y: tf.Tensor }>({ map: (x, _th, d) => tf.add(tf.mul(0.5, x), d.y), init: (_th, d) => d.y, contraction: 0.5 });
    const saddle = defineSaddle<{ y: tf.Tensor }>({
      apply: (x) => x,
      adjoint: (z) => z,
      proxG: (v) => v,
      proxFStar: (v) => v,
      init: (_th, d) => d.y,
      initDual: (_th, d) => d.y,
      operatorNorm: 1,
    });
    const before = tf.memory().numTensors;
    const starts = [fp.initialPoint({}, { y }), saddle.initialPoint({}, { y })];
    starts.push(saddle.initialDual({}, { y }, starts[1]));
    for (const s of starts) expect(s).not.toBe(y);
    tf.dispose(starts);
    expect(y.isDisposed).toBe(false);
    expect(Array.from(y.dataSync())).toEqual([Math.fround(0.4), Math.fround(-0.2)]);
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });

  it('a fresh tensor from init is used as is (not copied)', () => {
    const y = tf.tensor1d([3]);
    const problem = defineProblem<{ y: tf.Tensor }>({ energy: (x, _th, d) => tf.sum(tf.square(tf.sub(x, d.y))), init: (_th, d) => d.y.mul(2) });
    const before = tf.memory().numTensors;
    const x0 = problem.initialPoint({}, { y });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(x0.dataSync()[0]).toBe(6);
    const same = problem.initialPoint({}, { y });
    expect(same).not.toBe(y);
    tf.dispose([x0, same]);
    y.dispose();
  });
});
