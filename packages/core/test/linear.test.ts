import { it, expect } from 'vitest';
import { tf, cg, richardson, neumann, gmres, type MatVec } from '../src/index.js';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';

/*
 * Tolerances. Solves stop on ‖b − Ax‖ ≤ 1e-5·‖b‖: the float32 matvec has a relative error
 * of ~1e-6, so 1e-5 is reliably reachable. The error bound used in the checks is the
 * textbook ‖x − x̂‖ ≤ ‖A⁻¹‖·‖b − Ax‖ with ‖A⁻¹‖ = 1/λ_min (SPD) or ≤ 1/λ_min(sym part)
 * (non-symmetric with positive definite symmetric part), plus 1e-6·‖x̂‖ for storing x̂ in
 * float32.
 */
const TOL = 1e-5;

/** SPD (or indefinite) A = Q diag(λ) Q with Q a Householder reflector, and A⁻¹ the same way. */
function matrix(lambdas: number[], seed: number): { A: tf.Tensor2D; Ainv: tf.Tensor2D } {
  return tf.tidy(() => {
    const n = lambdas.length;
    const u = randn([n, 1], seed);
    const Q = tf.sub(tf.eye(n), tf.mul(2 / tf.sum(tf.square(u)).dataSync()[0], tf.matMul(u, u, false, true)));
    const A = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas))), Q);
    const Ainv = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas.map((l) => 1 / l)))), Q) as tf.Tensor2D;
    return { A: tf.div(tf.add(A, tf.transpose(A)), 2) as tf.Tensor2D, Ainv };
  });
}

const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
/** Row-batched matvec: each row v_i ↦ A v_i (A symmetric, so v A = (A v)ᵀ row-wise). */
const rowsTimes = (A: tf.Tensor2D): MatVec => (v) => tf.matMul(v as tf.Tensor2D, A, false, true);
const norm = (t: tf.Tensor) => tf.tidy(() => tf.norm(t).dataSync()[0]);
const distance = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0]);

describeEachBackend('linear solvers', (backend) => {
  const n = backend === 'cpu' ? 16 : 30;
  const LMAX = 10;

  const spdCase = (seed: number, rows = 4) => {
    const { A, Ainv } = matrix(linspace(1, LMAX, n), seed);
    const b = randn([rows, n], seed + 100) as tf.Tensor2D;
    const xHat = tf.matMul(b, Ainv, false, true);
    return { A, Ainv, b, xHat, dispose: () => tf.dispose([A, Ainv, b, xHat]) };
  };

  const solvers = {
    cg: () => cg({ tol: TOL }),
    richardson: () => richardson({ step: 1 / LMAX, tol: TOL, maxIter: 2000 }),
    gmres: () => gmres({ tol: TOL, restart: 10 }),
  };
  for (const [name, make] of Object.entries(solvers)) {
    it(`${name} solves a batched SPD system (κ = 10) to tolerance, with the true residual reported`, () => {
      const c = spdCase(1);
      const before = tf.memory().numTensors;
      const r = make().solve(rowsTimes(c.A), c.b);
      expect(r.status, r.message).toBe('converged');
      expect(r.converged).toBe(true);
      const trueResidual = tf.tidy(() => norm(tf.sub(c.b, rowsTimes(c.A)(r.x))));
      expect(Math.abs(r.residualNorm - trueResidual)).toBeLessThanOrEqual(1e-6 * norm(c.b));
      expect(r.residualNorm).toBeLessThanOrEqual(TOL * norm(c.b));
      expect(distance(r.x, c.xHat)).toBeLessThanOrEqual(r.residualNorm / 1 + 1e-6 * norm(c.xHat));
      expect(r.work.linearIterations).toBe(r.iterations);
      expect(r.work.hvps).toBeGreaterThanOrEqual(r.iterations);
      r.x.dispose();
      expect(tf.memory().numTensors).toBe(before);
      c.dispose();
    });
  }

  it('cg needs at most n iterations (plus float32 slack) and warm starts from the solution in 0 iterations', () => {
    const c = spdCase(2, 1);
    const r = cg({ tol: TOL }).solve(rowsTimes(c.A), c.b);
    expect(r.converged).toBe(true);
    // κ = 10: CG's bound 2((√κ−1)/(√κ+1))^k ≤ 1e-5 gives k ≤ 20.
    expect(r.iterations).toBeLessThanOrEqual(20);
    const warm = cg({ tol: TOL }).solve(rowsTimes(c.A), c.b, { x0: r.x });
    expect(warm.iterations).toBe(0);
    expect(warm.converged).toBe(true);
    tf.dispose([r.x, warm.x]);
    c.dispose();
  });

  it('richardson iterate k from 0 equals the Neumann series s Σ_{j<k} (I − sA)^j b', () => {
    const c = spdCase(3, 2);
    const k = 7;
    const s = 1 / LMAX;
    const rich = richardson({ step: s, tol: 0, maxIter: k }).solve(rowsTimes(c.A), c.b);
    const neu = neumann({ step: s, terms: k }).solve(rowsTimes(c.A), c.b);
    expect(rich.iterations).toBe(k);
    expect(neu.iterations).toBe(k);
    // Built term by term from the definition.
    const series = tf.tidy(() => {
      let term: tf.Tensor = c.b;
      let sum: tf.Tensor = c.b;
      for (let j = 1; j < k; j++) {
        term = tf.sub(term, tf.mul(rowsTimes(c.A)(term), s));
        sum = tf.add(sum, term);
      }
      return tf.mul(sum, s);
    });
    expect(relErr(rich.x, series)).toBeLessThan(1e-5);
    expect(relErr(neu.x, series)).toBeLessThan(1e-5);
    expect(Math.abs(rich.residualNorm - neu.residualNorm)).toBeLessThan(1e-5 * norm(c.b));
    tf.dispose([rich.x, neu.x, series]);
    c.dispose();
  });

  it('neumann with enough terms meets the tolerance; too few terms is reported as not converged', () => {
    const c = spdCase(4);
    // Residual (I − A/10)^K b decays like 0.9^K: K = 150 gives 1.4e-7·‖b‖.
    const good = neumann({ step: 1 / LMAX, terms: 150, tol: TOL }).solve(rowsTimes(c.A), c.b);
    expect(good.status, good.message).toBe('converged');
    expect(distance(good.x, c.xHat)).toBeLessThanOrEqual(good.residualNorm + 1e-6 * norm(c.xHat));
    expect(good.work.hvps).toBe(150);
    const short = neumann({ step: 1 / LMAX, terms: 5, tol: TOL }).solve(rowsTimes(c.A), c.b);
    expect(short.converged).toBe(false);
    expect(short.status).toBe('max-iterations');
    expect(short.message).toMatch(/increase terms/);
    tf.dispose([good.x, short.x]);
    c.dispose();
  });

  it('gmres solves a non-symmetric system (SPD + skew), with restarts', () => {
    const before = tf.memory().numTensors;
    const { A: S, Ainv } = matrix(linspace(1, LMAX, n), 5);
    const K = randn([n, n], 6);
    // A = S + (K − Kᵀ)/2: non-symmetric, xᵀAx = xᵀSx ≥ ‖x‖², so ‖A⁻¹‖ ≤ 1.
    const A = tf.tidy(() => tf.add(S, tf.mul(0.5, tf.sub(K, tf.transpose(K))))) as tf.Tensor2D;
    const xHat = randn([2, n], 7);
    const matvec: MatVec = (v) => tf.matMul(v as tf.Tensor2D, A, false, true);
    const b = matvec(xHat);
    const r = gmres({ tol: TOL, restart: 8, maxIter: 500 }).solve(matvec, b);
    expect(r.status, r.message).toBe('converged');
    expect(distance(r.x, xHat)).toBeLessThanOrEqual(r.residualNorm + 1e-6 * norm(xHat) + 1e-6 * norm(b));
    // CG assumes symmetry: on this operator it must not claim success with a wrong answer.
    const wrong = cg({ tol: TOL, maxIter: 3 * n }).solve(matvec, b);
    if (wrong.converged) expect(wrong.residualNorm).toBeLessThanOrEqual(TOL * norm(b));
    tf.dispose([S, Ainv, K, A, xHat, b, r.x, wrong.x]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("cg reports 'non-positive-curvature' on an indefinite matrix, with a message saying so", () => {
    const lambdas = linspace(1, LMAX, n);
    lambdas[0] = -2;
    lambdas[3] = -0.5;
    const { A, Ainv } = matrix(lambdas, 8);
    const b = randn([1, n], 9);
    const r = cg().solve(rowsTimes(A), b);
    expect(r.status).toBe('non-positive-curvature');
    expect(r.converged).toBe(false);
    expect(r.message).toMatch(/not positive definite/);
    expect(r.message).toMatch(/gmres/);
    // gmres handles the (non-singular) indefinite system.
    const g = gmres({ tol: TOL, restart: n }).solve(rowsTimes(A), b);
    expect(g.converged, g.message).toBe(true);
    tf.dispose([A, Ainv, b, r.x, g.x]);
  });

  it('1,000 cg iterations (and 1,000 richardson, gmres at tol 0 until it stalls) leave the tensor count unchanged', () => {
    const c = spdCase(10, 1);
    const before = tf.memory().numTensors;
    const r = cg({ tol: 0, maxIter: 1000 }).solve(rowsTimes(c.A), c.b);
    expect(r.iterations).toBe(1000);
    r.x.dispose();
    const rich = richardson({ step: 0.1, tol: 0, maxIter: 1000 }).solve(rowsTimes(c.A), c.b, { x0: c.b });
    expect(rich.iterations).toBe(1000);
    rich.x.dispose();
    const g = gmres({ tol: 0, maxIter: 300, restart: 7 }).solve(rowsTimes(c.A), c.b);
    // tol 0 is below float32's reach: GMRES stops when a restart cycle no longer lowers the
    // true residual, and says so (measured, scripts/gmres-accuracy.ts: after 70 matvecs on wasm
    // at ‖b − Ax‖/‖b‖ = 7.9e-8 in float64, 49 on cpu at 3.8e-8; the op form of the Gram–Schmidt,
    // float32 sums on wasm, stalled after 42 at 8.1e-8).
    expect(g.status, g.message).toBe('breakdown');
    expect(g.message).toMatch(/made no progress/);
    expect(g.iterations).toBeLessThan(300);
    g.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    c.dispose();
  });

  it('reports non-convergence with converged = false and a message naming the fix', () => {
    const c = spdCase(11, 1);
    for (const solver of [cg({ maxIter: 2 }), richardson({ step: 0.1, maxIter: 2 }), gmres({ maxIter: 2 })]) {
      const r = solver.solve(rowsTimes(c.A), c.b);
      expect(r.converged).toBe(false);
      expect(r.status).toBe('max-iterations');
      expect(r.iterations).toBe(2);
      expect(r.message).toMatch(/increase maxIter/);
      r.x.dispose();
    }
    c.dispose();
  });

  it('validates options and arguments, naming the solver and the argument', () => {
    expect(() => cg({ tol: -1 })).toThrow(/cg: option 'tol'/);
    expect(() => gmres({ restart: 0 })).toThrow(/gmres: option 'restart'/);
    expect(() => richardson({})).toThrow(/richardson: option 'step' is required/);
    expect(() => neumann({ step: 0.1, terms: 1.5 })).toThrow(/neumann: option 'terms'/);
    expect(() => cg({ maxIter: -3 })).toThrow(/cg: option 'maxIter'/);
    expect(() => cg({ maxiter: 3 } as never)).toThrow(/unknown option 'maxiter'/);
    const c = spdCase(12, 1);
    const before = tf.memory().numTensors;
    const nanB = tf.fill([1, n], NaN);
    expect(() => cg().solve(rowsTimes(c.A), nanB)).toThrow(/cg\.solve: 'b' contains NaN/);
    const x0 = tf.zeros([2, n]);
    expect(() => gmres().solve(rowsTimes(c.A), c.b, { x0 })).toThrow(/gmres\.solve: 'x0' has shape \[2,\d+\], expected \[1,\d+\]/);
    expect(() => cg().solve((v) => tf.reshape(v, [-1]), c.b)).toThrow(/cg: matvec returned shape/);
    expect(() => cg().solve(rowsTimes(c.A), c.b, { tolMode: 'abs' as never })).toThrow(/cg\.solve: option 'tolMode'/);
    tf.dispose([nanB, x0]);
    expect(tf.memory().numTensors).toBe(before);
    c.dispose();
  });

  it('an operator that returns NaN ends with status nan', () => {
    const b = randn([1, 5], 13);
    for (const solver of [cg(), gmres(), richardson({ step: 0.1 })]) {
      const r = solver.solve((v) => tf.mul(v, NaN), b);
      expect(r.status, solver.name).toBe('nan');
      expect(r.converged).toBe(false);
      expect(r.message).toMatch(/NaN/);
      r.x.dispose();
    }
    b.dispose();
  });
});
