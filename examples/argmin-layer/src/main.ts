/**
 * An ArgminLayer inside a tf.sequential model, trained with model.fit: the layer maps a noisy
 * 1-D signal y to x̂(θ; y) = argmin_x ½‖x − y‖² + α Σ √((Dx)² + ν²), and model.fit learns
 * θ = { logAlpha, logNu } from (noisy, clean) pairs through implicit differentiation.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-argmin-layer start
 */
import { tf, initBackend, defineProblem, lbfgs, cg, ArgminLayer, registerArgminProblem } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';

const n = 64;
const samples = 64;

/** Seeded piecewise-constant signals with 3–6 jumps. */
function syntheticSignals(count: number, seed: number): tf.Tensor2D {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const out = new Float32Array(count * n);
  for (let i = 0; i < count; i++) {
    let level = rand();
    const jumps = new Set(Array.from({ length: 3 + Math.floor(rand() * 4) }, () => Math.floor(rand() * n)));
    for (let j = 0; j < n; j++) {
      if (jumps.has(j)) level = rand();
      out[i * n + j] = level;
    }
  }
  return tf.tensor2d(out, [count, n]);
}

async function main(): Promise<void> {
  await initBackend();
  // The energy of a batch is the sum over its rows; μ = 1 (the data term).
  const problem = defineProblem<tf.Tensor>({
    name: 'smoothed-TV 1-D',
    energy: (x, th, y) =>
      tf.tidy(() => {
        const dx = tf.sub(tf.slice(x, [0, 1], [-1, n - 1]), tf.slice(x, [0, 0], [-1, n - 1]));
        const tv = tf.sum(tf.sqrt(tf.add(tf.square(dx), tf.exp(tf.mul(2, th.logNu)))));
        return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, y)))), tf.mul(tf.exp(th.logAlpha), tv));
      }),
    init: (_th, y) => y.clone(),
    strongConvexity: 1,
  });
  // Warm starts of x̂ and of the adjoint carry over between batches of the same shape.
  const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-3, linearTol: 1e-3 });
  registerArgminProblem('smoothed-tv-1d', problem, strategy);

  const clean = syntheticSignals(samples, 1);
  const noisy = tf.tidy(() => tf.add(clean, tf.mul(0.1, tf.randomNormal(clean.shape, 0, 1, 'float32', 2))));
  const layer = new ArgminLayer({
    problem: 'smoothed-tv-1d',
    weights: { logAlpha: { shape: [], initial: Math.log(0.01) }, logNu: { shape: [], initial: Math.log(0.1) } },
    inputShape: [n],
    name: 'tv_denoiser',
  });
  const model = tf.sequential({ layers: [layer] });
  model.compile({ optimizer: tf.train.adam(0.1), loss: 'meanSquaredError' });
  const noisyMse = tf.tidy(() => tf.mean(tf.square(tf.sub(noisy, clean))).dataSync()[0]);
  console.log(`ArgminLayer: ${samples} signals of length ${n}, σ = 0.1; MSE of the noisy input ${noisyMse.toExponential(3)}`);
  const t0 = performance.now();
  await model.fit(noisy, clean, {
    epochs: 15,
    batchSize: 16,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onEpochEnd: async (epoch, logs) => {
        const th = layer.theta();
        console.log(
          `epoch ${String(epoch + 1).padStart(2)}  loss ${logs!.loss.toExponential(4)}  α = ${Math.exp(th.logAlpha.dataSync()[0]).toFixed(4)}  ν = ${Math.exp(th.logNu.dataSync()[0]).toFixed(4)}  tensors ${tf.memory().numTensors}`,
        );
      },
    },
  });
  console.log(`trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  model.dispose();
  strategy.dispose();
  tf.dispose([clean, noisy]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
