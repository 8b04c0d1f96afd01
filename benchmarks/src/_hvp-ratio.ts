// Profiling aid (not part of bench:peer): ours against ours at 96², 30 filters 7×7, CPU ms per call, R interleaved rounds of N calls of each op
// (order alternating), per-round ratio over the gradient: one-shot HVP (problem.hvp), one prepared-Hessian product (cg),
// and the one-shot as it was before filter-hvp.ts (the Hessian prepared at x and applied once).
//   taskset -c 0 npx tsx --conditions=@bilevel/source src/_hvp-ratio.ts     (R=9 N=5 BS=1,8)
import { tf, initBackend } from '@bilevel/core';
import { foe, foeInputs } from './peer/workloads.js';
import { block, settle } from './peer/ours.js';
import { median } from './peer/rounds.js';
await initBackend({ backend: 'wasm', log: false });
const R = Number(process.env.R ?? 9), N = Number(process.env.N ?? 5);
for (const B of (process.env.BS ?? '1,8').split(',').map(Number)) {
  const c = foeInputs(B, 96);
  const { problem } = foe(true);
  const data = { y: c.y };
  const h = problem.hessianAt(c.clean, c.theta, data);
  const ops: Record<string, () => tf.Tensor[]> = {
    gradient: () => [problem.gradient(c.clean, c.theta, data)],
    hvp: () => [problem.hvp(c.clean, c.theta, data, c.v)],
    cg: () => [h.apply(c.v)],
    // the one-shot before: the Hessian prepared at x and applied once (what problem.hvp did)
    prepared: () => { const p = problem.hessianAt(c.clean, c.theta, data); try { return [p.apply(c.v)]; } finally { p.dispose(); } },
  };
  const names = Object.keys(ops);
  for (const n of names) block(ops[n], 3, settle);
  const per: Record<string, { ms: number[]; cpu: number[] }> = Object.fromEntries(names.map((n) => [n, { ms: [], cpu: [] }]));
  for (let r = 0; r < R; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const n of order) { const b = block(ops[n], N, settle); per[n].ms.push(median(b.ms)); per[n].cpu.push(median(b.cpuMs)); }
  }
  const ratio = (n: string, k: 'ms' | 'cpu') => per[n][k].map((x, i) => x / per.gradient[k][i]);
  const fmt = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  console.log(`b${B}: gradient ${median(per.gradient.cpu).toFixed(2)} CPU ms, hvp ${median(per.hvp.cpu).toFixed(2)}, cg ${median(per.cg.cpu).toFixed(2)}; hvp/grad CPU ${fmt(ratio('hvp', 'cpu'))} wall ${fmt(ratio('hvp', 'ms'))}; cg/grad CPU ${fmt(ratio('cg', 'cpu'))}; prepared once/grad CPU ${fmt(ratio('prepared', 'cpu'))} (${median(per.prepared.cpu).toFixed(2)} ms)`);
  h.dispose();
}
