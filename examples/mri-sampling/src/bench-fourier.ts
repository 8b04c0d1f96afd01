/**
 * The 2-D Fourier transform on this backend, radix-2 FFT against the matmul DFT, and what it
 * costs inside one MRI lower-level gradient / HVP at 64²–256²: for each size and each
 * `transform`, ms of CPU time per call (median of `--repeats`; process CPU time, so other
 * jobs on a shared machine do not inflate it — pin the process with `taskset -c 0`) of
 * F then Fᴴ (apply + adjoint of S(s)F), the energy gradient and HVP of the learnable-sampling
 * problem (TV regularizer; analytic derivatives, and autodiff of the whole energy).
 *
 *   taskset -c 0 npx --yes pnpm@9 --filter @bilevel/example-mri-sampling bench
 */
import { tf, initBackend } from '@bilevel/core';
import { samplingProblem, smoothedTV, mrPhantoms } from '@bilevel/imaging';
import type { FourierTransform } from '@bilevel/imaging';
import { parseFlags, markdownTable, handleProcessErrors } from '@bilevel/cli';

const flags = parseFlags({ sizes: '32,64,128,256', repeats: 7, batch: 1, transforms: 'dft,fft' }, process.argv.slice(2), 'bench-fourier');
await initBackend();
handleProcessErrors('mri-sampling bench-fourier'); // one line, not tfjs-wasm's 40 KB dump, for an error after this

/**
 * Median CPU ms (user + system of this process) and wall ms of `fn` over `repeats` calls after
 * one warm-up (which may build cached state); throws if a timed call leaves tensors behind.
 */
function median(what: string, fn: () => tf.Tensor | tf.Tensor[], repeats: number): { cpu: number; wall: number } {
  const cpu: number[] = [];
  const wall: number[] = [];
  let before = 0;
  for (let r = 0; r < repeats + 1; r++) {
    if (r === 1) before = tf.memory().numTensors;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = fn();
    for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    tf.dispose(out);
    const c = process.cpuUsage(c0);
    if (r > 0) {
      cpu.push((c.user + c.system) / 1000);
      wall.push(performance.now() - t0);
    }
  }
  if (tf.memory().numTensors !== before) throw new Error(`bench-fourier: ${what} leaked ${tf.memory().numTensors - before} tensors in ${repeats} calls`);
  const mid = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)];
  return { cpu: mid(cpu), wall: mid(wall) };
}

const rows: Array<Record<string, string | number>> = [];
for (const n of flags.sizes.split(',').map(Number)) {
  for (const transform of flags.transforms.split(',') as FourierTransform[]) {
    const options = { height: n, width: n, layout: 'free' as const, regularizer: smoothedTV({ nu: 0.01, alpha: 0.01 }), xi: 1e-4, transform };
    const mri = samplingProblem(options);
    const autodiff = samplingProblem({ ...options, regularizer: smoothedTV({ nu: 0.01, alpha: 0.01 }), derivatives: false });
    const x = mrPhantoms({ count: flags.batch, size: n, seed: 1 });
    const data = { y: mri.kspace(x) };
    const v = tf.randomNormal(x.shape, 0, 1, 'float32', 2);
    const A = mri.operatorAt(mri.theta);
    const fourier = median(`fourier ${n}² ${transform}`, () => tf.tidy(() => A.adjoint(A.apply(x))), flags.repeats);
    const gradient = median(`gradient ${n}² ${transform}`, () => mri.problem.gradient(x, mri.theta, data), flags.repeats);
    const hvp = median(`hvp ${n}² ${transform}`, () => mri.problem.hvp(x, mri.theta, data, v), flags.repeats);
    const gradientAuto = median(`gradientAuto ${n}² ${transform}`, () => autodiff.problem.gradient(x, autodiff.theta, data), flags.repeats);
    const hvpAuto = median(`hvpAuto ${n}² ${transform}`, () => autodiff.problem.hvp(x, autodiff.theta, data, v), flags.repeats);
    rows.push({
      size: `${n}²`, transform,
      'F then Fᴴ CPU ms': fourier.cpu, 'gradient CPU ms': gradient.cpu, 'HVP CPU ms': hvp.cpu,
      'autodiff gradient CPU ms': gradientAuto.cpu, 'autodiff HVP CPU ms': hvpAuto.cpu,
      'F then Fᴴ share of gradient': `${((100 * fourier.cpu) / gradient.cpu).toFixed(0)}%`,
      'gradient wall ms': gradient.wall,
    });
    console.log(JSON.stringify(rows.at(-1)));
    tf.dispose([x, data.y, v]);
    A.dispose();
    mri.dispose();
    autodiff.dispose();
  }
}
console.log('\n' + markdownTable(rows));
