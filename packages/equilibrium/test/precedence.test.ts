import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, anderson, disposeParams } from '@bilevel/core';
import { equilibrium } from '../src/index.js';
import { makeQuadratic, quadraticTensors, disposeData } from '@bilevel/testing';

/*
 * Core's precedence rule for a fixed-point forward solve: an option set on the solver itself
 * (anderson({ tol })) is not overridden by equilibrium's exported default tol, while
 * equilibrium({ tol }) set by the user is. Told apart by the forward residual ‖∇ₓΦ‖ reached
 * on a κ ≈ 10 quadratic where float32 reaches 1e-6.
 */
describe('equilibrium accuracy precedence [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it("anderson({ tol }) is not overridden by equilibrium's default; equilibrium({ tol }) is applied", () => {
    const q = makeQuadratic();
    const t = quadraticTensors(q);
    const before = tf.memory().numTensors;
    const run = (strategy: ReturnType<typeof equilibrium>) => {
      const r = hypergradient({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, strategy, onNotConverged: 'error' });
      const out = { forward: r.residuals.forward, iterations: r.work.innerIterations };
      r.dispose();
      strategy.dispose();
      return out;
    };
    const strategyDefault = run(equilibrium({ forward: anderson() }));
    const solverTol = run(equilibrium({ forward: anderson({ tol: 1e-1 }) }));
    const strategyTol = run(equilibrium({ forward: anderson({ tol: 1e-1 }), tol: 1e-6 }));
    console.log(`equilibrium residuals: default ${strategyDefault.forward.toExponential(2)} (${strategyDefault.iterations} its), solver tol 1e-1 ${solverTol.forward.toExponential(2)} (${solverTol.iterations} its), strategy tol 1e-6 ${strategyTol.forward.toExponential(2)} (${strategyTol.iterations} its)`);
    expect(solverTol.iterations).toBeLessThan(strategyDefault.iterations);
    expect(solverTol.forward).toBeGreaterThan(10 * strategyDefault.forward);
    expect(strategyTol.forward).toBeLessThanOrEqual(1e-6);
    expect(tf.memory().numTensors).toBe(before);
    disposeData(t.data);
    disposeParams(t.theta);
  });
});
