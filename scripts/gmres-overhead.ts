// GMRES, op form vs fused Gram–Schmidt (packages/core/src/linear/gmres.ts): tfjs kernels (one
// profiled solve) and CPU ms (process.cpuUsage; min–median) per GMRES solve, the two forms
// timed INTERLEAVED so host drift cancels, at fixed work (tolerances far below reach), with the
// same iteration count asserted. Only the GMRES solve switches forms; everything else runs fused.
//  - TV's Hessian (bench:peer's 4 crops 64×64): implicit({ linear: gmres() }), the adjoint solve;
//  - equilibrium's default 'implicit' backward, (I − ∂ₓT)ᵀw = ∇ₓℓ with T = x − s∇ₓΦ, on TV;
//  - a non-symmetric dense system (SPD + skew, 8 × 512, the matvec one MatMul).
//   taskset -c 0 npx tsx --conditions=@bilevel/source scripts/gmres-overhead.ts [rounds]
import { tf, initBackend, gmres, picard, hypergradient, seededNormal, type LinearSolver, type MatVec } from '../packages/core/src/index.ts';
import { useFusedSolverOps } from '../packages/core/src/internal/fused-ops.ts';
import { equilibrium } from '../packages/equilibrium/src/index.ts';
import { tv, crops, tvStep } from '../benchmarks/src/peer/workloads.ts';
import { lossOf, fixedWorkPolicy } from '../benchmarks/src/peer/ours.ts';

console.warn = () => {}; // the fixed-work solves are 'not converged' by design
await initBackend({ backend: (process.env.BILEVEL_BACKEND ?? 'wasm') as 'wasm', log: false });
const ROUNDS = Number(process.argv[2] ?? 15);
const ITER = 30;
const sorted = (ts: number[]) => [...ts].sort((a, b) => a - b);
const fmt = (ts: number[]) => { const s = sorted(ts); return `${s[0].toFixed(2)}–${s[Math.floor(s.length / 2)].toFixed(2)}`; };

/** gmres at fixed work in the given form; records each solve's CPU ms, kernels (when profiled) and iterations. */
function timed(fused: boolean, log: { ms: number[]; iterations: number[] }): LinearSolver {
  const inner = gmres({ restart: ITER, maxIter: ITER, tol: 1e-30, tolMode: 'absolute' });
  return {
    name: 'gmres', requiresSymmetric: false,
    solve: (matvec, b, opts) => {
      const was = useFusedSolverOps(fused);
      const c0 = process.cpuUsage();
      const r = inner.solve(matvec, b, { ...opts, tol: 1e-30, tolMode: 'absolute', maxIter: ITER });
      const c = process.cpuUsage(c0);
      useFusedSolverOps(was);
      log.ms.push((c.user + c.system) / 1000);
      log.iterations.push(r.iterations);
      return r;
    },
  };
}

/** tfjs kernels of one `run` (tf.profile), and the interleaved CPU ms of its GMRES solves. */
async function ab(name: string, run: (linear: LinearSolver) => void) {
  const logs = { op: { ms: [] as number[], iterations: [] as number[] }, fused: { ms: [] as number[], iterations: [] as number[] } };
  const kernels = { op: 0, fused: 0 };
  for (const form of ['op', 'fused'] as const) {
    const solver = timed(form === 'fused', logs[form]);
    const prof = await tf.profile(() => { run(solver); return []; });
    kernels[form] = prof.kernels.length;
  }
  for (let i = 0; i < ROUNDS; i++) for (const form of ['op', 'fused'] as const) run(timed(form === 'fused', logs[form]));
  const its = [...new Set([...logs.op.iterations, ...logs.fused.iterations])];
  console.log(`${name}: GMRES iterations ${its.join('/')}; kernels per call ${kernels.op} → ${kernels.fused}; CPU ms per GMRES solve (min–median) ${fmt(logs.op.ms)} → ${fmt(logs.fused.ms)}`);
}

const d = crops(4, 64, 7);
const tvp = tv(true);
const s = tvStep(tvp.theta);
const H = tvp.problem.hessianAt(d.clean, tvp.theta, { y: d.y });
const b = tf.randomNormal(d.y.shape, 0, 1, 'float32', 5);
await ab(`TV Hessian 4×64² (implicit's adjoint solve), ${ITER} iterations`, (linear) => linear.solve((v) => H.apply(v), b).x.dispose());

const loss = lossOf(d.clean);
const FIXED_WORK = fixedWorkPolicy(`20 Picard + ${ITER} GMRES steps`);
await ab(`equilibrium backward (I − ∂ₓT)ᵀ on TV 4×64², whole hypergradient (picard 20 steps)`, (linear) => {
  const strategy = equilibrium({ forward: picard({ maxIter: 20 }), backward: { implicit: linear }, stepSize: s, tol: 1e-30, linearTol: 1e-30 });
  hypergradient({ problem: tvp.problem, theta: tvp.theta, data: { y: d.y }, loss: (x) => loss(x), strategy, onNotConverged: FIXED_WORK }).dispose();
});

const n = 512;
const A = tf.tidy(() => { const K = seededNormal([n, n], 6); return tf.add(tf.mul(tf.eye(n), 4), tf.mul(0.5 / Math.sqrt(n), tf.sub(K, tf.transpose(K)))) as tf.Tensor2D; });
const rhs = seededNormal([8, n], 7);
const rowsTimes: MatVec = (v) => tf.matMul(v as tf.Tensor2D, A, false, true);
await ab(`non-symmetric dense 8×${n} (4I + skew), ${ITER} iterations`, (linear) => linear.solve(rowsTimes, rhs).x.dispose());
