import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, anderson, gmres, neumann, disposeParams, convergencePolicy } from '@bilevel/core';
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

/*
 * The backward half of the same rule: a cap or tol set on the backward linear solver
 * (neumann({ terms }), gmres({ tol })) is not overridden by equilibrium's default
 * linearMaxIter / linearTol; equilibrium({ linearMaxIter }) set by the user is applied; the
 * old names backwardTol / backwardMaxIter throw an error that says the new name.
 */
describe('equilibrium backward precedence and names [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('neumann({ terms }) and gmres({ tol }) keep their settings; linearMaxIter beats them; old names are errors', () => {
    const q = makeQuadratic();
    const t = quadraticTensors(q);
    const before = tf.memory().numTensors;
    const backward = (strategy: ReturnType<typeof equilibrium>) => {
      const r = hypergradient({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, strategy, onNotConverged: convergencePolicy('warn') });
      const out = { iterations: r.work.linearIterations, residual: r.residuals.backward ?? NaN };
      r.dispose();
      strategy.dispose();
      return out;
    };
    // neumann's K = 3 terms (was silently replaced by the default cap 500).
    expect(backward(equilibrium({ backward: { implicit: neumann({ step: 1, terms: 3 }) } })).iterations).toBe(3);
    expect(backward(equilibrium({ backward: { implicit: neumann({ step: 1, terms: 3 }) }, linearMaxIter: 5 })).iterations).toBe(5);
    const loose = backward(equilibrium({ backward: { implicit: gmres({ tol: 1e-1 }) } }));
    const tight = backward(equilibrium({ backward: { implicit: gmres() } }));
    expect(loose.iterations).toBeLessThan(tight.iterations);
    expect(loose.residual).toBeGreaterThan(10 * tight.residual);
    expect(() => equilibrium({ backwardTol: 1e-6 } as never)).toThrow(/equilibrium: option 'backwardTol' was renamed 'linearTol'.*pass 'linearTol' instead/);
    expect(() => equilibrium({ backwardMaxIter: 5 } as never)).toThrow(/option 'backwardMaxIter' was renamed 'linearMaxIter'/);
    expect(() => equilibrium({ linearTols: 1e-6 } as never)).toThrow(/unknown option 'linearTols'; did you mean 'linearTol'\?/);
    expect(tf.memory().numTensors).toBe(before);
    disposeData(t.data);
    disposeParams(t.theta);
  });
});
