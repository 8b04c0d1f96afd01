/**
 * Where the time of one MRI lower-level gradient / HVP goes at 64²–256² on this backend: the
 * DFT-by-matmul (apply + adjoint of S(s)F) against the whole energy gradient and HVP of the
 * learnable-sampling problem (TV regularizer). Prints ms per call (median of `--repeats`).
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-mri-sampling bench
 */
import { tf, initBackend } from '@bilevel/core';
import { samplingProblem, smoothedTV, mrPhantoms } from '@bilevel/imaging';
import { parseFlags, markdownTable, handleProcessErrors } from '@bilevel/cli';

const flags = parseFlags({ sizes: '64,128,256', repeats: 7, batch: 1 }, process.argv.slice(2), 'bench-fourier');
await initBackend();
handleProcessErrors('mri-sampling bench-fourier'); // one line, not tfjs-wasm's 40 KB dump, for an error after this

function median(fn: () => tf.Tensor | tf.Tensor[], repeats: number): number {
  const times: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const t0 = performance.now();
    const out = fn();
    for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    tf.dispose(out);
    if (r > 0) times.push(performance.now() - t0); // the first call warms up
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rows: Array<Record<string, string | number>> = [];
for (const n of flags.sizes.split(',').map(Number)) {
  const mri = samplingProblem({ height: n, width: n, layout: 'free', regularizer: smoothedTV({ nu: 0.01, alpha: 0.01 }), xi: 1e-4 });
  const autodiff = samplingProblem({ height: n, width: n, layout: 'free', regularizer: smoothedTV({ nu: 0.01, alpha: 0.01 }), xi: 1e-4, derivatives: false });
  const x = mrPhantoms({ count: flags.batch, size: n, seed: 1 });
  const data = { y: mri.kspace(x) };
  const v = tf.randomNormal(x.shape, 0, 1, 'float32', 2);
  const A = mri.operatorAt(mri.theta);
  const fourier = median(() => A.adjoint(A.apply(x)), flags.repeats);
  const gradient = median(() => mri.problem.gradient(x, mri.theta, data), flags.repeats);
  const hvp = median(() => mri.problem.hvp(x, mri.theta, data, v), flags.repeats);
  const gradientAuto = median(() => autodiff.problem.gradient(x, autodiff.theta, data), flags.repeats);
  const hvpAuto = median(() => autodiff.problem.hvp(x, autodiff.theta, data, v), flags.repeats);
  const tvOnly = smoothedTV({ nu: 0.01, alpha: 0.01 });
  const thTv = tvOnly.init();
  const tvGradient = median(() => tf.grad((z: tf.Tensor) => tvOnly.value(z, thTv))(x), flags.repeats);
  rows.push({ size: `${n}²`, 'F then Fᴴ ms': fourier, 'TV gradient ms': tvGradient, 'gradient ms (analytic)': gradient, 'gradient ms (autodiff)': gradientAuto, 'HVP ms (analytic)': hvp, 'HVP ms (autodiff)': hvpAuto, 'DFT share of gradient': `${((100 * fourier) / gradient).toFixed(0)}%` });
  console.log(JSON.stringify(rows.at(-1)));
  tf.dispose([x, data.y, v, thTv.logAlpha]);
  A.dispose();
  mri.dispose();
  autodiff.dispose();
}
console.log('\n' + markdownTable(rows));
