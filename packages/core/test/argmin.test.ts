import { it, expect } from 'vitest';
import { tf, argmin, withoutTape, defineProblem, cg, lbfgs, emptyWork, scaleParams, addWork } from '../src/index.js';
import type { Strategy, Params } from '../src/index.js';
import { describeEachBackend, relErr } from '@bilevel/testing/vitest';

// Φ(x; a) = ½‖x − a‖² + ½ξ‖x‖²  ⇒  x̂ = a/(1+ξ), ∂x̂/∂a = I/(1+ξ).
const xi = 0.5;
const problem = defineProblem<Record<string, never>>({
  energy: (x, th) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, th.a)))), tf.mul(0.5 * xi, tf.sum(tf.square(x)))),
  init: (th) => tf.zerosLike(th.a),
  strongConvexity: 1 + xi,
});

/** A minimal implicit strategy built from core's solvers only (core cannot import @bilevel/implicit). */
function miniImplicit(): Strategy {
  const inner = lbfgs();
  const linear = cg();
  return {
    name: 'mini-implicit',
    compute() { throw new Error('not used'); },
    solve({ problem: p, theta, data, tol, maxIter }) {
      const r = inner.solve(p as typeof problem, theta, data as never, { tol: tol ?? 1e-6, tolMode: 'absolute', maxIter });
      return { x: r.x, residual: r.gradNorm, converged: r.converged, message: r.message, work: r.work };
    },
    vjpSolution({ problem: p, theta, data, x, cotangent }) {
      const e = p as typeof problem;
      const lin = linear.solve((v) => e.hvp(x, theta, data as never, v), cotangent, { tol: 1e-6, tolMode: 'absolute' });
      const mixed = e.mixed(x, theta, data as never, lin.x);
      const grad = tf.tidy(() => scaleParams(mixed, -1));
      tf.dispose([lin.x, ...Object.values(mixed)]);
      return { grad, residual: lin.residualNorm, converged: lin.converged, message: lin.message, work: addWork(emptyWork(), lin.work) };
    },
  };
}

describeEachBackend('argmin', () => {
  it('tf.grad through argmin equals the closed form, nested inside an outer tf.grad tape', () => {
    const before = tf.memory().numTensors;
    const solve = argmin(problem, miniImplicit(), { onNotConverged: 'error' });
    const a = tf.tensor1d([1, -2, 0.5]);
    // L(a) = Σ x̂² ⇒ ∇L = 2a/(1+ξ)².
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.square(solve({ a: t }, {}))))(a);
    const expected = tf.tidy(() => tf.div(tf.mul(2, a), (1 + xi) ** 2));
    expect(relErr(grad, expected)).toBeLessThan(1e-4);
    expect(value.dataSync()[0]).toBeCloseTo((1 + 4 + 0.25) / (1 + xi) ** 2, 4);
    tf.dispose([a, value, grad, expected]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('withoutTape hides its operations from an enclosing gradient', () => {
    const g = tf.grad((t: tf.Tensor) => tf.add(tf.sum(t), withoutTape(() => tf.sum(tf.square(t)))))(tf.tensor1d([3]));
    expect(g.dataSync()[0]).toBeCloseTo(1, 6);
    g.dispose();
  });

  it("validates the strategy and the options, and 'error' throws on an unconverged forward solve", () => {
    expect(() => argmin(problem, { name: 'x', compute: () => { throw new Error(''); } } as Strategy)).toThrow(/no solve\(\)\/vjpSolution\(\)/);
    expect(() => argmin(problem, miniImplicit(), { onNotConverged: 'ignore' as never })).toThrow(/option 'onNotConverged'/);
    expect(() => argmin(problem, miniImplicit(), { tol: -1 })).toThrow(/option 'tol'/);
    const solve = argmin(problem, miniImplicit(), { onNotConverged: 'error', maxIter: 1, tol: 1e-12 });
    const a: Params = { a: tf.tensor1d([1, 2, 3]) };
    const before = tf.memory().numTensors;
    expect(() => solve(a, {})).toThrow(/forward solve .* did not converge/);
    expect(tf.memory().numTensors).toBe(before);
    a.a.dispose();
  });
});
