/**
 * The README quickstart as a function, for a browser bundle: the same lower level (smoothed
 * TV), loss and strategy, returning the numbers instead of printing them.
 */
import { tf, initBackend, defineProblem, lbfgs, cg, hypergradient, type BackendOptions } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';

/** What one quickstart hypergradient gives. */
export interface QuickstartResult {
  backend: string;
  value: number;
  grad: number;
  innerIterations: number;
  linearIterations: number;
  converged: boolean;
}

/**
 * Starts the backend, then computes the quickstart's hypergradient.
 *
 * @param backend - options of `initBackend` (in a browser: `{ backend: 'wasm', wasmPaths }`).
 * @returns the backend used, F(θ), dF/dlogα, work and convergence.
 */
export async function runQuickstart(backend: BackendOptions = {}): Promise<QuickstartResult> {
  const name = await initBackend(backend);
  const clean = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 1);
  const noisy = tf.add(clean, tf.randomNormal([1, 32, 32, 1], 0, 0.1, 'float32', 2));
  const problem = defineProblem<{ noisy: tf.Tensor; clean: tf.Tensor }>({
    energy: (x, theta, data) => {
      const [h, w] = [x.shape[1]!, x.shape[2]!];
      const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [-1, -1, w - 1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1]));
      const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [-1, h - 1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1]));
      const tv = tf.add(tf.sum(tf.sqrt(tf.add(tf.square(dx), 1e-4))), tf.sum(tf.sqrt(tf.add(tf.square(dy), 1e-4))));
      return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.noisy)))), tf.mul(tf.exp(theta.logAlpha), tv));
    },
    init: (_theta, data) => data.noisy.clone(),
    strongConvexity: 1,
  });
  const loss = (x: tf.Tensor, _theta: unknown, data: { clean: tf.Tensor }) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.clean))));
  const strategy = implicit({ inner: lbfgs(), linear: cg() });
  const theta = { logAlpha: tf.scalar(-3) };
  const result = hypergradient({ problem, theta, data: { noisy, clean }, loss, strategy });
  const out: QuickstartResult = {
    backend: name,
    value: result.value,
    grad: result.grad.logAlpha.dataSync()[0],
    innerIterations: result.work.innerIterations,
    linearIterations: result.work.linearIterations,
    converged: result.converged,
  };
  tf.dispose([clean, noisy, theta.logAlpha, result.grad.logAlpha, result.x]);
  strategy.dispose?.();
  return out;
}
