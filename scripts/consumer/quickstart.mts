// Typed consumer code (ESM) under the strictest settings a user may have:
// strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, skipLibCheck false.
import { tf, initBackend, defineProblem, lbfgs, cg, hypergradient, type Params } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';

interface Data {
  noisy: tf.Tensor;
  clean: tf.Tensor;
}

export async function quickstart(): Promise<number> {
  await initBackend();
  const clean = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 1);
  const noisy = tf.add(clean, tf.randomNormal([1, 8, 8, 1], 0, 0.1, 'float32', 2));
  const problem = defineProblem<Data>({
    energy: (x, theta, data) => {
      const [h, w] = [x.shape[1] ?? 0, x.shape[2] ?? 0];
      const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [-1, -1, w - 1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1]));
      const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [-1, h - 1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1]));
      const tv = tf.add(tf.sum(tf.sqrt(tf.add(tf.square(dx), 1e-4))), tf.sum(tf.sqrt(tf.add(tf.square(dy), 1e-4))));
      const logAlpha = theta['logAlpha'];
      if (logAlpha === undefined) throw new Error('quickstart: theta.logAlpha is missing');
      return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.noisy)))), tf.mul(tf.exp(logAlpha), tv));
    },
    init: (_theta, data) => data.noisy.clone(),
    strongConvexity: 1,
  });
  const loss = (x: tf.Tensor, _theta: Params, data: Data): tf.Tensor => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.clean))));
  const result = hypergradient({ problem, theta: { logAlpha: tf.scalar(-3) }, data: { noisy, clean }, loss, strategy: implicit({ inner: lbfgs(), linear: cg() }), tol: 1e-4 });
  const g = result.grad['logAlpha']?.dataSync()[0];
  result.dispose();
  return g ?? Number.NaN;
}
