import { it, expect, describe, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { randn } from '@bilevel/testing/vitest';
import { convexNetworkSaddle, radon, ctPhantoms, scaledOperator } from '../src/index.js';
import type { LinearOperator } from '../src/index.js';

/*
 * Diagonal preconditioning (Pock & Chambolle 2011) on the FoE (35) / ICNN (33) saddles of small
 * sparse-view CT: the sums come from radon's and the convolutions' absoluteSums, the epigraph pairs
 * share steps, and the piggyback hypergradient agrees with the constant-step one.
 */
beforeAll(async () => {
  await initBackend();
});

const n = 8;
type CtData = { y: tf.Tensor; t: tf.Tensor };
const network = { channels: 4, outChannels: 2, size: 3, gamma: 0.05, scale: 0.5, seed: 1, smoothing: 0.2 };

/** Â = A/c (scaledOperator: |A/c|^p = c^{−p}|A|^p), or the same without absoluteSums; dispose() frees A too. */
function scaledRadon(withSums: boolean): LinearOperator {
  const A = radon(n, { angles: 6 });
  const op = scaledOperator(A, 1 / (1.01 * 4.1), { normBound: 1, name: 'Â' });
  return { ...op, absoluteSums: withSums ? op.absoluteSums : undefined, dispose: () => A.dispose() };
}

describe('convexNetworkSaddle with precondition: diagonal', () => {
  for (const layers of [1, 2] as const) {
    it(`${layers === 2 ? 'ICNN' : 'FoE'}: the preconditioned piggyback hypergradient equals the constant-step one; without the operator's absoluteSums the option is refused`, () => {
      const before = tf.memory().numTensors;
      const op = scaledRadon(true);
      const { train, test, sheppLogan } = ctPhantoms({ size: n, count: 1, testCount: 0, seed: 3 });
      tf.dispose([test, sheppLogan]);
      const data: CtData = { t: train, y: tf.tidy(() => tf.add(op.apply(train), tf.mul(randn(op.apply(train).shape, 5), 0.01))) };
      const saddle = convexNetworkSaddle<CtData>({ ...network, layers, operator: op, mu: 0.05, zWeight: 0.05, dualSmoothing: 0.05 });
      const loss = (u: tf.Tensor, _th: Params, d: { t: tf.Tensor }) => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(saddle.image(u), d.t)))));
      const grads: Record<string, number[]> = {};
      const rows: string[] = [];
      for (const precondition of [false, 'diagonal'] as const) {
        const strategy = piggyback({ tol: 1e-5, linearTol: 1e-5, maxIter: 20000, linearMaxIter: 20000, lossLipschitz: 1, lossWeight: 0.05, warmStart: false, precondition });
        const r = hypergradient({ problem: saddle.problem, theta: saddle.theta, data, loss, strategy });
        expect(r.status).toBe('converged');
        grads[String(precondition)] = Object.keys(r.grad).sort().flatMap((k) => Array.from(r.grad[k].dataSync()));
        rows.push(`${precondition || 'constant'} ${r.work.innerIterations} + ${r.work.linearIterations}`);
        r.dispose();
        strategy.dispose();
      }
      const a = grads.false;
      const b = grads.diagonal;
      const rel = Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.reduce((s, v) => s + v * v, 0));
      console.log(`${layers} layers: PDHG + adjoint iterations to 1e-5: ${rows.join(', ')}; relative hypergradient difference ${rel.toExponential(2)}`);
      // both solves to residual 1e-5 with moduli 0.05: distances ≤ 2e-4 on O(1) iterates (measured 2.4e-5 at 1e-6)
      expect(rel).toBeLessThan(3e-3);
      const bareOp = scaledRadon(false);
      const bare = convexNetworkSaddle<CtData>({ ...network, layers, operator: bareOp, mu: 0.05, zWeight: 0.05, dualSmoothing: 0.05 });
      const strategy = piggyback({ precondition: 'diagonal' });
      expect(() => hypergradient({ problem: bare.problem, theta: bare.theta, data, loss, strategy })).toThrow(/precondition: 'diagonal'' needs .* absoluteSums/);
      strategy.dispose();
      disposeParams(bare.theta);
      bareOp.dispose();
      disposeParams(saddle.theta);
      tf.dispose([data.t, data.y]);
      op.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
