// The benchmark's task: Fields-of-Experts denoising (imaging's foeProblem, 5×5 DCT filters)
// of 64×64 images, one noisy image per sample, solved by L-BFGS and differentiated by the
// implicit rule with CG; the per-sample loss is ½‖x − clean‖².
import { tf, definePoolTask, lbfgs, cg, seededNormal, disposeParams } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { foeProblem } from '@bilevel/imaging';

export const SIZE = 64;

/** θ of the benchmark (the caller disposes it). */
export function benchTheta() {
  const built = foeProblem({ size: 5 });
  return built.theta;
}

export default function task() {
  const { problem, theta } = foeProblem({ size: 5 });
  disposeParams(theta); // θ comes with each request; the problem does not hold it
  return definePoolTask<{ y: tf.Tensor; clean: tf.Tensor }>({
    problem: problem as never,
    strategy: implicit({ inner: lbfgs({ tol: 1e-4, maxIter: 200 }), linear: cg({ tol: 1e-4, maxIter: 100 }) }),
    loss: (x, _theta, d) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean)))),
    samples: 8,
    sample: (i) =>
      tf.tidy(() => {
        const r = tf.linspace(0, 1, SIZE);
        const clean = tf.outerProduct(tf.sin(tf.mul(r, 3 + i)) as tf.Tensor1D, tf.cos(tf.mul(r, 2 + i)) as tf.Tensor1D).reshape([1, SIZE, SIZE, 1]);
        const y = tf.add(clean, tf.mul(0.1, seededNormal([1, SIZE, SIZE, 1], 500 + i)));
        return { y, clean };
      }),
  });
}
