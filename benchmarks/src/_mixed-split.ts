// Profiling aid (not part of bench:peer): CPU ms (process.cpuUsage, best and median of 9 blocks of 20 calls) of the
// FoE primitives and the pieces of the mixed product at 96², 30 filters 7×7, ours "now". B=8 for batch 8, PIECES=a,b to pick.
//   taskset -c 0 npx tsx --conditions=@bilevel/source src/_mixed-split.ts
import { tf, initBackend } from '@bilevel/core';
import { foe, foeInputs } from './peer/workloads.js';
await initBackend({ backend: 'wasm', log: false });
const c = foeInputs(Number(process.env.B ?? 1), 96);
const { problem } = foe(true);
const data = { y: c.y };
const f = c.theta.filters;
const h = problem.hessianAt(c.clean, c.theta, data);
const scaled = tf.mul(f, tf.exp(tf.neg(c.theta.logNu)));
const z = tf.conv2d(c.clean as tf.Tensor4D, scaled as tf.Tensor4D, 1, 'same');
const u = tf.conv2d(c.v as tf.Tensor4D, f as tf.Tensor4D, 1, 'same');
const fg = (input: tf.Tensor, dy: tf.Tensor) => tf.engine().runKernel('Conv2DBackpropFilter', { x: input, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: f.shape } as never) as tf.Tensor;
const pieces: Record<string, () => tf.Tensor | tf.Tensor[]> = {
  mixed: () => Object.values(problem.mixed(c.clean, c.theta, data, c.v)),
  'conv C v': () => tf.conv2d(c.v as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
  'conv (s c) x incl. scale': () => tf.tidy(() => tf.conv2d(c.clean as tf.Tensor4D, tf.mul(f, tf.exp(tf.neg(c.theta.logNu))) as tf.Tensor4D, 1, 'same')),
  'rho first+second (6 ops)': () => tf.tidy(() => { const t2 = tf.square(z); const d = tf.add(t2, 1); return [tf.div(z, d), tf.div(tf.sub(1, t2), tf.square(d))]; }),
  'one full-size mul': () => tf.mul(z, u),
  'filter gradient': () => fg(c.clean, u),
  'transposed conv': () => tf.conv2dTranspose(u as tf.Tensor4D, f as tf.Tensor4D, [1, 96, 96, 1], 1, 'same'),
  'gradient': () => problem.gradient(c.clean, c.theta, data),
  'hvp one-shot': () => problem.hvp(c.clean, c.theta, data, c.v),
  'hvp in CG': () => h.apply(c.v),
};
const only = process.env.PIECES?.split(',');
for (const k of Object.keys(pieces)) if (only != null && !only.includes(k)) delete pieces[k];
const settle = (o: tf.Tensor | tf.Tensor[]) => { const ts = Array.isArray(o) ? o : [o]; for (const t of ts) t.dataSync(); tf.dispose(ts); };
for (const [name, fn] of Object.entries(pieces)) {
  for (let i = 0; i < 3; i++) settle(fn());
  const per: number[] = [];
  for (let k = 0; k < 9; k++) { const c0 = process.cpuUsage(); for (let i = 0; i < 20; i++) settle(fn()); const d = process.cpuUsage(c0); per.push((d.user + d.system) / 1000 / 20); }
  per.sort((a, b) => a - b);
  console.log(`${name}: ${per[0].toFixed(3)} best, ${per[4].toFixed(3)} median CPU ms`);
}
