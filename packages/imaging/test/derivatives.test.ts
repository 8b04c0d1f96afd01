import { it, expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { tvDenoisingProblem, filterModelProblem, foeProblem, icnnProblem, blur } from '../src/index.js';
import type { ReconstructionProblem } from '../src/index.js';
import { symmetricPad } from '../src/internal/params.js';
import { symmetricPadAdjoint } from '../src/internal/filter-derivatives.js';
import { expectDerivativesMatchAutodiff } from './helpers.js';

/*
 * The regularizers' analytic derivatives against autodiff of the same energy (the oracle),
 * at a random x and direction v. Both are float32 evaluations of the same quantities in
 * different op orders; the largest terms are sums of ≤ 49·30 products, so 1e-4 relative is
 * ~1000 ulp: far above rounding, far below any formula error (O(1)).
 */
const TOL = 1e-4;

type Build = (o: { derivatives?: boolean; verify?: boolean }) => ReconstructionProblem;
const CASES: Record<string, Build> = {
  'ICNN, 1 layer': (o) => icnnProblem({ layers: 1, channels: 3, size: 3, alpha: 0.5, scale: 0.5, ...o }),
  'ICNN, 2 layers': (o) => icnnProblem({ layers: 2, channels: 3, size: 5, alpha: 0.5, scale: 0.5, ...o }),
  'ICNN, 3 layers, even side': (o) => icnnProblem({ layers: 3, channels: 2, size: 4, alpha: 0.5, scale: 0.5, ...o }),
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
      const { supplied } = expectDerivativesMatchAutodiff(() => [build({ verify: true }), build({ derivatives: false })], [2, 12, 11, 1], TOL);
      expect(supplied).toEqual([{ gradient: true, hessian: true, mixed: true }, { gradient: false, hessian: false, mixed: false }]);
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
