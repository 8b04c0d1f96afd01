import { it, expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { tvDenoisingProblem, filterModelProblem, foeProblem, blur } from '../src/index.js';
import type { ReconstructionProblem } from '../src/index.js';
import { symmetricPad } from '../src/internal/params.js';
import { symmetricPadAdjoint } from '../src/internal/filter-derivatives.js';

/*
 * The regularizers' analytic derivatives against autodiff of the same energy (the oracle),
 * at a random x and direction v. Both are float32 evaluations of the same quantities in
 * different op orders; the largest terms are sums of ≤ 49·30 products, so 1e-4 relative is
 * ~1000 ulp: far above rounding, far below any formula error (O(1)).
 */
const TOL = 1e-4;

type Build = (o: { derivatives?: boolean; verify?: boolean }) => ReconstructionProblem;
const CASES: Record<string, Build> = {
  'smoothed TV': (o) => tvDenoisingProblem({ nu: 0.1, alpha: 0.2, ...o }),
  'smoothed TV, learned ν': (o) => tvDenoisingProblem({ nu: 0.1, alpha: 0.2, learnNu: true, ...o }),
  'Huber TV': (o) => tvDenoisingProblem({ nu: 0.3, alpha: 0.2, kind: 'huber', ...o }),
  '(Ex), symmetric padding': (o) => filterModelProblem({ size: 5, count: 4, epsilon: 0.2, beta0: 0, ...o }),
  '(Ex), same padding, ξ = 0.1': (o) => filterModelProblem({ size: 3, count: 3, epsilon: 0.2, padding: 'same', xi: 0.1, ...o }),
  'FoE Student-t, symmetric': (o) => foeProblem({ size: 5, alpha: 0.05, nu: 0.3, ...o }),
  'FoE Student-t, valid': (o) => foeProblem({ size: 3, alpha: 0.05, nu: 0.3, padding: 'valid', ...o }),
  'FoE Charbonnier, same': (o) => foeProblem({ size: 3, alpha: 0.05, nu: 0.3, padding: 'same', expert: 'charbonnier', ...o }),
};

describeEachBackend('imaging: analytic derivatives of the regularizers', () => {
  for (const [name, build] of Object.entries(CASES)) {
    it(`${name}: gradient, value, HVP and mixed product match autodiff; verify accepts them`, () => {
      const before = tf.memory().numTensors;
      const fast = build({ verify: true });
      const auto = build({ derivatives: false });
      expect(fast.problem.supplied).toEqual({ gradient: true, hessian: true, mixed: true });
      expect(auto.problem.supplied).toEqual({ gradient: false, hessian: false, mixed: false });
      const x = tf.tidy(() => tf.add(0.5, tf.mul(0.3, randn([2, 12, 11, 1], 1))));
      const v = randn([2, 12, 11, 1], 2);
      const data = { y: tf.tidy(() => tf.add(x, tf.mul(0.1, randn(x.shape, 3)))) };
      // perturb θ away from its symmetric initial values so every component matters
      const theta: Params = {};
      for (const [k, t] of Object.entries(fast.theta)) theta[k] = tf.tidy(() => tf.add(t, tf.mul(0.05, randn(t.shape, 4 + k.length))));
      const pairs: Array<[tf.Tensor, tf.Tensor]> = [];
      pairs.push([fast.problem.gradient(x, theta, data), auto.problem.gradient(x, theta, data)]);
      const vf = fast.problem.valueAndGradient(x, theta, data);
      const va = auto.problem.valueAndGradient(x, theta, data);
      pairs.push([vf.value, va.value], [vf.grad, va.grad]);
      pairs.push([fast.problem.hvp(x, theta, data, v), auto.problem.hvp(x, theta, data, v)]);
      const mf = fast.problem.mixed(x, theta, data, v);
      const ma = auto.problem.mixed(x, theta, data, v);
      expect(Object.keys(mf).sort()).toEqual(Object.keys(ma).sort());
      for (const k of Object.keys(ma)) pairs.push([mf[k], ma[k]]);
      for (const [i, [a, b]] of pairs.entries()) {
        expect(a.shape, `pair ${i}`).toEqual(b.shape);
        expect(relErr(a, b), `pair ${i}`).toBeLessThan(TOL);
      }
      tf.dispose([...pairs.flat(), x, v, data.y]);
      disposeParams(theta);
      fast.dispose();
      auto.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('with a blur operator the data term is Aᵀ(Ax − y) and its Hessian AᵀA', () => {
    const A = blur({ sigma: 1, size: 5 });
    const fast = tvDenoisingProblem({ nu: 0.1, alpha: 0.2, operator: A });
    const auto = tvDenoisingProblem({ nu: 0.1, alpha: 0.2, operator: A, derivatives: false });
    const x = randn([1, 10, 10, 1], 5);
    const v = randn([1, 10, 10, 1], 6);
    const data = { y: randn([1, 10, 10, 1], 7) };
    const g = [fast.problem.gradient(x, fast.theta, data), auto.problem.gradient(x, auto.theta, data)];
    const h = [fast.problem.hvp(x, fast.theta, data, v), auto.problem.hvp(x, auto.theta, data, v)];
    expect(relErr(g[0], g[1])).toBeLessThan(TOL);
    expect(relErr(h[0], h[1])).toBeLessThan(TOL);
    tf.dispose([...g, ...h, x, v, data.y]);
    fast.dispose();
    auto.dispose();
    A.dispose();
  });

  it('symmetricPadAdjoint is the adjoint of symmetricPad', () => {
    for (const [before, after] of [[1, 1], [2, 2], [1, 2], [0, 3], [3, 0]]) {
      const x = randn([2, 7, 6, 1], 8);
      const g = randn([2, 7 + before + after, 6 + before + after, 1], 9);
      const [lhs, rhs] = tf.tidy(() => [tf.sum(tf.mul(symmetricPad(x, before, after), g)).dataSync()[0], tf.sum(tf.mul(x, symmetricPadAdjoint(g, before, after))).dataSync()[0]]);
      // sums of ~100 O(1) products: 1e-5 relative is ~100 ulp
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * Math.max(1, Math.abs(lhs)));
      tf.dispose([x, g]);
    }
  });
});
