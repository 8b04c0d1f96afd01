// The checks both consumer scripts run (esm.mjs loads the packages with `import`,
// cjs.cjs with `require`, then both hand the loaded modules here). This file imports no
// bilevel package itself, so each script exercises its own module system only.
'use strict';
const { existsSync } = require('node:fs');

function fail(message) {
  throw new Error(`consumer check: ${message}`);
}

/** Every public entry point loaded, non-empty; bundled sample images resolve on disk. */
function checkEntries(entries) {
  for (const [specifier, mod] of Object.entries(entries)) {
    const names = Object.keys(mod).filter((k) => k !== 'default' && k !== '__esModule');
    if (names.length === 0) fail(`'${specifier}' loaded but exports nothing`);
    if (typeof mod.sampleImages === 'function') {
      const images = mod.sampleImages();
      const paths = Object.values(images);
      if (paths.length < 8) fail(`'${specifier}'.sampleImages() found ${paths.length} images, expected the 8 bundled ones (in ${mod.SAMPLE_IMAGE_DIR})`);
      for (const p of paths) if (!existsSync(p)) fail(`'${specifier}'.sampleImages() lists missing file ${p}`);
      console.log(`  ${specifier}: ${paths.length} sample images under ${mod.SAMPLE_IMAGE_DIR}`);
    }
  }
}

/**
 * Ridge denoising with a learned weight and shift, whose hypergradient has a closed form:
 *   Φ(x; θ) = ½‖x − (y + b)‖² + ½ e^s ‖x‖²,  θ = { s, b }   ⇒  x̂ = (y + b) / (1 + a),  a = e^s
 *   F(θ) = ½‖x̂ − t‖²  ⇒  ∂F/∂s = −a/(1 + a) ⟨x̂ − t, x̂⟩,  ∂F/∂b = (x̂ − t) / (1 + a).
 */
async function checkHypergradient({ core, implicit, tfjs, label }) {
  const { tf } = core;
  if (tf.engine() !== tfjs.engine()) fail(`@bilevel/core's tf is not the consumer's @tensorflow/tfjs (two tfjs instances: the peer dependency was not shared)`);
  const backend = await core.initBackend();
  const before = tf.memory().numTensors;
  const n = 16;
  const y = Array.from({ length: n }, (_, i) => Math.sin(1.3 * i) + 0.2);
  const t = Array.from({ length: n }, (_, i) => 0.8 * Math.sin(1.3 * i + 0.1));
  const s = -0.5;
  const b = Array.from({ length: n }, (_, i) => 0.05 * Math.cos(i));

  const a = Math.exp(s);
  const xHat = y.map((yi, i) => (yi + b[i]) / (1 + a));
  const r = xHat.map((xi, i) => xi - t[i]);
  const value = 0.5 * r.reduce((acc, ri) => acc + ri * ri, 0);
  const gradS = (-a / (1 + a)) * r.reduce((acc, ri, i) => acc + ri * xHat[i], 0);
  const gradB = r.map((ri) => ri / (1 + a));

  const data = { y: tf.tensor1d(y), t: tf.tensor1d(t) };
  const theta = { s: tf.scalar(s), b: tf.tensor1d(b) };
  const problem = core.defineProblem({
    energy: (x, th, d) =>
      tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, tf.add(d.y, th.b))))), tf.mul(tf.mul(0.5, tf.exp(th.s)), tf.sum(tf.square(x)))),
    init: (_th, d) => d.y.clone(),
    strongConvexity: 1,
  });
  const loss = (x, _th, d) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));
  const strategy = implicit.implicit({ inner: core.lbfgs(), linear: core.cg() });
  const result = core.hypergradient({ problem, theta, data, loss, strategy, tol: 1e-5, linearTol: 1e-5 });
  const got = { value: result.value, s: result.grad.s.dataSync()[0], b: Array.from(result.grad.b.dataSync()) };
  result.dispose();
  strategy.dispose(); // the implicit strategy keeps x̂ and the adjoint as warm starts
  for (const v of [data.y, data.t, theta.s, theta.b]) v.dispose();

  // Tolerance: inner and adjoint solves stop at residual 1e-5 with μ = 1, so x̂ and the
  // adjoint are within 1e-5, and float32 sums over n = 16 entries of size ~1 add ~1e-6;
  // 1e-4 (relative to max(1, |exact|)) keeps a 10× margin and is 3 orders below the
  // gradient entries (~0.1–1), so a wrong formula or a wrong sign fails.
  const tol = 1e-4;
  const close = (x, exact) => Math.abs(x - exact) <= tol * Math.max(1, Math.abs(exact));
  if (!close(got.value, value)) fail(`${label}: F = ${got.value}, closed form ${value}`);
  if (!close(got.s, gradS)) fail(`${label}: ∂F/∂s = ${got.s}, closed form ${gradS}`);
  const worst = Math.max(...gradB.map((g, i) => Math.abs(got.b[i] - g)));
  if (!(worst <= tol)) fail(`${label}: ∂F/∂b off by ${worst} (max abs), closed form ${gradB.slice(0, 3).join(', ')}, ...`);
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) fail(`${label}: ${leaked} tensors leaked`);
  console.log(`  ${label} (${backend}): F = ${got.value.toFixed(6)} (closed form ${value.toFixed(6)}), ∂F/∂s = ${got.s.toFixed(6)} (${gradS.toFixed(6)}), max |∂F/∂b − exact| = ${worst.toExponential(2)}, 0 tensors leaked`);
}

module.exports = { checkEntries, checkHypergradient };
