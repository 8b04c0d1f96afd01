import { it, expect } from 'vitest';
import { tf, hypergradient, argmin, defineSaddle, defineProblem, flattenParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend } from '@bilevel/testing/vitest';
import { piggyback } from '../src/index.js';
import { quadraticSaddle, tvSaddle } from '@bilevel/testing';

const flat = (p: Params): number[] => tf.tidy(() => Array.from(flattenParams(p).dataSync()));
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const relErr = (a: number[], b: number[]) => norm(a.map((v, i) => v - b[i])) / norm(b);

describeEachBackend('piggyback', () => {
  it('converges to the closed-form hypergradient (θ in K and in f*) as iterations grow', () => {
    const q = quadraticSaddle();
    const data = q.data();
    const theta = q.theta();
    const exact = q.exact();
    const before = tf.memory().numTensors;
    const errors: number[] = [];
    for (const iterations of [4, 8, 12, 16, 24, 32, 48]) {
      // tol far below reach: exactly `iterations` forward and adjoint steps.
      const strategy = piggyback({ tol: 1e-30, linearTol: 1e-30, maxIter: iterations, linearMaxIter: iterations, warmStart: false });
      const r = strategy.compute({ problem: q.problem as never, theta, data, loss: q.loss });
      const err = relErr(flat(r.grad), exact.grad);
      errors.push(err);
      console.log(`quadratic saddle, ${iterations} PDHG + ${iterations} adjoint iterations: rel. error ${err.toExponential(2)}, residuals ${r.residuals.forward.toExponential(2)} / ${r.residuals.backward!.toExponential(2)}, ${r.work.timeMs.toFixed(0)} ms`);
      // Either loop may stop early only if its float32 residual hits exactly 0 (≤ 1e-30).
      expect(r.work.innerIterations).toBeLessThanOrEqual(iterations);
      expect(r.work.linearIterations).toBeLessThanOrEqual(iterations);
      expect(r.converged).toBe(r.residuals.forward <= 1e-30 && r.residuals.backward! <= 1e-30);
      r.dispose();
    }
    // Linear convergence until float32 round-off: each doubling must not make it worse
    // (beyond round-off noise of 1e-6), and the last one must be 1000× below the first.
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThanOrEqual(errors[i - 1] * 1.05 + 1e-6);
    expect(errors[errors.length - 1]).toBeLessThan(errors[0] * 1e-3);
    // 2e-5: float32 (ε ≈ 6e-8) with cond(I + λKᵀK) ≈ 5 and a few hundred accumulated
    // steps leaves relative errors around 1e-6; 2e-5 is a float32-achievable margin.
    expect(errors[errors.length - 1]).toBeLessThan(2e-5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
  });

  it('works through hypergradient() with tolerances, reports work, status and a converged message', () => {
    const q = quadraticSaddle();
    const data = q.data();
    const theta = q.theta();
    const exact = q.exact();
    const strategy = piggyback({ tol: 1e-5, linearTol: 1e-6 });
    const r = hypergradient({ problem: q.problem, theta, data, loss: q.loss, strategy, onNotConverged: 'error' });
    expect(r.status).toBe('converged');
    expect(r.converged).toBe(true);
    expect(r.bound).toBeUndefined();
    expect(r.message).toMatch(/certified/);
    // certified ‖x − x̂‖ ≤ tol/min(μ_g, μ_f*) = 1e-5/1 and ‖∇ℓ‖ ≈ 1: |value error| ≲ 1e-5; 5e-5 leaves float32 room.
    expect(Math.abs(r.value - exact.value)).toBeLessThan(5e-5);
    const err = relErr(flat(r.grad), exact.grad);
    console.log(`hypergradient(piggyback tol 1e-5, linearTol 1e-6): rel. error ${err.toExponential(2)}, ${r.work.innerIterations} + ${r.work.linearIterations} iterations`);
    // 1e-4: the stopping tolerances 1e-5/1e-6 on gradients of size ~1 bound the error near 1e-5.
    expect(err).toBeLessThan(1e-4);
    const x = Array.from(r.x.dataSync());
    // ‖x‖ ≈ 0.7 and the certified distance ≤ 1e-5: relative 5e-5.
    expect(relErr(x, exact.x)).toBeLessThan(5e-5);
    r.dispose();
    // warm start: a second call from the stored point needs fewer iterations.
    const r2 = hypergradient({ problem: q.problem, theta, data, loss: q.loss, strategy, onNotConverged: 'error' });
    expect(r2.work.innerIterations + r2.work.linearIterations).toBeLessThan(10);
    r2.dispose();
    strategy.dispose();
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
  });

  for (const mode of ['balance', 'search'] as const) it(`adaptiveSteps '${mode}': from a poor σ/τ it reaches the closed-form hypergradient in fewer iterations; the ratio is warm-started and checkpointed`, () => {
    const q = quadraticSaddle();
    const data = q.data();
    const theta = q.theta();
    const exact = q.exact();
    const before = tf.memory().numTensors;
    const run = (adaptiveSteps: false | typeof mode) => {
      const strategy = piggyback({ tol: 1e-5, linearTol: 1e-6, stepRatio: 100, adaptiveSteps });
      const r = hypergradient({ problem: q.problem, theta, data, loss: q.loss, strategy, onNotConverged: 'error' });
      const out = { err: relErr(flat(r.grad), exact.grad), work: r.work.innerIterations + r.work.linearIterations, message: r.message, saved: strategy.warmState!() };
      r.dispose();
      return { ...out, strategy };
    };
    const fixed = run(false);
    const balanced = run(mode);
    console.log(`quadratic saddle from σ/τ = 100, tol 1e-5 / 1e-6: constant steps ${fixed.work} iterations (rel. error ${fixed.err.toExponential(2)}), ${mode} ${balanced.work} (${balanced.err.toExponential(2)}); ${balanced.message.match(/(residual balancing|contraction search)[^;]*/)?.[0]}`);
    // the adjoint is the exact transpose at the frozen steps: the same 1e-4 as the constant-step test above
    expect(balanced.err).toBeLessThan(1e-4);
    expect(fixed.err).toBeLessThan(1e-4);
    expect(balanced.work).toBeLessThan(fixed.work);
    expect(balanced.message).toMatch(mode === 'balance' ? /residual balancing: [1-9]\d* step adaptations/ : /contraction search: [1-9]\d* step adaptations/);
    expect(Object.keys(fixed.saved)).not.toContain('rule.ratio');
    const ratio = balanced.saved['rule.ratio'];
    expect(ratio.values[0]).toBeLessThan(100);
    // a restored strategy starts from the saved ratio and exports it unchanged
    const restored = piggyback({ tol: 1e-5, linearTol: 1e-6, stepRatio: 100, adaptiveSteps: mode });
    restored.loadWarmState!(balanced.saved);
    expect(restored.warmState!()['rule.ratio'].values[0]).toBe(ratio.values[0]);
    for (const s of [fixed.strategy, balanced.strategy, restored]) s.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
  });

  it('backs argmin: tf.grad through argmin(saddle, piggyback()) matches the closed-form hypergradient, without leaks', () => {
    const q = quadraticSaddle();
    const data = q.data();
    const theta = q.theta();
    const exact = q.exact();
    const strategy = piggyback({ tol: 1e-6, linearTol: 1e-6 });
    const solveMap = argmin(q.problem, strategy, { onNotConverged: 'error' });
    // F(θ) = ½‖x̂(θ) − t‖² by tfjs autodiff through the argmin function
    const f = (K: tf.Tensor, lambda: tf.Tensor) => q.loss(solveMap({ K, lambda }, data), {}, data);
    const gradF = tf.grads(f);
    const run = () => {
      const [gK, gLambda] = gradF([theta.K, theta.lambda]);
      const g = [...Array.from(gK.dataSync()), ...Array.from(gLambda.dataSync())];
      tf.dispose([gK, gLambda]);
      return g;
    };
    const first = run();
    const before = tf.memory().numTensors;
    const second = run();
    expect(tf.memory().numTensors).toBe(before);
    const err = relErr(first, exact.grad);
    console.log(`argmin(saddle, piggyback) under tf.grads: rel. error ${err.toExponential(2)} (second call ${relErr(second, exact.grad).toExponential(2)})`);
    // tolerances 1e-6 on residuals of size ~1 (cond ≈ 5): errors ~1e-6, 2e-5 leaves float32 room
    expect(err).toBeLessThan(2e-5);
    expect(relErr(second, exact.grad)).toBeLessThan(2e-5);
    // the forward value is the saddle point's x
    const x = solveMap(theta, data);
    expect(relErr(Array.from(x.dataSync()), exact.x)).toBeLessThan(2e-5);
    x.dispose();
    // gradients with respect to the data are not offered for saddle problems: a clear error
    const xs = strategy.solve!({ problem: q.problem as never, theta, data });
    expect(() => strategy.vjpSolution!({ problem: q.problem as never, theta, data, x: xs.x, cotangent: xs.x, wrtData: true })).toThrow(/piggyback: argmin's 'differentiateData' is not supported for saddle-point problems/);
    xs.x.dispose();
    strategy.dispose();
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
  });

  it('has an adjoint test for the learned TV discretisation: ⟨Kx, z⟩ = ⟨x, Kᵀz⟩', () => {
    const tv = tvSaddle(8);
    const theta = tv.theta();
    const [lhs, rhs] = tf.tidy(() => {
      const x = tf.randomNormal([8, 8], 0, 1, 'float32', 1);
      const z = tf.randomNormal([2, 8, 8], 0, 1, 'float32', 2);
      return [tf.sum(tf.mul(tv.apply(x, theta), z)).dataSync()[0], tf.sum(tf.mul(x, tv.adjoint(z, theta))).dataSync()[0]];
    });
    // float32 sums of 128 products of size ~1: agreement to 1e-5 relative.
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * Math.max(1, Math.abs(lhs)));
    tf.dispose(Object.values(theta));
  });

  for (const epsilon of [0, 0.05]) {
    it(`matches central differences on TV denoising (ε = ${epsilon}) with learned K_W and α`, () => {
      const tv = tvSaddle(8, epsilon);
      const data = tv.data();
      const theta = tv.theta();
      const strategy = piggyback({ tol: 1e-5, linearTol: 1e-6, maxIter: 20000, linearMaxIter: 20000, warmStart: false });
      const t0 = performance.now();
      const r = hypergradient({ problem: tv.problem, theta, data, loss: tv.loss, strategy, onNotConverged: 'error' });
      const ms = performance.now() - t0;
      const g = flat(r.grad);
      const value = (th: Params) => {
        const s = piggyback({ tol: 1e-6, linearTol: 1, linearMaxIter: 1, maxIter: 40000, warmStart: false });
        const out = s.compute({ problem: tv.problem as never, theta: th, data, loss: tv.loss });
        out.dispose();
        return out.value;
      };
      // h = 1e-3 on parameters of size 0.1–1: truncation O(h²) ≈ 1e-6, float32 round-off of a
      // loss ≈ 1 over 2h ≈ 3e-5, and solve errors (residual 1e-6 → |ΔF| ≲ 1e-6/2h ≈ 5e-4 per
      // entry) put the FD gradient within ~1e-3 relative; measured 2e-4–3e-4; tolerance 2e-3.
      const h = 1e-3;
      const base = flat(theta);
      const fd: number[] = [];
      for (let i = 0; i < base.length; i++) {
        const at = (d: number) => {
          const v = base.slice();
          v[i] += d;
          const th = { W: tf.tensor2d(v.slice(0, 4), [2, 2]), alpha: tf.scalar(v[4]) };
          const f = value(th);
          tf.dispose(Object.values(th));
          return f;
        };
        fd.push((at(h) - at(-h)) / (2 * h));
      }
      const err = relErr(g, fd);
      console.log(`TV ε=${epsilon}: piggyback ${g.map((v) => v.toFixed(5)).join(', ')} | FD ${fd.map((v) => v.toFixed(5)).join(', ')} | rel. error ${err.toExponential(2)}, ${r.work.innerIterations} + ${r.work.linearIterations} iterations, ${ms.toFixed(0)} ms`);
      expect(r.converged).toBe(true);
      expect(err).toBeLessThan(2e-3);
      r.dispose();
      tf.dispose([...Object.values(theta), ...Object.values(data)]);
    });
  }

  it('leaks no tensors over repeated calls (with and without warm start)', () => {
    const q = quadraticSaddle();
    const data = q.data();
    const theta = q.theta();
    const before = tf.memory().numTensors;
    for (const warmStart of [false, true]) {
      const strategy = piggyback({ tol: 1e-4, linearTol: 1e-5, warmStart });
      for (let i = 0; i < 3; i++) hypergradient({ problem: q.problem, theta, data, loss: q.loss, strategy }).dispose();
      strategy.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
  });

  it('rejects bad input with errors that name the argument', () => {
    const q = quadraticSaddle();
    const data = q.data();
    const theta = q.theta();
    const spec = { apply: (x: tf.Tensor) => x, proxG: (x: tf.Tensor) => x, proxFStar: (z: tf.Tensor) => z, init: () => tf.zeros([3]) };
    expect(() => defineSaddle({ ...spec, proxFStar: undefined } as never)).toThrow(/'proxFStar'.*missing/);
    expect(() => defineSaddle({ ...spec, proxG: 3 } as never)).toThrow(/'proxG' must be a function/);
    expect(() => defineSaddle({ ...spec, operatorNorm: -1 })).toThrow(/'operatorNorm'/);
    expect(() => defineSaddle({ ...spec, strongConvexity: Number.NaN })).toThrow(/'strongConvexity'/);
    expect(() => piggyback({ stepScale: 1.5 })).toThrow(/'stepScale'/);
    expect(() => piggyback({ maxIter: 0 })).toThrow(/'maxIter'/);
    expect(() => piggyback({ iterations: 3 } as never)).toThrow(/unknown option 'iterations'/);
    expect(() => piggyback({ adaptiveSteps: 'balanced' } as never)).toThrow(/'adaptiveSteps'/);
    expect(() => piggyback({ accelerate: true, adaptiveSteps: 'search' })).toThrow(/'accelerate: true' and 'adaptiveSteps: 'search'' exclude each other/);
    expect(() => piggyback({ linearMaxIters: 10 } as never)).toThrow(/piggyback: unknown option 'linearMaxIters'; did you mean 'linearMaxIter'\?/);
    const strategy = piggyback();
    const call = (extra: Record<string, unknown>) => () =>
      hypergradient({ problem: q.problem, theta, data, loss: q.loss, strategy, ...extra }).dispose();
    expect(call({ x0: tf.zeros([3]) })).toThrow(/'x0' has shape \[3\]/);
    expect(call({ theta: { K: theta.K, lambda: tf.scalar(Number.NaN) } })).toThrow(/theta.lambda.*NaN/);
    expect(call({ data: { y: tf.tensor1d([1, Number.NaN, 0, 0, 0]), t: data.t } })).toThrow(/NaN or Inf/);
    const energy = defineProblem({ energy: (x) => tf.sum(tf.square(x)), init: () => tf.zeros([5]) });
    expect(call({ problem: energy })).toThrow(/defineSaddle/);
    const badDual = defineSaddle({ ...spec, init: () => tf.zeros([5]), initDual: () => tf.zeros([2]) });
    expect(call({ problem: badDual })).toThrow(/initDual/);
    const noConvexity = defineSaddle({ ...spec, init: () => tf.zeros([5]) });
    expect(() => piggyback({ accelerate: true }).compute({ problem: noConvexity as never, theta, data, loss: q.loss })).toThrow(/strongConvexity/);
    strategy.dispose();
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
  });
});
