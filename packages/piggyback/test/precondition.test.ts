import { it, expect } from 'vitest';
import { tf, defineSaddle, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend } from '@bilevel/testing/vitest';
import { B, CASES, buildBatch, truth, problemSpec, nrm, type D, boundOverError } from './cubic-batch.js';
import { piggyback } from '../src/index.js';
import { pdhg, RESIDUAL_BALANCING } from '../src/internal/pdhg.js';
import { piggybackAdjoint } from '../src/internal/adjoint.js';
import { diagonalSteps } from '../src/internal/precondition.js';

// Pock & Chambolle's α per setting (0 and 2 are the ends of their family) and whether residual
// balancing moves the ratio on top of the diagonals (from σ/τ = 10 or 0.1).
const ALPHAS = [1, 0.5, 1.5, 2, 0, 1, 0.25, 1.75];
const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** ‖Σ^{1/2}KT^{1/2}‖ in float64 by power iteration (K m × n, τ per column, σ per row). */
function scaledNorm(K: number[][], tau: number[], sigma: number[]): number {
  const M = K.map((row, i) => row.map((v, j) => Math.sqrt(sigma[i]) * v * Math.sqrt(tau[j])));
  let v = new Array(K[0].length).fill(1);
  let s = 0;
  for (let it = 0; it < 300; it++) {
    const w = M[0].map((_, j) => M.reduce((acc, row) => acc + row[j] * row.reduce((a, x, k) => a + x * v[k], 0), 0));
    s = nrm(w);
    v = w.map((x) => x / s);
  }
  return Math.sqrt(s);
}

describeEachBackend('piggyback diagonal preconditioning (Pock & Chambolle 2011)', () => {
  it('bound ≥ true hypergradient error in each of 1,000 random closed-form trials with diagonal steps (α from 0 to 2, half with residual balancing); ‖Σ^{1/2}KT^{1/2}‖ ≤ s', () => {
    const before = tf.memory().numTensors;
    const ratios: number[] = [];
    let worst = Infinity;
    let worstNorm = 0;
    let spread = 0;
    let adaptations = 0;
    CASES.forEach((c, ci) => {
      const q = buildBatch(c, B, 2000 + ci);
      const data = q.data();
      const theta = q.theta();
      const alpha = ALPHAS[ci];
      const balanced = ci % 2 === 1;
      const ratio = balanced ? (ci % 4 === 1 ? 10 : 0.1) : 1;
      const diag = diagonalSteps(q.problem, theta, data, alpha, 'diagonal');
      const tauD = diag.tau!.arraySync() as number[][];
      const sigmaD = diag.sigma!.arraySync() as number[][];
      // the Lemma-2 condition at s = 0.95, checked in float64 on every sample
      for (let s = 0; s < B; s++) {
        worstNorm = Math.max(worstNorm, scaledNorm(q.Ks[s], tauD[s].map((t) => 0.95 * t), sigmaD[s].map((t) => 0.95 * t)));
        spread = Math.max(spread, Math.max(...tauD[s]) / Math.min(...tauD[s]), Math.max(...sigmaD[s]) / Math.min(...sigmaD[s]));
      }
      const x0 = tf.zeros([B, 4]);
      const z0 = tf.zeros([B, 5]);
      const steps = { tau: 0.95 / Math.sqrt(ratio), sigma: 0.95 * Math.sqrt(ratio), mu: 0, balance: balanced ? RESIDUAL_BALANCING : undefined, diagonal: { tau: diag.tau, sigma: diag.sigma } };
      const fwd = pdhg(q.problem, theta, data, x0, z0, steps, 1e-30, c.itF, true);
      adaptations += fwd.adaptations;
      const lossGrad = tf.tidy(() => tf.tanh(tf.sub(fwd.x, data.t)));
      const last = fwd.last!;
      // the adjoint at the diagonal steps of PDHG's last step, frozen
      const tauLast = tf.mul(diag.tau!, fwd.tau);
      const sigmaLast = tf.mul(diag.sigma!, fwd.sigma);
      const adj = piggybackAdjoint(q.problem, theta, data, lossGrad, last.xPrev, last.zPrev, tauLast, sigmaLast, undefined, undefined, 1e-30, c.itA, true);
      const al = adj.last!;
      for (const r of boundOverError(c, q, theta, data, { ...fwd, last }, al, lossGrad)) {
        ratios.push(r);
        worst = Math.min(worst, r);
      }
      q.dispose();
      tf.dispose([x0, z0, lossGrad, tauLast, sigmaLast, diag.tau!, diag.sigma!, fwd.x, fwd.z, ...Object.values(last), ...Object.values(al), adj.a, adj.b, ...Object.values(theta), ...Object.values(data)]);
    });
    console.log(`diagonal preconditioning, ${ratios.length} trials (${adaptations} balancing adaptations): bound/error min ${worst.toFixed(3)}, median ${median(ratios).toFixed(2)}, max ${Math.max(...ratios).toExponential(2)}; max ‖Σ^{1/2}KT^{1/2}‖ ${worstNorm.toFixed(4)} (s = 0.95); max diagonal spread ${spread.toFixed(1)}×`);
    expect(ratios.length).toBe(1000);
    expect(worst).toBeGreaterThanOrEqual(1);
    // Lemma 2 of Pock & Chambolle: ‖Σ^{1/2}KT^{1/2}‖ ≤ 1 before the factor s (float64 power iteration, 300 steps)
    expect(worstNorm).toBeLessThanOrEqual(0.95 * (1 + 1e-9));
    // the diagonals really differ from scalar steps, and balancing really moved the ratio
    expect(spread).toBeGreaterThan(2);
    expect(adaptations).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('one adjoint step with diagonal steps is the exact transpose of the PDHG step (autodiff VJP of (x, z) ↦ (x⁺, z⁺))', () => {
    const before = tf.memory().numTensors;
    const c = CASES[3];
    const q = buildBatch(c, 6, 31);
    const data = q.data();
    const theta = q.theta();
    const diag = diagonalSteps(q.problem, theta, data, 1, 'diagonal');
    const tauT = tf.mul(diag.tau!, 0.7);
    const sigmaT = tf.mul(diag.sigma!, 1.2);
    const x = tf.randomNormal([6, 4], 0, 1, 'float32', 3);
    const z = tf.randomNormal([6, 5], 0, 1, 'float32', 4);
    const a = tf.randomNormal([6, 4], 0, 1, 'float32', 5);
    const b = tf.randomNormal([6, 5], 0, 1, 'float32', 6);
    const step = (xx: tf.Tensor, zz: tf.Tensor) => {
      const xp = q.problem.proxGDiagonal!(tf.sub(xx, tf.mul(q.problem.adjoint(zz, theta, data, [6, 4]), tauT)), tauT, theta, data);
      const zp = q.problem.proxFStarDiagonal!(tf.add(zz, tf.mul(q.problem.apply(tf.sub(tf.mul(xp, 2), xx), theta, data), sigmaT)), sigmaT, theta, data);
      return tf.add(tf.sum(tf.mul(a, xp)), tf.sum(tf.mul(b, zp)));
    };
    const [gx, gz] = tf.grads(step)([x, z]);
    const zero = tf.zerosLike(x);
    const adj = piggybackAdjoint(q.problem, theta, data, zero, x, z, tauT, sigmaT, a, b, 1e-30, 1);
    const gap = tf.tidy(() => tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(adj.a, gx))), tf.sum(tf.square(tf.sub(adj.b, gz))))).dataSync()[0]);
    const size = tf.tidy(() => tf.sqrt(tf.add(tf.sum(tf.square(gx)), tf.sum(tf.square(gz)))).dataSync()[0]);
    // float32 round-off of two prox VJPs and K, Kᵀ on entries of size ~1: ~1e-6 relative
    expect(gap / size).toBeLessThan(1e-5);
    expect(size).toBeGreaterThan(0.1);
    tf.dispose([tauT, sigmaT, diag.tau!, diag.sigma!, x, z, a, b, gx, gz, zero, adj.a, adj.b, ...Object.values(adj.grad), ...Object.values(theta), ...Object.values(data)]);
    q.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("hypergradient(piggyback({ precondition })) matches the exact hypergradient with bound ≥ error; 'primal' works without proxFStarDiagonal; misuse is refused naming the option", () => {
    const before = tf.memory().numTensors;
    for (const [ci, c] of [CASES[1], CASES[5], CASES[6]].entries()) {
      const q = buildBatch(c, 8, 300 + ci);
      const data = q.data();
      const theta = q.theta();
      const exact = q.Ks.flatMap((K, s) => truth(c, K, q.bs[s], q.ds[s], q.ts[s]).grad);
      const rows: string[] = [];
      for (const precondition of [false, 'diagonal', 'primal', 'dual'] as const) {
        const strategy = piggyback({ lossLipschitz: 1, warmStart: false, precondition });
        const r = hypergradient({ problem: q.problem, theta, data, loss: q.loss, strategy, tol: 1e-5, linearTol: 1e-5 });
        const err = nrm(Array.from(r.grad.K.dataSync()).map((v, i) => v - exact[i]));
        expect(r.status).toBe('converged');
        expect(r.bound!).toBeGreaterThanOrEqual(err);
        // tol 1e-5 on residuals of size ~1, distances tol/μ ≥ 3e-5: relative error ≲ 1e-4
        expect(err / nrm(exact)).toBeLessThan(1e-3);
        if (precondition !== false) expect(r.message).toMatch(/preconditioning \(Pock & Chambolle 2011, α = 1\)/);
        rows.push(`${precondition || 'constant'} ${r.work.innerIterations} + ${r.work.linearIterations} (rel. error ${(err / nrm(exact)).toExponential(1)})`);
        r.dispose();
        strategy.dispose();
      }
      console.log(`case ${ci}: PDHG + adjoint iterations to 1e-5: ${rows.join(', ')}`);
      tf.dispose([...Object.values(theta), ...Object.values(data)]);
      q.dispose();
    }
    const q = buildBatch(CASES[0], 2, 9);
    const data = q.data();
    const theta = q.theta();
    const spec = problemSpec(q.problem);
    const noSums = defineSaddle<D>({ ...spec, absoluteSums: undefined });
    const noDual = defineSaddle<D>({ ...spec, proxFStarDiagonal: undefined });
    const run = (problem: typeof noSums, precondition: 'diagonal' | 'primal') => {
      const strategy = piggyback({ precondition, tol: 1e-4, linearTol: 1e-4 });
      try {
        return hypergradient({ problem, theta, data, loss: q.loss, strategy });
      } finally {
        strategy.dispose();
      }
    };
    expect(() => run(noSums, 'diagonal')).toThrow(/option 'precondition: 'diagonal'' needs .* absoluteSums/);
    expect(() => run(noDual, 'diagonal')).toThrow(/no proxFStarDiagonal .* precondition: 'primal'/);
    const r = run(noDual, 'primal');
    expect(r.status).toBe('converged');
    r.dispose();
    expect(() => piggyback({ precondition: 'diagonal', accelerate: true })).toThrow(/'accelerate: true' and 'precondition: 'diagonal'' exclude each other/);
    expect(() => piggyback({ preconditionAlpha: 3 })).toThrow(/preconditionAlpha/);
    expect(() => piggyback({ precondition: 'rows' as never })).toThrow(/precondition/);
    tf.dispose([...Object.values(theta), ...Object.values(data)]);
    q.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
