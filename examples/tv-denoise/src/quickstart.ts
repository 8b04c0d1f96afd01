import { tf, initBackend, defineProblem, lbfgs, cg, hypergradient } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';

await initBackend();                                   // logs "[bilevel] tfjs 4.22.0 backend: wasm (auto; not started: tensorflow: …)"
const clean = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 1);
const noisy = tf.add(clean, tf.randomNormal([1, 32, 32, 1], 0, 0.1, 'float32', 2));

// Lower level: smoothed-TV denoising, θ = { logAlpha }.
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

// Upper level: squared error to the clean image.
const loss = (x: tf.Tensor, _theta: unknown, data: { clean: tf.Tensor }) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.clean))));

const strategy = implicit({ inner: lbfgs(), linear: cg() });   // swap this one object to change the method
const result = hypergradient({ problem, theta: { logAlpha: tf.scalar(-3) }, data: { noisy, clean }, loss, strategy });
console.log(result.value, result.grad.logAlpha.dataSync(), result.work, result.converged);
