// Native (`tensorflow`, assembled by scripts/native-backend.sh) vs wasm on the benchmark
// Field-of-Experts energy of benchmarks/ (96×96, 30 filters 7×7, batch 1):
//   Φ(x; θ) = ½‖x − y‖² + Σ_k e^{α_k} Σ_pixels log(1 + (c_k ∗ x)²)
// gradient, HVP (double backprop), mixed product, and one implicit hypergradient at fixed
// work (100 gradient-descent steps + 30 CG iterations + the mixed product), median of REPS
// calls, with the outputs cross-checked between the backends.
//   taskset -c 0 npx tsx --conditions=@bilevel/source scripts/native-bench.ts [reps]
import { tf, initBackend, grad, hvp, mixedProduct, defineProblem, hypergradient, gradientDescent, cg, disposeParams, type Params } from '../packages/core/src/index.ts';
import { implicit } from '../packages/implicit/src/index.ts';

const REPS = Number(process.argv[2] ?? 5);
const SIZE = 96;
const energyOf = (y: tf.Tensor) => (x: tf.Tensor, theta: Params): tf.Tensor =>
  tf.tidy(() => {
    const responses = tf.conv2d(x as tf.Tensor4D, theta.filters as tf.Tensor4D, 1, 'same');
    const penalty = tf.sum(tf.log1p(tf.square(responses)), [0, 1, 2]);
    return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, y)))), tf.sum(tf.mul(tf.exp(theta.alpha), penalty)));
  });

function median(f: () => tf.Tensor[] | number, reps: number): { ms: number; out: Float32Array[] } {
  let out: Float32Array[] = [];
  const ts: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const r = f();
    const arrays = typeof r === 'number' ? [Float32Array.of(r)] : r.map((t) => t.dataSync() as Float32Array);
    if (i > 0) ts.push(performance.now() - t0); // the first call warms up
    out = arrays;
    if (typeof r !== 'number') tf.dispose(r);
  }
  return { ms: ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)], out };
}

const results: Record<string, Record<string, { ms: number; out: Float32Array[] }>> = {};
for (const backend of ['wasm', 'tensorflow'] as const) {
  await initBackend({ backend, log: false });
  const y = tf.randomUniform([1, SIZE, SIZE, 1], 0, 1, 'float32', 1);
  const x = tf.randomUniform([1, SIZE, SIZE, 1], 0, 1, 'float32', 2);
  const v = tf.randomNormal([1, SIZE, SIZE, 1], 0, 1, 'float32', 3);
  const theta: Params = { filters: tf.mul(tf.randomNormal([7, 7, 1, 30], 0, 1, 'float32', 4), 0.1), alpha: tf.fill([30], -2) };
  const energy = energyOf(y);
  const problem = defineProblem<{ y: tf.Tensor }>({ energy: (z, th) => energy(z, th), init: () => y.clone() });
  const strategy = implicit({ inner: gradientDescent({ step: 0.5, backtracking: false, maxIter: 100, tol: 1e-30 }), linear: cg({ maxIter: 30, tol: 1e-30 }), warmStart: false });
  results[backend] = {
    gradient: median(() => [grad((z) => energy(z, theta), x)], REPS),
    hvp: median(() => [hvp((z) => energy(z, theta), x, v)], REPS),
    mixed: median(() => Object.values(mixedProduct(energy, x, theta, v)), REPS),
    hypergradient: median(() => {
      const r = hypergradient({ problem, theta, data: { y }, loss: (z) => tf.mul(0.5, tf.sum(tf.square(tf.sub(z, y)))), strategy, onNotConverged: 'warn' });
      const g = [r.grad.filters.clone(), r.grad.alpha.clone()];
      r.dispose();
      return g;
    }, Math.max(1, Math.floor(REPS / 2))),
  };
  tf.dispose([x, y, v]);
  disposeParams(theta);
}
const rel = (a: Float32Array, b: Float32Array) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
};
console.log(`FoE energy ${SIZE}×${SIZE}, 30 filters 7×7, batch 1; median of ${REPS} (hypergradient: ${Math.max(1, Math.floor(REPS / 2))}); tfjs ${tf.version.tfjs}`);
console.log('| op | wasm ms | native ms | wasm / native | rel. difference |');
console.log('| --- | --- | --- | --- | --- |');
for (const op of Object.keys(results.wasm)) {
  const w = results.wasm[op];
  const n = results.tensorflow[op];
  const diff = Math.max(...w.out.map((a, i) => rel(n.out[i], a)));
  console.log(`| ${op} | ${w.ms.toFixed(1)} | ${n.ms.toFixed(1)} | ${(w.ms / n.ms).toFixed(2)} | ${diff.toExponential(1)} |`);
}
