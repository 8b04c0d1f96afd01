// GMRES, op form vs fused Gram–Schmidt (packages/core/src/linear/gmres.ts), on the problems of
// core's linear-solver tests and of the strategy × problem matrix's GMRES pairs: iterations,
// restart cycles, status, the TRUE relative residual ‖b − Ax‖/‖b‖ computed in float64 from the
// operator materialised column by column (A e_i, float32 entries taken exactly), the
// orthogonality loss max over cycles of ‖VᵀV − I‖_F of the Krylov basis (the vectors GMRES
// hands to the matvec), and the iterations a float64 GMRES(m) needs on the same A and b.
// Only the GMRES solve switches between the forms; the forward solvers always run fused.
//   npx tsx --conditions=@bilevel/source scripts/gmres-accuracy.ts
import { tf, initBackend, gmres, lbfgs, picard, anderson, broyden, hypergradient, seededNormal, type LinearSolver, type MatVec } from '../packages/core/src/index.ts';
import { useFusedSolverOps } from '../packages/core/src/internal/fused-ops.ts';
import { problemZoo } from '../packages/testing/src/index.ts';
import { implicit } from '../packages/implicit/src/index.ts';
import { equilibrium } from '../packages/equilibrium/src/index.ts';

await initBackend({ backend: (process.env.BILEVEL_BACKEND ?? 'wasm') as 'wasm', log: false });

type Vec = Float64Array;
const f64 = (t: tf.Tensor): Vec => Float64Array.from(t.dataSync());
const dot = (a: Vec, b: Vec) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const nrm = (a: Vec) => Math.sqrt(dot(a, a));
const times = (A: Vec[], x: Vec) => { const y = new Float64Array(x.length); A.forEach((col, j) => { for (let i = 0; i < y.length; i++) y[i] += col[i] * x[j]; }); return y; };

/** Float64 GMRES(m) (MGS, Givens) from x = 0: matvecs until the estimate ≤ threshold. */
function gmres64(A: Vec[], b: Vec, m: number, threshold: number, maxIter: number): number {
  let x: Vec = new Float64Array(b.length);
  let total = 0;
  for (;;) {
    const r = b.map((bi, i) => bi - times(A, x)[i]);
    const beta = nrm(r);
    if (beta <= threshold || total >= maxIter) return total;
    const V: Vec[] = [r.map((v) => v / beta)];
    const H: number[][] = []; const cs: number[] = []; const sn: number[] = []; const g = [beta];
    let n = 0;
    for (let j = 0; j < m && total < maxIter; j++) {
      const w = times(A, V[j]);
      const col: number[] = [];
      for (let i = 0; i <= j; i++) { const h = dot(w, V[i]); col.push(h); for (let k = 0; k < w.length; k++) w[k] -= h * V[i][k]; }
      const hn = nrm(w); col.push(hn);
      for (let i = 0; i < j; i++) { const t = cs[i] * col[i] + sn[i] * col[i + 1]; col[i + 1] = -sn[i] * col[i] + cs[i] * col[i + 1]; col[i] = t; }
      const rho = Math.hypot(col[j], col[j + 1]); cs[j] = col[j] / rho; sn[j] = col[j + 1] / rho; col[j] = rho; col[j + 1] = 0;
      g[j + 1] = -sn[j] * g[j]; g[j] = cs[j] * g[j]; H.push(col); n = j + 1; total++;
      if (Math.abs(g[j + 1]) <= threshold || hn === 0) break;
      V.push(w.map((v) => v / hn));
    }
    const y = new Array<number>(n).fill(0);
    for (let i = n - 1; i >= 0; i--) { let s = g[i]; for (let j = i + 1; j < n; j++) s -= H[j][i] * y[j]; y[i] = s / H[i][i]; }
    x = x.map((xi, k) => xi + y.reduce((acc, yi, i) => acc + yi * V[i][k], 0));
  }
}

interface Row { iterations: number; cycles: number; status: string; trueRel: number; orth: number; f64Iterations: number; thresholdRel: number; cycleRel: number[]; resolution: number }

/** Wraps gmres(options): each solve runs in the given form and is measured as above. */
function measured(options: { restart?: number; tol?: number; maxIter?: number }, fused: boolean, rows: Row[]): LinearSolver {
  const inner = gmres(options);
  return {
    name: 'gmres', requiresSymmetric: false,
    solve: (matvec: MatVec, b, solveOptions) => {
      const N = b.size;
      const A: Vec[] = [];
      for (let i = 0; i < N; i++) A.push(f64(tf.tidy(() => matvec(tf.reshape(tf.oneHot([i], N).asType('float32'), b.shape)))));
      const inputs: Vec[] = [];
      const was = useFusedSolverOps(fused);
      const r = inner.solve((v) => { inputs.push(f64(v)); return matvec(v); }, b, solveOptions);
      useFusedSolverOps(was);
      const bb = f64(b);
      const ax = times(A, f64(r.x));
      const trueRel = nrm(bb.map((v, i) => v - ax[i])) / nrm(bb);
      // Basis vectors have unit norm; each cycle ends with the residual's matvec of its x.
      const cycles: Vec[][] = [[]];
      for (const v of inputs) (Math.abs(nrm(v) - 1) < 1e-3 ? cycles[cycles.length - 1].push(v) : cycles.push([]));
      let orth = 0;
      for (const V of cycles) {
        let s = 0;
        for (let i = 0; i < V.length; i++) for (let j = 0; j < V.length; j++) s += (dot(V[i], V[j]) - (i === j ? 1 : 0)) ** 2;
        orth = Math.max(orth, Math.sqrt(s));
      }
      const tol = solveOptions?.tol ?? options.tol ?? 1e-5;
      const threshold = (solveOptions?.tolMode ?? 'relative') === 'absolute' ? tol : tol * nrm(bb);
      const f64Iterations = gmres64(A, bb, options.restart ?? 20, threshold, solveOptions?.maxIter ?? options.maxIter ?? 200);
      // The true residual (float64) of each cycle's x: the non-unit inputs, i.e. the residual matvecs.
      const cycleRel = inputs.filter((v) => !(Math.abs(nrm(v) - 1) < 1e-3)).map((x) => { const y = times(A, x); return nrm(bb.map((v, i) => v - y[i])) / nrm(bb); });
      rows.push({ iterations: r.iterations, cycles: cycles.filter((c) => c.length > 0).length, status: r.status, trueRel, orth, f64Iterations, thresholdRel: threshold / nrm(bb), cycleRel, resolution: (2 ** -24 * Math.sqrt(A.reduce((acc, c) => acc + dot(c, c), 0)) * nrm(f64(r.x))) / nrm(bb) });
      return r;
    },
  };
}

const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
/** core/test/linear.test.ts's matrix(): Q diag(λ) Q with Q a Householder reflector, symmetrised. */
const matrix = (lambdas: number[], seed: number) => tf.tidy(() => {
  const n = lambdas.length;
  const u = seededNormal([n, 1], seed);
  const Q = tf.sub(tf.eye(n), tf.mul(2 / tf.sum(tf.square(u)).dataSync()[0], tf.matMul(u, u, false, true)));
  const A = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas))), Q);
  return tf.div(tf.add(A, tf.transpose(A)), 2) as tf.Tensor2D;
});
const rowsTimes = (A: tf.Tensor2D): MatVec => (v) => tf.matMul(v as tf.Tensor2D, A, false, true);
const n = 30;

const cases: Array<[string, (fused: boolean, rows: Row[]) => void]> = [
  ['linear.test SPD κ=10, 4×30, restart 10', (fused, rows) => {
    const A = matrix(linspace(1, 10, n), 1); const b = seededNormal([4, n], 101);
    measured({ tol: 1e-5, restart: 10 }, fused, rows).solve(rowsTimes(A), b).x.dispose(); tf.dispose([A, b]);
  }],
  ['linear.test SPD + skew, 2×30, restart 8', (fused, rows) => {
    const S = matrix(linspace(1, 10, n), 5); const K = seededNormal([n, n], 6);
    const A = tf.tidy(() => tf.add(S, tf.mul(0.5, tf.sub(K, tf.transpose(K))))) as tf.Tensor2D;
    const xHat = seededNormal([2, n], 7); const b = rowsTimes(A)(xHat);
    measured({ tol: 1e-5, restart: 8, maxIter: 500 }, fused, rows).solve(rowsTimes(A), b).x.dispose(); tf.dispose([S, K, A, xHat, b]);
  }],
  ['linear.test indefinite, restart 30', (fused, rows) => {
    const lambdas = linspace(1, 10, n); lambdas[0] = -2; lambdas[3] = -0.5;
    const A = matrix(lambdas, 8); const b = seededNormal([1, n], 9);
    measured({ tol: 1e-5, restart: n }, fused, rows).solve(rowsTimes(A), b).x.dispose(); tf.dispose([A, b]);
  }],
  ['linear.test tol 0, 300 matvecs, restart 7', (fused, rows) => {
    const A = matrix(linspace(1, 10, n), 10); const b = seededNormal([1, n], 110);
    measured({ tol: 0, restart: 7, maxIter: 300 }, fused, rows).solve(rowsTimes(A), b).x.dispose(); tf.dispose([A, b]);
  }],
];
const TOL = 1e-6;
for (const p of problemZoo()) {
  const run = (make: (linear: LinearSolver) => object) => (fused: boolean, rows: Row[]) => {
    const inst = p.build();
    const r = hypergradient({ problem: inst.problem, theta: inst.theta, data: inst.data, loss: inst.loss, strategy: make(measured({}, fused, rows)) as never });
    r.dispose(); inst.dispose();
  };
  if (p.kind === 'energy') cases.push([`matrix implicit(lbfgs, gmres) × ${p.name}`, run((linear) => implicit({ inner: lbfgs(), linear, tol: TOL, linearTol: TOL }))]);
  if (p.kind === 'energy' || p.kind === 'fixed-point') {
    for (const [name, forward] of [['picard', picard], ['anderson', anderson], ['broyden', broyden]] as const) {
      cases.push([`matrix equilibrium(${name}, implicit) × ${p.name}`, run((linear) => equilibrium({ forward: forward(), backward: { implicit: linear }, stepSize: p.step, tol: TOL, linearTol: TOL, maxIter: 5000, linearMaxIter: 5000 }))]);
    }
  }
}

const e = (v: number) => v.toExponential(2);
console.log(`backend ${tf.getBackend()}; per solve: iterations (cycles) status | true ‖b − Ax‖/‖b‖ (float64) | max ‖VᵀV − I‖_F | float64 GMRES iterations`);
const tally = { orth: 0, res: 0, iters: 0, n: 0 };
for (const [name, run] of cases) {
  const [op, fu]: Row[][] = [[], []];
  run(false, op); run(true, fu);
  op.forEach((o, i) => {
    const f = fu[i];
    tally.n++; if (f.orth <= o.orth) tally.orth++; if (f.trueRel <= o.trueRel) tally.res++; if (f.iterations !== o.iterations) tally.iters++;
    console.log(`${name}${op.length > 1 ? ` #${i}` : ''}: op ${o.iterations} (${o.cycles}) ${o.status} | ${e(o.trueRel)} | ${e(o.orth)}  →  fused ${f.iterations} (${f.cycles}) ${f.status} | ${e(f.trueRel)} | ${e(f.orth)}  ; float64 ${o.f64Iterations}/${f.f64Iterations}; threshold/‖b‖ ${e(o.thresholdRel)}, u‖A‖_F‖x‖/‖b‖ ${e(o.resolution)}; per-cycle true residual op [${o.cycleRel.map(e)}] fused [${f.cycleRel.map(e)}]`);
  });
}
console.log(`${tally.n} solves: fused ‖VᵀV − I‖ ≤ op's in ${tally.orth}, final true residual ≤ op's in ${tally.res}, iteration counts differ in ${tally.iters}`);
