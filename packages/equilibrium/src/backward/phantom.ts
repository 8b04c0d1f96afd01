import { tf, emptyWork, valueAndGradParams, statusMessage } from '@bilevel/core';
import type { FixedPointRule } from './types.js';
import { countMapVjps } from './types.js';

/**
 * Phantom gradient (Geng et al., "On Training Implicit Models", NeurIPS 2021): backpropagate
 * `⟨x_k, v⟩` through k damped steps `x ← (1 − λ)x + λT(x)` started at the fixed point
 * (held constant). With λ = 1 this is Jacobian-free backpropagation through k steps.
 *
 * @param steps - k, the number of differentiated steps.
 * @param damping - λ in (0, 1].
 * @returns a {@link FixedPointRule}; it has no residual and reports the status 'fixed-steps'.
 */
export function phantomRule(steps: number, damping: number): FixedPointRule {
  return {
    name: `phantom(k=${steps}, λ=${damping})`,
    vjp({ map, energy, x, theta, cotangent }) {
      const work = emptyWork();
      const { value, grad } = valueAndGradParams((th) => {
        let z = x;
        for (let i = 0; i < steps; i++) z = tf.add(tf.mul(1 - damping, z), tf.mul(damping, map(z, th)));
        return tf.sum(tf.mul(z, cotangent));
      }, theta);
      value.dispose();
      countMapVjps(work, energy, steps);
      work.innerIterations += steps;
      return { grad, converged: true, status: 'fixed-steps', iterations: steps, message: statusMessage('fixed-steps', { where: `phantom gradient (damping ${damping})`, iterations: steps, fix: 'raise k for a closer direction, or use backward: \'implicit\' for the exact hypergradient' }), work };
    },
  };
}
