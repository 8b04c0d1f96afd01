// Profiling aid (not part of bench:peer): the one-shot HVP with its curvature pass writing straight into Cᵀ's padded
// input (filter-simd.ts curvatureTransposed) against the route before (curvature pass → [N, 96, 96, K] tensor →
// padChannels copy → Cᵀ, run here by making curvatureTransposed decline), and the gradient, at bench:peer's shapes
// (FoE 96², 30 filters 7×7, 'same'). CPU ms per call, R interleaved rounds of N calls of each (order alternating),
// medians and ranges over rounds, and the per-round ratios over the gradient. Checks that both routes give the same bits.
//   taskset -c 0 npx tsx --conditions=@bilevel/source src/_hvp-fused.ts     (R=9 N=10 BS=1,8)
import { tf, initBackend } from '@bilevel/core';
import { foe, foeInputs } from './peer/workloads.js';
import { block } from './peer/ours.js';
import { median } from './peer/rounds.js';
import { filterSimdOf } from '../../packages/imaging/src/internal/filter-simd.js';

await initBackend({ backend: 'wasm', log: false });
const R = Number(process.env.R ?? 9), N = Number(process.env.N ?? 10);
const simd = filterSimdOf(tf.backend());
if (simd == null) throw new Error('_hvp-fused: no SIMD loops on this backend');
const settle = (o: tf.Tensor) => { o.dataSync(); o.dispose(); };
const fused = simd.curvatureTransposed;
const before = <T>(f: () => T): T => { simd.curvatureTransposed = () => false; try { return f(); } finally { simd.curvatureTransposed = fused; } };
for (const B of (process.env.BS ?? '1,8').split(',').map(Number)) {
  const c = foeInputs(B, 96);
  const { problem, dispose } = foe(true);
  const data = { y: c.y };
  const h = problem.hessianAt(c.clean, c.theta, data);
  const pieces: Record<string, () => tf.Tensor> = {
    gradient: () => problem.gradient(c.clean, c.theta, data),
    'hvp (fused)': () => problem.hvp(c.clean, c.theta, data, c.v),
    'hvp (before)': () => before(() => problem.hvp(c.clean, c.theta, data, c.v)),
    cg: () => h.apply(c.v),
  };
  const [a, b] = [pieces['hvp (fused)'](), pieces['hvp (before)']()];
  const [da, db] = [a.dataSync(), b.dataSync()];
  let same = da.length === db.length;
  for (let i = 0; i < da.length && same; i++) same = Object.is(da[i], db[i]);
  tf.dispose([a, b]);
  const names = Object.keys(pieces);
  for (const n of names) block(pieces[n], 5, settle);
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < R; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) cpu[n].push(median(block(pieces[n], N, settle).cpuMs));
  }
  const fmt = (xs: number[]) => `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
  console.log(`batch ${B}: CPU ms per call, median (range) of ${R} rounds of ${N}; fused and before the same bits: ${same}`);
  for (const n of names) console.log(`  ${n.padEnd(14)} ${fmt(cpu[n])}`);
  const line = (label: string, f: (i: number) => number) => console.log(`  ${label.padEnd(30)} ${fmt(cpu.gradient.map((_, i) => f(i)))}`);
  line('hvp (fused) / gradient', (i) => cpu['hvp (fused)'][i] / cpu.gradient[i]);
  line('hvp (before) / gradient', (i) => cpu['hvp (before)'][i] / cpu.gradient[i]);
  line('hvp fused / before', (i) => cpu['hvp (fused)'][i] / cpu['hvp (before)'][i]);
  line('cg / gradient', (i) => cpu.cg[i] / cpu.gradient[i]);
  h.dispose();
  tf.dispose([c.clean, c.y, c.v, ...Object.values(c.theta)]);
  dispose();
}
