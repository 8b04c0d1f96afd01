import { it, expect, vi } from 'vitest';
import { tf, hypergradient, defineProblem, emptyWork, resetConvergenceWarnings } from '../src/index.js';
import type { HypergradientResult, Strategy, HypergradientStatus } from '../src/index.js';
import { describeEachBackend } from '@bilevel/testing/vitest';

/** A stub strategy reporting a chosen status, to test the gate on its own. */
function stub(name: string, status: HypergradientStatus, forward = 0.5, backward?: number): Strategy & { calls: number } {
  const s = {
    name,
    calls: 0,
    compute(): HypergradientResult {
      s.calls += 1;
      const grad = { a: tf.scalar(1) };
      const x = tf.zeros([2]);
      return {
        value: 1, grad, x, work: emptyWork(), status, converged: status === 'converged',
        residuals: { forward, backward }, message: `${name} says ${status}`, strategy: name,
        dispose() { grad.a.dispose(); x.dispose(); },
      };
    },
  };
  return s;
}

const problem = defineProblem({ energy: (x) => tf.mul(0.5, tf.sum(tf.square(x))), init: () => tf.zeros([2]) });
const loss = (x: tf.Tensor) => tf.sum(x);

describeEachBackend('hypergradient() and its convergence gate', () => {
  it('returns a converged result untouched', () => {
    const theta = { a: tf.scalar(0) };
    const r = hypergradient({ problem, theta, data: {}, loss, strategy: stub('ok', 'converged') });
    expect(r.converged).toBe(true);
    expect(r.strategy).toBe('ok');
    r.dispose();
    theta.a.dispose();
  });

  it("'warn' (default) warns once per call site with the residual and the fix", () => {
    resetConvergenceWarnings();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const theta = { a: tf.scalar(0) };
    for (let i = 0; i < 3; i++) {
      const r = hypergradient({ problem, theta, data: {}, loss, strategy: stub('bad', 'forward-not-converged', 0.25), tol: 1e-4 });
      expect(r.converged).toBe(false);
      expect(r.status).toBe('forward-not-converged');
      r.dispose();
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/= 2\.50e-1 vs tolerance 1\.00e-4.*Fix: increase 'maxIter'/);
    warn.mockRestore();
    theta.a.dispose();
  });

  it("'error' throws naming the residual, the tolerance and the fix; backward failures name linearTol", () => {
    const before = tf.memory().numTensors;
    const theta = { a: tf.scalar(0) };
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: stub('bad', 'forward-not-converged', 0.25), tol: 1e-4, onNotConverged: 'error' }))
      .toThrow(/forward residual.*2\.50e-1 vs tolerance 1\.00e-4/);
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: stub('bad', 'backward-not-converged', 1e-6, 0.3), linearTol: 1e-5, onNotConverged: 'error' }))
      .toThrow(/backward residual.*3\.00e-1 vs tolerance 1\.00e-5.*linearMaxIter/);
    theta.a.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a non-finite residual is never reported as converged', () => {
    const theta = { a: tf.scalar(0) };
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: stub('nan', 'converged', NaN), onNotConverged: 'error' })).toThrow(/NaN/);
    theta.a.dispose();
  });

  it('{ fallback } recomputes with the other strategy and marks result.strategy', () => {
    const before = tf.memory().numTensors;
    const theta = { a: tf.scalar(0) };
    const good = stub('good', 'converged');
    const r = hypergradient({ problem, theta, data: {}, loss, strategy: stub('bad', 'forward-not-converged'), onNotConverged: { fallback: good } });
    expect(good.calls).toBe(1);
    expect(r.converged).toBe(true);
    expect(r.strategy).toBe('good (fallback from bad)');
    expect(r.message).toMatch(/fallback: 'bad' did not converge/);
    r.dispose();
    theta.a.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates theta, loss, strategy and the accuracies with errors that name the option', () => {
    const theta = { a: tf.scalar(0) };
    const s = stub('ok', 'converged');
    expect(() => hypergradient({ problem, theta: {}, data: {}, loss, strategy: s })).toThrow(/hypergradient: 'theta' is empty; give at least one parameter tensor/);
    expect(() => hypergradient({ problem, theta: { a: tf.scalar(Infinity) }, data: {}, loss, strategy: s })).toThrow(/theta\.a/);
    expect(() => hypergradient({ problem, theta: { a: tf.scalar(1, 'int32') }, data: {}, loss, strategy: s })).toThrow(/float32/);
    expect(() => hypergradient({ problem, theta, data: {}, loss: null as never, strategy: s })).toThrow(/option 'loss'/);
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: null as never })).toThrow(/option 'strategy'/);
    expect(() => hypergradient({ problem: {} as never, theta, data: {}, loss, strategy: s })).toThrow(/option 'problem'/);
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: s, tol: 0 })).toThrow(/option 'tol'/);
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: s, maxIter: 1.5 })).toThrow(/option 'maxIter'/);
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: s, onNotConverged: 'ignore' as never })).toThrow(/option 'onNotConverged'/);
    theta.a.dispose();
  });
});
