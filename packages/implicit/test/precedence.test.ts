import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, lbfgs, cg, disposeParams } from '@bilevel/core';
import { implicit } from '../src/index.js';
import { makeQuadratic, quadraticTensors, disposeData } from '@bilevel/testing';

/*
 * The precedence rule (core README): per-call accuracy > the strategy's option set by the
 * user > the solver's option set by the user > the strategy's exported default. Each case is
 * told apart by the residual it reaches: 1e-2 (loose solver tol), ≤ 1e-5 (implicit's default),
 * ≤ 1e-6 (explicit strategy tol) or ≤ 1e-3 (per call); float32 reaches 1e-6 on this κ ≈ 10 problem.
 */
describe('accuracy precedence [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it("lbfgs({ tol }) is not overridden by implicit's default; implicit({ tol }) and a per-call tol are", () => {
    const q = makeQuadratic();
    const t = quadraticTensors(q);
    const run = (strategy: ReturnType<typeof implicit>, tol?: number) => {
      const r = hypergradient({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, strategy, tol, onNotConverged: 'error' });
      const out = { forward: r.residuals.forward, backward: r.residuals.backward!, inner: r.work.innerIterations };
      r.dispose();
      strategy.dispose();
      return out;
    };
    const loose = () => lbfgs({ tol: 3e-2, tolMode: 'absolute' });
    const solverTol = run(implicit({ inner: loose(), linear: cg({ tol: 3e-2, tolMode: 'absolute' }) }));
    const strategyDefault = run(implicit({ inner: lbfgs(), linear: cg() }));
    const strategyTol = run(implicit({ inner: loose(), linear: cg(), tol: 1e-6 }));
    const perCall = run(implicit({ inner: loose(), linear: cg(), tol: 1e-6 }), 1e-3);
    console.log(`residuals: solver tol ${solverTol.forward.toExponential(2)}/${solverTol.backward.toExponential(2)}, default ${strategyDefault.forward.toExponential(2)}, strategy tol ${strategyTol.forward.toExponential(2)}, per call ${perCall.forward.toExponential(2)}`);
    // lbfgs({ tol: 3e-2 }) and cg({ tol: 3e-2 }) applied: well above implicit's default 1e-5.
    expect(solverTol.forward).toBeLessThanOrEqual(3e-2);
    expect(solverTol.forward).toBeGreaterThan(1e-5);
    expect(solverTol.backward).toBeGreaterThan(1e-5);
    expect(strategyDefault.forward).toBeLessThanOrEqual(1e-5);
    expect(strategyTol.forward).toBeLessThanOrEqual(1e-6);
    expect(perCall.forward).toBeLessThanOrEqual(1e-3);
    expect(perCall.inner).toBeLessThan(strategyTol.inner);
    disposeData(t.data);
    disposeParams(t.theta);
  });
});

describe('option validation of the rewritten factories (core options.ts)', () => {
  it('unknown keys are rejected naming the key and suggesting the nearest one; kinds and ranges are checked', async () => {
    await initBackend({ backend: 'cpu', log: false });
    const { unrolled } = await import('../../unrolled/src/index.js');
    const { argmin, defineProblem } = await import('@bilevel/core');
    expect(() => implicit({ inner: lbfgs(), linear: cg(), maxIters: 2 } as never)).toThrow(/implicit: unknown option 'maxIters'; did you mean 'maxIter'\?/);
    expect(() => implicit({ inner: lbfgs(), linear: cg(), linearTol: 0 })).toThrow(/implicit: option 'linearTol' must be a finite number > 0, got 0/);
    expect(() => implicit({ inner: lbfgs(), linear: cg(), warmStart: 1 as never })).toThrow(/implicit: option 'warmStart' must be true or false/);
    expect(() => implicit({ inner: {} as never, linear: cg() })).toThrow(/implicit: option 'inner' must be an inner solver/);
    expect(() => unrolled({ stpes: 3 } as never)).toThrow(/unrolled: unknown option 'stpes'; did you mean 'steps'\?/);
    expect(() => unrolled({ steps: 2.5 })).toThrow(/unrolled: option 'steps' must be a positive integer/);
    const problem = defineProblem({ energy: (x) => tf.sum(tf.square(x)), init: () => tf.zeros([2]) });
    const strategy = implicit({ inner: lbfgs(), linear: cg() });
    expect(() => argmin(problem, strategy, { tols: 1e-3 } as never)).toThrow(/argmin: unknown option 'tols'; did you mean 'tol'\?/);
    const theta = { a: tf.scalar(1) };
    expect(() => hypergradient({ problem, theta, data: {}, loss: (x: tf.Tensor) => tf.sum(x), strategy, maxIters: 3 } as never)).toThrow(/hypergradient: unknown option 'maxIters'; did you mean 'maxIter'\?/);
    expect(() => hypergradient({ problem, theta, data: {}, loss: (x: tf.Tensor) => tf.sum(x), strategy, linearTol: -1 })).toThrow(/hypergradient: option 'linearTol' must be a finite number > 0/);
    theta.a.dispose();
    strategy.dispose();
  });
});
