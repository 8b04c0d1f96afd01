/**
 * Strategy swap: one hypergradient of a smoothed-TV denoising problem with every strategy in
 * the workspace. Only the `strategy` object changes between rows.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-strategy-swap start [-- --size 64]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { tf, initBackend, defineProblem, hypergradient, accelerated, lbfgs, cg, gmres, richardson, neumann, flattenParams, workUnits } from '@bilevel/core';
import type { Params, Strategy } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { jacobianFree } from '@bilevel/jfb';
import { unrolled } from '@bilevel/unrolled';
import { equilibrium } from '@bilevel/equilibrium';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 8) throw new Error(`strategy-swap: --${name} must be an integer ≥ 8, got ${process.argv[i + 1]}.`);
  return v;
}

/** Gray [0, 1] centre crop of a PNG, read with pngjs. */
function loadCrop(path: string, size: number): tf.Tensor2D {
  const png = PNG.sync.read(readFileSync(path));
  if (size > png.width || size > png.height) throw new Error(`strategy-swap: --size ${size} exceeds the ${png.width}×${png.height} image.`);
  const top = Math.floor((png.height - size) / 2);
  const left = Math.floor((png.width - size) / 2);
  const out = new Float32Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const k = ((top + i) * png.width + left + j) * 4;
      out[i * size + j] = (0.299 * png.data[k] + 0.587 * png.data[k + 1] + 0.114 * png.data[k + 2]) / 255;
    }
  }
  return tf.tensor2d(out, [size, size]);
}

type Data = { y: tf.Tensor; clean: tf.Tensor };

/** Forward differences with a zero last row/column (Neumann boundary). */
function gradient2d(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const [h, w] = x.shape;
  const dx = tf.pad(tf.sub(tf.slice(x, [0, 1], [h, w - 1]), tf.slice(x, [0, 0], [h, w - 1])), [[0, 0], [0, 1]]);
  const dy = tf.pad(tf.sub(tf.slice(x, [1, 0], [h - 1, w]), tf.slice(x, [0, 0], [h - 1, w])), [[0, 1], [0, 0]]);
  return [dx, dy];
}

const scalarOf = (t: tf.Tensor) => t.dataSync()[0];

// Φ(x; θ, y) = ½‖x − y‖² + α Σ √(|∇x|² + ν²), α = e^{logAlpha}, ν = e^{logNu}.
// μ = 1; L = 1 + 8α/ν (‖∇‖² ≤ 8, the smoothed norm's Hessian ≤ 1/ν).
const problem = defineProblem<Data>({
  name: 'smoothed-TV denoising',
  energy: (x, th, d) =>
    tf.tidy(() => {
      const [dx, dy] = gradient2d(x);
      const tv = tf.sum(tf.sqrt(tf.add(tf.add(tf.square(dx), tf.square(dy)), tf.exp(tf.mul(2, th.logNu)))));
      return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.exp(th.logAlpha), tv));
    }),
  init: (_th, d) => d.y.clone(),
  strongConvexity: 1,
  smoothness: (th) => 1 + (8 * Math.exp(scalarOf(th.logAlpha))) / Math.exp(scalarOf(th.logNu)),
});
const loss = (x: tf.Tensor, _th: Params, d: Data) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean))));

function relErr(g: Params, ref: Params): number {
  return tf.tidy(() => {
    const a = flattenParams(g);
    const b = flattenParams(ref);
    return tf.norm(tf.sub(a, b)).dataSync()[0] / tf.norm(b).dataSync()[0];
  });
}

async function main(): Promise<void> {
  const size = arg('size', 64);
  const backend = await initBackend();
  const imagePath = fileURLToPath(new URL('../../../packages/imaging/data/camera.png', import.meta.url));
  const clean = loadCrop(imagePath, size);
  const y = tf.tidy(() => tf.add(clean, tf.mul(0.1, tf.randomNormal(clean.shape, 0, 1, 'float32', 42))));
  const data: Data = { y, clean };
  const theta: Params = { logAlpha: tf.scalar(Math.log(0.08)), logNu: tf.scalar(Math.log(0.05)) };
  const L = problem.lipschitz(theta, data)!;
  console.log(`strategy-swap: ${size}×${size} crop of camera.png, σ = 0.1, backend ${backend}, θ = { logAlpha: log 0.08, logNu: log 0.05 }, L = ${L.toFixed(2)}, μ = 1`);

  // Reference: implicit with tight tolerances (1e-5, a little above this problem's float32
  // floor; L-BFGS's line search switches to the approximate-Armijo test near it).
  const reference = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5, maxIter: 5000, linearMaxIter: 1000 });
  const ref = hypergradient({ problem, theta, data, loss, strategy: reference, onNotConverged: 'error' });
  console.log(`reference implicit(lbfgs, cg) tol 1e-5: F = ${ref.value.toFixed(5)}, ∇F = [${Array.from(flattenParams(ref.grad).dataSync()).map((v) => v.toExponential(4)).join(', ')}] (${ref.work.innerIterations} + ${ref.work.linearIterations} its)`);

  const tol = 1e-3;
  const strategies: Array<[string, () => Strategy]> = [
    ['implicit + cg', () => implicit({ inner: lbfgs(), linear: cg(), tol, linearTol: tol })],
    ['implicit + cg (accelerated inner)', () => implicit({ inner: accelerated(), linear: cg(), tol, linearTol: tol })],
    ['implicit + gmres', () => implicit({ inner: lbfgs(), linear: gmres(), tol, linearTol: tol })],
    ['implicit + richardson (s = 1/L)', () => implicit({ inner: lbfgs(), linear: richardson({ step: 1 / L }), tol, linearTol: tol, linearMaxIter: 5000 })],
    ['implicit + neumann (s = 1/L, 100 terms)', () => implicit({ inner: lbfgs(), linear: neumann({ step: 1 / L, terms: 100 }), tol, linearTol: tol })],
    ['jfb k = 1', () => jacobianFree({ inner: lbfgs(), steps: 1, tol })],
    ['jfb k = 10', () => jacobianFree({ inner: lbfgs(), steps: 10, tol })],
    ['unrolled T = 100 (full tape)', () => unrolled({ steps: 100 })],
    ['unrolled T = 100 (√T checkpoints)', () => unrolled({ steps: 100, memory: { checkpoint: 'sqrt' } })],
    ['equilibrium (anderson, implicit backward)', () => equilibrium({ tol, linearTol: tol })],
    ['equilibrium (anderson, phantom k = 5)', () => equilibrium({ tol, backward: { phantom: 5, damping: 0.5 } })],
  ];

  const rows: Array<Record<string, string | number>> = [];
  for (const [label, make] of strategies) {
    let strategy: Strategy;
    try {
      strategy = make();
    } catch (e) {
      console.log(`(skipped ${label}: ${(e as Error).message})`);
      continue;
    }
    // Timed run (fresh strategy: no warm start).
    const baseBytes = tf.memory().numBytes;
    const t0 = performance.now();
    const r = hypergradient({ problem, theta, data, loss, strategy, onNotConverged: 'warn' });
    const wall = performance.now() - t0;
    const afterForwardBytes = tf.memory().numBytes - baseBytes;
    const err = relErr(r.grad, ref.grad);
    const row = {
      strategy: label,
      value: Number(r.value.toFixed(5)),
      'rel err': Number(err.toExponential(2)),
      status: r.status,
      inner: r.work.innerIterations,
      linear: r.work.linearIterations,
      'work units': workUnits(r.work),
      'wall ms': Math.round(wall),
      'peak MB': 0,
      'held MB': Number((afterForwardBytes / 2 ** 20).toFixed(3)),
    };
    r.dispose();
    (strategy as { dispose?: () => void }).dispose?.();
    // Peak memory: a second, profiled run of a fresh strategy (tf.profile tracks the engine's peak bytes).
    const fresh = make();
    const info = await tf.profile(() => {
      const rr = hypergradient({ problem, theta, data, loss, strategy: fresh, onNotConverged: 'warn' });
      rr.dispose();
      return undefined as unknown as tf.Tensor;
    });
    (fresh as { dispose?: () => void }).dispose?.();
    row['peak MB'] = Number(((info.peakBytes - baseBytes) / 2 ** 20).toFixed(2));
    rows.push(row);
  }
  console.table(rows);
  console.log('rel err = ‖g − g_ref‖/‖g_ref‖; work units = inner + linear iterations; peak MB = engine peak bytes above the baseline during one call (tf.profile); held MB = bytes still held after the call returns (the result x, grad and the strategy\'s warm-start state).');
  ref.dispose();
  reference.dispose();
  tf.dispose([clean, y, theta.logAlpha, theta.logNu]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
