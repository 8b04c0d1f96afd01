// Core's solver overhead, op form vs the fused solver operations (packages/core/src/internal/fused-ops.ts),
// timed INTERLEAVED (op form, fused, op form, …) so host drift cancels: tfjs kernels and CPU ms
// (process.cpuUsage; min and median) per identical-work implicit hypergradient of bench:peer
// (TV: 4 crops 64×64; FoE: 96×96, 30 filters 7×7; 100 GD steps + 30 CG + mixed) and per CG
// iteration on TV's Hessian (the difference of 40- and 10-iteration solves / 30).
//   taskset -c 0 npx tsx --conditions=@bilevel/source scripts/solver-overhead.ts [rounds]
import { tf, initBackend, cg } from '../packages/core/src/index.ts';
import { useFusedSolverOps } from '../packages/core/src/internal/fused-ops.ts';
import { tv, foe, foeInputs, crops, foeStep, tvStep } from '../benchmarks/src/peer/workloads.ts';
import { identicalWork } from '../benchmarks/src/peer/ours.ts';

await initBackend({ backend: (process.env.BILEVEL_BACKEND ?? 'wasm') as 'wasm', log: false });
const ROUNDS = Number(process.argv[2] ?? 15);
const cpu = (fn: () => void) => { const c0 = process.cpuUsage(); fn(); const c = process.cpuUsage(c0); return (c.user + c.system) / 1000; };
const kernels = async (fn: () => tf.TensorContainer) => { const prof = await tf.profile(fn); tf.dispose(prof.result as tf.Tensor[]); return prof.kernels.length; };
const sorted = (ts: number[]) => [...ts].sort((a, b) => a - b);
const stat = (ts: number[]) => { const s = sorted(ts); return { min: s[0], med: s[Math.floor(s.length / 2)] }; };
const fmt = (ts: number[]) => { const { min, med } = stat(ts); return `${min.toFixed(2)}–${med.toFixed(2)}`; };

/** Kernels (one profiled call) and CPU ms per call of fn, op form vs fused, in interleaved rounds. */
async function ab(fn: () => void, kfn: () => tf.TensorContainer, rounds: number, reps = 1) {
  const times = { off: [] as number[], on: [] as number[] };
  const count = { off: 0, on: 0 };
  for (const on of [false, true]) { useFusedSolverOps(on); fn(); count[on ? 'on' : 'off'] = await kernels(kfn); }
  for (let i = 0; i < rounds; i++) {
    for (const on of [false, true]) { useFusedSolverOps(on); times[on ? 'on' : 'off'].push(cpu(() => { for (let j = 0; j < reps; j++) fn(); }) / reps); }
  }
  useFusedSolverOps(true);
  return { count, times };
}

const d = crops(4, 64, 7);
const tvp = tv(true);
const s = tvStep(tvp.theta);
const tvHg = () => identicalWork(tvp.problem, tvp.theta, d.y, d.clean, s);
const t = await ab(() => tvHg().dispose(), () => Object.values(tvHg().grad), ROUNDS);
console.log(`TV hypergradient: kernels ${t.count.off} → ${t.count.on}; CPU ms (min–median) ${fmt(t.times.off)} → ${fmt(t.times.on)}`);

const H = tvp.problem.hessianAt(d.clean, tvp.theta, { y: d.y });
const b = tf.randomNormal(d.y.shape, 0, 1, 'float32', 5);
const solve = (m: number) => cg({ maxIter: m, tol: 1e-30, tolMode: 'absolute' }).solve((v) => H.apply(v), b).x;
const c40 = await ab(() => solve(40).dispose(), () => solve(40), ROUNDS, 3);
const c10 = await ab(() => solve(10).dispose(), () => solve(10), ROUNDS, 3);
const perIter = (k: 'off' | 'on', q: 'min' | 'med') => (1000 * (stat(c40.times[k])[q] - stat(c10.times[k])[q])) / 30;
console.log(`CG iteration on TV's Hessian (matvec: 1 kernel): kernels ${(c40.count.off - c10.count.off) / 30} → ${(c40.count.on - c10.count.on) / 30}; CPU µs (min–median) ${perIter('off', 'min').toFixed(0)}–${perIter('off', 'med').toFixed(0)} → ${perIter('on', 'min').toFixed(0)}–${perIter('on', 'med').toFixed(0)}`);
H.dispose();
b.dispose();

const hg = foeInputs(1, 96);
const step = foeStep(hg.theta, hg.y.shape);
const fp = foe(true);
const foeHg = () => identicalWork(fp.problem, hg.theta, hg.y, hg.clean, step);
const f = await ab(() => foeHg().dispose(), () => Object.values(foeHg().grad), Math.max(3, Math.floor(ROUNDS / 3)));
console.log(`FoE hypergradient: kernels ${f.count.off} → ${f.count.on}; CPU ms (min–median) ${fmt(f.times.off)} → ${fmt(f.times.on)}`);
