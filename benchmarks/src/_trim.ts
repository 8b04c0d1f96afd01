import { tf, initBackend } from '@bilevel/core';
import { foe, foeInputs } from './peer/workloads.js';
await initBackend({ backend: 'wasm', log: false });
const c = foeInputs(1, 96);
for (const derivatives of [false, true]) {
  const { problem } = foe(derivatives);
  const data = { y: c.y };
  const ops: Record<string, () => tf.Tensor[]> = {
    gradient: () => [problem.gradient(c.clean, c.theta, data)],
    hvp: () => [problem.hvp(c.clean, c.theta, data, c.v)],
    mixed: () => Object.values(problem.mixed(c.clean, c.theta, data, c.v)),
  };
  for (const [op, fn] of Object.entries(ops)) {
    for (let i = 0; i < 3; i++) tf.dispose(fn());
    const agg: Record<string, number> = {};
    let total = 0;
    for (let r = 0; r < 5; r++) {
      const prof = await tf.profile(fn);
      for (const k of prof.kernels) { agg[k.name] = (agg[k.name] ?? 0) + (k.kernelTimeMs as number) / 5; total += (k.kernelTimeMs as number) / 5; }
      tf.dispose(prof.result as tf.Tensor[]);
    }
    const t0 = performance.now(); for (let i = 0; i < 10; i++) { const o = fn(); o[0].dataSync(); tf.dispose(o); } const wall = (performance.now() - t0) / 10;
    const top = Object.entries(agg).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    const copies = (agg.Identity ?? 0) + (agg.Cast ?? 0);
    console.log(`${derivatives ? 'analytic' : 'autodiff'} ${op}: wall ${wall.toFixed(2)} ms, kernels ${total.toFixed(2)} ms, Identity+Cast ${copies.toFixed(2)} ms (${(100 * copies / wall).toFixed(1)}%); ${top}`);
  }
}
