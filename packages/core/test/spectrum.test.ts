import { it, expect, describe } from 'vitest';
import { eigs } from 'mathjs';
import { tridiagonalEigenvalue } from '../src/internal/tridiagonal.js';
import { tf, powerIteration, lanczos, estimateLipschitz, estimateStrongConvexity, defineProblem, type MatVec } from '../src/index.js';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';

/*
 * Tolerances: eigenvalue estimates are Rayleigh quotients / Ritz values computed in
 * float32, whose relative error is ~1e-6·κ at best; 1e-4 relative leaves margin while
 * still being far below any estimation error that would matter (steps 1/L, bounds 1/μ).
 */
const REL = 1e-4;

/** Symmetric A = Q diag(λ) Q, Q a Householder reflector. */
function symmetric(lambdas: number[], seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const n = lambdas.length;
    const u = randn([n, 1], seed);
    const Q = tf.sub(tf.eye(n), tf.mul(2 / tf.sum(tf.square(u)).dataSync()[0], tf.matMul(u, u, false, true)));
    const A = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas))), Q);
    return tf.div(tf.add(A, tf.transpose(A)), 2) as tf.Tensor2D;
  });
}
const times = (A: tf.Tensor2D): MatVec => (v) => tf.reshape(tf.matMul(A, tf.reshape(v, [-1, 1])), v.shape);
const close = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describeEachBackend('spectrum', (backend) => {
  const n = backend === 'cpu' ? 12 : 24;
  // Gaps at both ends so power iteration converges fast: {1} ∪ [3, 6] ∪ {10}.
  const lambdas = [1, ...Array.from({ length: n - 2 }, (_, i) => 3 + (3 * i) / (n - 3)), 10];

  it('lanczos with m = n recovers λ_min and λ_max', () => {
    const A = symmetric(lambdas, 1);
    const like = tf.zeros([n]);
    const before = tf.memory().numTensors;
    const r = lanczos(times(A), like, { iterations: n });
    expect(close(r.max, 10)).toBeLessThan(REL);
    expect(close(r.min, 1)).toBeLessThan(REL);
    expect(r.matvecs).toBeLessThanOrEqual(n);
    // On the shared loop: m fixed steps (or an invariant subspace, exact Ritz values).
    expect(['fixed-steps', 'converged']).toContain(r.status);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([A, like]);
  });

  it('lanczos with few steps brackets the spectrum from inside and is already close', () => {
    const A = symmetric(linspaceArr(1, 50, n), 2);
    const like = tf.zeros([2, n / 2]);
    const r = lanczos(times(A), like, { iterations: 10, seed: 3 });
    expect(r.max).toBeLessThanOrEqual(50 * (1 + 1e-5));
    expect(r.min).toBeGreaterThanOrEqual(1 * (1 - 1e-5));
    expect(close(r.max, 50)).toBeLessThan(0.05);
    tf.dispose([A, like]);
  });

  it('power iteration estimates λ_max, and λ_min with min: true', () => {
    const A = symmetric(lambdas, 4);
    const like = tf.zeros([n]);
    const before = tf.memory().numTensors;
    const r = powerIteration(times(A), like, { maxIter: 300, tol: 1e-7, min: true });
    expect(close(r.max, 10)).toBeLessThan(REL);
    expect(close(r.min, 1)).toBeLessThan(10 * REL); // λ_min = λ_max − (λ_max − λ_min): cancellation costs a digit
    expect(r.status).toBe('converged');
    const maxOnly = powerIteration(times(A), like);
    expect(Number.isNaN(maxOnly.min)).toBe(true);
    // The shared loop's cap: 2 iterations cannot meet tol 1e-7 on a gap ratio 6/10.
    const capped = powerIteration(times(A), like, { maxIter: 2, tol: 1e-7 });
    expect(capped.status).toBe('max-iterations');
    expect(capped.iterations).toBe(2);
    expect(capped.matvecs).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([A, like]);
  });

  it('estimateLipschitz and estimateStrongConvexity read L and μ off the Hessian of an energy', () => {
    const A = symmetric(lambdas, 5);
    const problem = defineProblem<{ A: tf.Tensor2D }>({
      energy: (x, _t, d) => tf.mul(0.5, tf.sum(tf.mul(x, tf.reshape(tf.matMul(d.A, tf.reshape(x, [-1, 1])), x.shape)))),
    });
    const x = randn([n], 6);
    const before = tf.memory().numTensors;
    expect(close(estimateLipschitz(problem, x, {}, { A }, { iterations: n }), 10)).toBeLessThan(REL);
    expect(close(estimateStrongConvexity(problem, x, {}, { A }, { iterations: n }), 1)).toBeLessThan(REL);
    expect(close(estimateLipschitz(problem, x, {}, { A }, { iterations: n, safety: 2 }), 20)).toBeLessThan(REL);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([A, x]);
  });

  it('validates arguments and options', () => {
    const like = tf.zeros([4]);
    const id: MatVec = (v) => v.clone();
    expect(() => lanczos(id, like, { iterations: 0 })).toThrow(/lanczos: option 'iterations'/);
    expect(() => powerIteration(id, like, { tol: -1 })).toThrow(/powerIteration: option 'tol'/);
    expect(() => powerIteration(id, like, { iters: 3 } as never)).toThrow(/unknown option 'iters'/);
    expect(() => lanczos(id, 3 as never)).toThrow(/lanczos: 'like' must be a tf.Tensor/);
    expect(() => lanczos((v) => tf.reshape(v, [2, 2]), like)).toThrow(/matvec must return a tensor shaped like/);
    expect(() => powerIteration((v) => tf.mul(v, NaN), like)).toThrow(/NaN/);
    const problem = defineProblem({ energy: (x) => tf.sum(tf.square(x)) });
    const nanX = tf.fill([4], NaN);
    expect(() => estimateLipschitz(problem, nanX, {}, {})).toThrow(/estimateLipschitz: 'x' contains NaN/);
    expect(() => estimateLipschitz(problem, like, {}, {}, { safety: 0.5 })).toThrow(/option 'safety'/);
    // identity: Lanczos stops at the first step (invariant subspace), estimates are exact.
    const r = lanczos(id, like);
    expect(r.iterations).toBe(1);
    expect(r.status).toBe('converged');
    expect(close(r.max, 1)).toBeLessThan(1e-6);
    // A throwing matvec mid-run releases the basis (the shared loop's cleanup).
    const d = tf.tensor1d([1, 2, 3, 4]);
    const before = tf.memory().numTensors;
    let calls = 0;
    expect(() => lanczos((v) => { if (++calls === 3) throw new Error('matvec failed'); return tf.mul(v, d); }, like)).toThrow(/matvec failed/);
    expect(calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    d.dispose();
    tf.dispose([like, nanX]);
  });
});

function linspaceArr(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

describe('tridiagonalEigenvalue (Sturm bisection)', () => {
  it('matches mathjs eigs on random symmetric tridiagonal matrices to 1e-13 relative, every k', () => {
    let seed = 5;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const m of [1, 2, 7, 30]) {
      const alpha = Array.from({ length: m }, () => 10 * rand() - 5);
      const beta = Array.from({ length: m - 1 }, () => 2 * rand() - 1);
      const T = alpha.map((a, i) => alpha.map((_, j) => (i === j ? a : j === i + 1 ? beta[i] : i === j + 1 ? beta[j] : 0)));
      const reference = [...(eigs(T, { eigenvectors: false }).values as number[])].sort((a, b) => a - b);
      const scale = Math.max(...reference.map(Math.abs));
      for (let k = 0; k < m; k++) expect(Math.abs(tridiagonalEigenvalue(alpha, beta, k) - reference[k])).toBeLessThan(1e-13 * scale);
    }
  });
});
