import { it, expect } from 'vitest';
import { tf, defineProblem, gradientDescent, accelerated, lbfgs, type InnerSolver, type Params } from '../src/index.js';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';

/*
 * Tolerances. Solves stop on the absolute ‖∇Φ‖ ≤ 1e-4: the gradient of these O(1)-scaled
 * energies is evaluated in float32 with an error of about 1e-7 per entry (~1e-6 in norm),
 * so 1e-4 is met reliably and two orders above round-off. For μ-strongly convex Φ,
 * ‖x − x̂‖ ≤ ‖∇Φ(x)‖/μ = distanceBound; the check adds SLACK = 1e-5 for the float32
 * error of the computed ‖∇Φ‖ (~1e-6) and of storing x̂ in float32 (~1e-7·‖x̂‖).
 */
const TOL = 1e-4;
const SLACK = 1e-5;

/** SPD A = Q diag(λ) Q with Q = I − 2uuᵀ/‖u‖² (a Householder reflector, so Q = Qᵀ = Q⁻¹). */
function spd(lambdas: number[], seed: number): { A: tf.Tensor2D; Ainv: tf.Tensor2D } {
  return tf.tidy(() => {
    const n = lambdas.length;
    const u = randn([n, 1], seed);
    const Q = tf.sub(tf.eye(n), tf.mul(2 / tf.sum(tf.square(u)).dataSync()[0], tf.matMul(u, u, false, true)));
    const A = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas))), Q) as tf.Tensor2D;
    const Ainv = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas.map((l) => 1 / l)))), Q) as tf.Tensor2D;
    // Symmetrise away the round-off so A is exactly symmetric.
    return { A: tf.div(tf.add(A, tf.transpose(A)), 2) as tf.Tensor2D, Ainv };
  });
}

const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));

interface QuadData { [k: string]: tf.Tensor; A: tf.Tensor2D; b: tf.Tensor2D }

/** ½ Σ_rows xAxᵀ − bxᵀ over a batch of rows: μ = λ_min, L = λ_max, x̂ = b A⁻¹. */
function quadratic(mu: number, L: number, withInit = true) {
  return defineProblem<QuadData>({
    name: 'quadratic',
    energy: (x, _theta, data) => tf.sub(tf.mul(0.5, tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, data.A), x))), tf.sum(tf.mul(data.b, x))),
    init: withInit ? (_theta, data) => tf.zerosLike(data.b) : undefined,
    strongConvexity: mu,
    smoothness: L,
  });
}

/*
 * 1-D smoothed total variation on each row: Φ(x) = ½‖x − y‖² + α Σᵢ √((x_{i+1} − x_i)² + ν²).
 * μ = 1 and L = 1 + 4α/ν (‖D‖² ≤ 4, φ'' ≤ 1/ν). Its minimiser is computed in float64 by
 * damped Newton with a tridiagonal Hessian (Thomas algorithm) to ‖∇Φ‖ < 1e-12.
 */
const ALPHA = 0.2;
const NU = 0.05;

function tv1d() {
  return defineProblem<{ y: tf.Tensor }>({
    name: 'tv1d',
    energy: (x, _theta, data) => {
      const n = x.shape[1]!;
      const dx = tf.sub(tf.slice(x, [0, 1], [-1, n - 1]), tf.slice(x, [0, 0], [-1, n - 1]));
      return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.y)))), tf.mul(ALPHA, tf.sum(tf.sqrt(tf.add(tf.square(dx), NU * NU)))));
    },
    init: (_theta, data) => data.y.clone(),
    strongConvexity: 1,
    smoothness: 1 + (4 * ALPHA) / NU,
  });
}

function tv1dReference(y: number[]): number[] {
  const n = y.length;
  const energy = (x: number[]) => {
    let e = 0;
    for (let i = 0; i < n; i++) e += 0.5 * (x[i] - y[i]) ** 2;
    for (let i = 0; i < n - 1; i++) e += ALPHA * Math.sqrt((x[i + 1] - x[i]) ** 2 + NU * NU);
    return e;
  };
  let x = y.slice();
  for (let it = 0; it < 200; it++) {
    const g = x.map((xi, i) => xi - y[i]);
    const diag = new Array(n).fill(1);
    const off = new Array(n - 1).fill(0);
    for (let i = 0; i < n - 1; i++) {
      const t = x[i + 1] - x[i];
      const r = Math.sqrt(t * t + NU * NU);
      g[i + 1] += (ALPHA * t) / r;
      g[i] -= (ALPHA * t) / r;
      const w = (ALPHA * NU * NU) / (r * r * r);
      diag[i] += w;
      diag[i + 1] += w;
      off[i] = -w;
    }
    if (Math.hypot(...g) < 1e-12) break;
    // Thomas algorithm for H p = g (H symmetric tridiagonal, diagonally dominant).
    const c = new Array(n).fill(0);
    const d = new Array(n).fill(0);
    c[0] = off[0] / diag[0];
    d[0] = g[0] / diag[0];
    for (let i = 1; i < n; i++) {
      const m = diag[i] - off[i - 1] * c[i - 1];
      c[i] = i < n - 1 ? off[i] / m : 0;
      d[i] = (g[i] - off[i - 1] * d[i - 1]) / m;
    }
    const p = new Array(n).fill(0);
    p[n - 1] = d[n - 1];
    for (let i = n - 2; i >= 0; i--) p[i] = d[i] - c[i] * p[i + 1];
    let s = 1;
    const e0 = energy(x);
    while (s > 1e-12 && energy(x.map((xi, i) => xi - s * p[i])) > e0) s /= 2;
    x = x.map((xi, i) => xi - s * p[i]);
  }
  return x;
}

const distance = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0]);

const SOLVERS: Record<string, () => InnerSolver> = {
  'gradientDescent (1/L)': () => gradientDescent({ tol: TOL, tolMode: 'absolute', maxIter: 2000 }),
  'gradientDescent (backtracking)': () => gradientDescent({ backtracking: true, tol: TOL, tolMode: 'absolute', maxIter: 2000 }),
  'accelerated (μ momentum)': () => accelerated({ tol: TOL, tolMode: 'absolute', maxIter: 2000 }),
  'accelerated (FISTA, function restart, backtracking)': () =>
    accelerated({ useStrongConvexity: false, restart: 'function', backtracking: true, tol: TOL, tolMode: 'absolute', maxIter: 2000 }),
  lbfgs: () => lbfgs({ tol: TOL, tolMode: 'absolute', maxIter: 500 }),
};

describeEachBackend('inner solvers', (backend) => {
  const theta: Params = {};
  const n = backend === 'cpu' ? 12 : 20;

  for (const [name, make] of Object.entries(SOLVERS)) {
    it(`${name} solves a batch of 4 quadratics (κ = 10) within the distance bound`, () => {
      const before = tf.memory().numTensors;
      const { A, Ainv } = spd(linspace(1, 10, n), 3);
      const b = randn([4, n], 4) as tf.Tensor2D;
      const xHat = tf.matMul(b, Ainv);
      const r = make().solve(quadratic(1, 10), theta, { A, b });
      expect(r.status, r.message).toBe('converged');
      expect(r.converged).toBe(true);
      expect(r.gradNorm).toBeLessThanOrEqual(TOL);
      expect(r.distanceBound).toBeCloseTo(r.gradNorm, 10);
      expect(distance(r.x, xHat)).toBeLessThanOrEqual(r.distanceBound! + SLACK);
      expect(r.work.innerIterations).toBe(r.iterations);
      expect(r.work.gradEvals).toBeGreaterThanOrEqual(r.iterations + 1);
      expect(r.work.timeMs).toBeGreaterThan(0);
      tf.dispose([A, Ainv, b, xHat, r.x]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it(`${name} solves batched 1-D smoothed TV (non-quadratic) within the distance bound, and warm starts in ≤ 1 iteration`, () => {
      const before = tf.memory().numTensors;
      const rows = 4;
      const m = backend === 'cpu' ? 16 : 32;
      const yRows = Array.from({ length: rows }, (_, r) => Array.from({ length: m }, (_, i) => (i < m / 2 ? 0 : 1) + 0.1 * Math.sin(7 * i + r)));
      const y = tf.tensor2d(yRows);
      const xHat = tf.tensor2d(yRows.map(tv1dReference));
      const problem = tv1d();
      const solver = make();
      const r = solver.solve(problem, theta, { y });
      expect(r.status, r.message).toBe('converged');
      expect(distance(r.x, xHat)).toBeLessThanOrEqual(r.distanceBound! + SLACK);
      const warm = solver.solve(problem, theta, { y }, { x0: xHat });
      expect(warm.converged).toBe(true);
      expect(warm.iterations).toBeLessThanOrEqual(1);
      tf.dispose([y, xHat, r.x, warm.x]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('every solver still converges when Φ is large and its decrease is below float32 round-off', () => {
    // Φ + 10⁴: float32 spacing at 10⁴ is ~10⁻³, far above the late decreases (~10⁻⁸), so
    // the line searches must switch to their gradient-based (approximate Armijo) test.
    const base = tv1d();
    const offset = defineProblem<{ y: tf.Tensor }>({
      energy: (x, t, d) => tf.add(base.energy(x, t, d), 1e4),
      init: base.init,
      strongConvexity: 1,
      smoothness: 1 + (4 * ALPHA) / NU,
    });
    const m = backend === 'cpu' ? 16 : 32;
    const yRows = [Array.from({ length: m }, (_, i) => (i < m / 3 ? 0 : 1) + 0.2 * Math.cos(5 * i))];
    const y = tf.tensor2d(yRows);
    const xHat = tf.tensor2d(yRows.map(tv1dReference));
    for (const [name, make] of Object.entries(SOLVERS)) {
      const r = make().solve(offset, theta, { y });
      expect(r.status, `${name}: ${r.message}`).toBe('converged');
      expect(distance(r.x, xHat)).toBeLessThanOrEqual(r.distanceBound! + SLACK);
      r.x.dispose();
    }
    tf.dispose([y, xHat]);
  });

  it('1,000 iterations of gradientDescent, and 200 of accelerated and lbfgs, leave the tensor count unchanged', () => {
    const { A, Ainv } = spd(linspace(1, 10, 8), 5);
    const b = randn([1, 8], 6) as tf.Tensor2D;
    const problem = quadratic(1, 10);
    const before = tf.memory().numTensors;
    // stallIterations: 0, or the stall detector would (rightly) stop at the float32 floor.
    const r = gradientDescent({ tol: 0, maxIter: 1000, stallIterations: 0 }).solve(problem, theta, { A, b });
    expect(r.iterations).toBe(1000);
    expect(r.status).toBe('max-iterations');
    r.x.dispose();
    for (const solver of [accelerated({ tol: 0, maxIter: 200 }), lbfgs({ tol: 0, maxIter: 200, memory: 5 }), gradientDescent({ tol: 0, maxIter: 200, backtracking: true })]) {
      const s = solver.solve(problem, theta, { A, b });
      s.x.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([A, Ainv, b]);
  });

  it("a tolerance below the float32 floor stops as 'stalled' instead of running to maxIter", () => {
    const { A, Ainv } = spd(linspace(1, 10, 8), 5);
    const b = randn([1, 8], 6) as tf.Tensor2D;
    for (const solver of [gradientDescent({ tol: 0, maxIter: 5000 }), accelerated({ tol: 0, maxIter: 5000 }), lbfgs({ tol: 0, maxIter: 5000 })]) {
      const r = solver.solve(quadratic(1, 10), theta, { A, b });
      expect(r.status).toBe('stalled');
      expect(r.converged).toBe(false);
      expect(r.iterations).toBeLessThan(5000);
      expect(r.message).toMatch(/float32 floor/);
      // It stopped at the floor, not early: the solution is accurate to float32.
      const exact = tf.matMul(b, Ainv);
      expect(relErr(r.x, exact)).toBeLessThan(1e-5);
      tf.dispose([r.x, exact]);
    }
    expect(() => lbfgs({ stallIterations: -1 })).toThrow(/stallIterations/);
    tf.dispose([A, Ainv, b]);
  });

  it('relative tolerance stops at tol·‖∇Φ(x0)‖', () => {
    const { A, Ainv } = spd(linspace(1, 10, n), 7);
    const b = randn([1, n], 8) as tf.Tensor2D;
    const g0 = tf.tidy(() => tf.norm(b).dataSync()[0]); // ∇Φ(0) = −b
    const r = lbfgs({ tol: 1e-3, tolMode: 'relative' }).solve(quadratic(1, 10), theta, { A, b });
    expect(r.converged).toBe(true);
    expect(r.gradNorm).toBeLessThanOrEqual(1e-3 * g0);
    tf.dispose([A, Ainv, b, r.x]);
  });

  it('reports non-convergence with converged = false and a message naming the fix', () => {
    const { A, Ainv } = spd(linspace(1, 100, n), 9);
    const b = randn([1, n], 10) as tf.Tensor2D;
    const r = gradientDescent({ tol: 1e-6, tolMode: 'absolute', maxIter: 3 }).solve(quadratic(1, 100), theta, { A, b });
    expect(r.converged).toBe(false);
    expect(r.status).toBe('max-iterations');
    expect(r.iterations).toBe(3);
    expect(r.message).toMatch(/increase maxIter/);
    tf.dispose([A, Ainv, b, r.x]);
  });

  it('a diverging fixed step ends with status nan, the iteration named, and the last finite iterate', () => {
    const { A, Ainv } = spd(linspace(1, 10, n), 11);
    const b = randn([1, n], 12) as tf.Tensor2D;
    const r = gradientDescent({ step: 1, tol: 1e-6, maxIter: 500 }).solve(quadratic(1, 10), theta, { A, b });
    expect(r.status).toBe('nan');
    expect(r.converged).toBe(false);
    expect(r.message).toMatch(/NaN.*iteration \d+/);
    expect(tf.tidy(() => tf.all(tf.isFinite(r.x)).dataSync()[0])).toBe(1);
    tf.dispose([A, Ainv, b, r.x]);
  });

  it('a gradient that disagrees with the energy makes the line search fail', () => {
    // Energy Σx² but a custom gradient pointing uphill: no step can decrease it.
    const wrong = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([x]);
      return { value: tf.sum(tf.square(x)), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.mul(-2, saved[0])) };
    });
    const problem = defineProblem({ energy: (x) => wrong(x) as tf.Tensor, init: () => tf.ones([1, 4]) });
    for (const solver of [lbfgs(), gradientDescent({ backtracking: { maxTrials: 10 } }), accelerated({ backtracking: { maxTrials: 10 } })]) {
      const r = solver.solve(problem, theta, {});
      expect(r.status, solver.name).toBe('line-search-failed');
      expect(r.message).toMatch(/line search failed.*checkGradient/);
      r.x.dispose();
    }
  });

  it('validates options and inputs, naming the solver and the argument', () => {
    expect(() => gradientDescent({ tol: -1 })).toThrow(/gradientDescent: option 'tol'/);
    expect(() => accelerated({ maxIter: 2.5 })).toThrow(/accelerated: option 'maxIter'/);
    expect(() => lbfgs({ memory: 0 })).toThrow(/lbfgs: option 'memory'/);
    expect(() => gradientDescent({ step: -0.1 })).toThrow(/gradientDescent: option 'step'/);
    expect(() => gradientDescent({ backtracking: { shrink: 2 } })).toThrow(/backtracking\.shrink/);
    expect(() => accelerated({ restart: 'sometimes' as never })).toThrow(/accelerated: option 'restart'/);
    expect(() => lbfgs({ tolMode: 'relativ' as never })).toThrow(/lbfgs: option 'tolMode'/);
    expect(() => gradientDescent({ maxiter: 10 } as never)).toThrow(/unknown option 'maxiter'/);

    const { A, Ainv } = spd(linspace(1, 10, n), 13);
    const b = randn([1, n], 14) as tf.Tensor2D;
    const problem = quadratic(1, 10);
    const solver = lbfgs();
    const before = tf.memory().numTensors;
    const nanX0 = tf.fill([1, n], NaN);
    expect(() => solver.solve(problem, theta, { A, b }, { x0: nanX0 })).toThrow(/lbfgs\.solve: 'x0' contains NaN/);
    const wrongShape = tf.zeros([2, n]);
    expect(() => solver.solve(problem, theta, { A, b }, { x0: wrongShape })).toThrow(/'x0' has shape \[2,\d+\], expected \[1,\d+\]/);
    const nanB = tf.fill([1, n], NaN) as tf.Tensor2D;
    expect(() => solver.solve(problem, theta, { A, b: nanB })).toThrow(/'data\.b' contains NaN/);
    expect(() => solver.solve(problem, { w: tf.scalar(NaN) }, { A, b })).toThrow(/'theta\.w' contains NaN/);
    expect(() => solver.solve(problem, theta, { A, b }, { tol: -1 })).toThrow(/lbfgs\.solve: option 'tol'/);
    expect(() => solver.solve(quadratic(1, 10, false), theta, { A, b })).toThrow(/no starting point/);
    tf.dispose([nanX0, wrongShape, nanB]);
    expect(tf.memory().numTensors).toBe(before + 1); // the scalar θ.w made inline above
    tf.dispose([A, Ainv, b]);
  });

  it('without L or a step, gradientDescent and accelerated fall back to backtracking', () => {
    const { A, Ainv } = spd(linspace(1, 10, n), 15);
    const b = randn([2, n], 16) as tf.Tensor2D;
    const problem = defineProblem<QuadData>({
      energy: (x, _t, data) => tf.sub(tf.mul(0.5, tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, data.A), x))), tf.sum(tf.mul(data.b, x))),
      init: (_t, data) => tf.zerosLike(data.b),
    });
    const xHat = tf.matMul(b, Ainv);
    for (const solver of [gradientDescent({ tol: TOL, tolMode: 'absolute' }), accelerated({ tol: TOL, tolMode: 'absolute' })]) {
      const r = solver.solve(problem, theta, { A, b });
      expect(r.converged, r.message).toBe(true);
      expect(r.distanceBound).toBeUndefined();
      // μ = 1 is known to the test, not the problem.
      expect(distance(r.x, xHat)).toBeLessThanOrEqual(r.gradNorm + SLACK);
      r.x.dispose();
    }
    tf.dispose([A, Ainv, b, xHat]);
  });
});
