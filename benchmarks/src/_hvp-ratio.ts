// Profiling aid (not part of bench:peer): ours against ours at 96², 30 filters 7×7, CPU ms per call, R interleaved rounds of N calls of each op
// (order alternating), per-round ratio over the gradient: one-shot HVP (problem.hvp), one prepared-Hessian product (cg),
// and the one-shot as it was before filter-passes.ts (the Hessian prepared at x and applied once).
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
  const curvature = tf.tidy(() => {
    const z = tf.conv2d(c.clean as tf.Tensor4D, tf.mul(c.theta.filters, tf.exp(tf.neg(c.theta.logNu))) as tf.Tensor4D, 1, 'same');
    const t2 = tf.square(z);
    return tf.div(tf.sub(1, t2), tf.square(tf.add(t2, 1)));
  });
  const ops: Record<string, () => tf.Tensor[]> = {
    gradient: () => [problem.gradient(c.clean, c.theta, data)],
    hvp: () => [problem.hvp(c.clean, c.theta, data, c.v)],
    cg: () => [h.apply(c.v)],
    // the one-shot before: the Hessian prepared at x and applied once (what problem.hvp did)
    // the gradient as it was before filter-passes.ts: Conv2D (XNNPACK) + the expert's ops + the transposed convolution
    'old gradient': () => [tf.tidy(() => {
      const inverse = tf.exp(tf.neg(c.theta.logNu));
      const z = tf.conv2d(c.clean as tf.Tensor4D, tf.mul(c.theta.filters, inverse) as tf.Tensor4D, 1, 'same');
      const first = tf.div(z, tf.add(tf.square(z), 1));
      const adjoint = tf.mul(c.theta.filters, tf.mul(tf.exp(c.theta.logAlpha), tf.mul(2, inverse)));
      return tf.addN([tf.sub(c.clean, c.y), tf.conv2dTranspose(first as tf.Tensor4D, adjoint as tf.Tensor4D, c.clean.shape as [number, number, number, number], 1, 'same')]);
    })],
    // one product of the prepared Hessian as it was before filter-passes.ts: Conv2D (XNNPACK), a product, the transposed convolution
    'old cg': () => [tf.tidy(() => {
      const inverse = tf.exp(tf.neg(c.theta.logNu));
      const adjoint = tf.mul(c.theta.filters, tf.mul(tf.exp(c.theta.logAlpha), tf.mul(2, tf.square(inverse))));
      const u = tf.conv2d(c.v as tf.Tensor4D, c.theta.filters as tf.Tensor4D, 1, 'same');
      return tf.addN([c.v, tf.conv2dTranspose(tf.mul(curvature, u) as tf.Tensor4D, adjoint as tf.Tensor4D, c.clean.shape as [number, number, number, number], 1, 'same')]);
    })],
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
  console.log(`b${B}: gradient ${median(per.gradient.cpu).toFixed(2)} CPU ms, hvp ${median(per.hvp.cpu).toFixed(2)}, cg ${median(per.cg.cpu).toFixed(2)}; hvp/grad CPU ${fmt(ratio('hvp', 'cpu'))} wall ${fmt(ratio('hvp', 'ms'))}; cg/grad CPU ${fmt(ratio('cg', 'cpu'))}; prepared once/grad CPU ${fmt(ratio('prepared', 'cpu'))} (${median(per.prepared.cpu).toFixed(2)} ms); old gradient/grad CPU ${fmt(ratio('old gradient', 'cpu'))} (${median(per['old gradient'].cpu).toFixed(2)} ms); old cg / cg CPU ${fmt(per['old cg'].cpu.map((x, i) => x / per.cg.cpu[i]))} (${median(per['old cg'].cpu).toFixed(2)} ms)`);
  { const a = ops.cg()[0], b = ops['old cg']()[0]; console.log('  cg new vs old max rel diff', tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]).toExponential(2)); tf.dispose([a, b]); }
  { const a = ops.gradient()[0], b = ops['old gradient']()[0]; console.log('  gradient new vs old max rel diff', tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]).toExponential(2)); tf.dispose([a, b]); }
  h.dispose();
  curvature.dispose();
}
