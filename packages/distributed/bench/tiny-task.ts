// The overhead benchmark's task: a 16-entry quadratic whose solve takes one L-BFGS step,
// so a job's time is almost all dispatch (queue, Redis reads and writes, events).
import { tf, definePoolTask, defineProblem, lbfgs, cg } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';

export default definePoolTask<{ y: tf.Tensor }>({
  problem: defineProblem<{ y: tf.Tensor }>({
    energy: (x, theta, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.mul(0.5, tf.exp(theta.logAlpha)), tf.sum(tf.square(x)))),
    init: (_t, d) => d.y.clone(),
    strongConvexity: 1,
  }),
  strategy: implicit({ inner: lbfgs({ tol: 1e-4 }), linear: cg({ tol: 1e-4 }) }),
  loss: (x, _theta, d) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, tf.mul(d.y, 0.5))))),
  samples: 64,
  sample: (i) => ({ y: tf.fill([16], 1 + i / 64) }),
});
