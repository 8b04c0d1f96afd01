/**
 * Regularizers of the example, built on @bilevel/imaging:
 * - `exPenalty`: the (Ex) penalty e^{β₀} Σ_k e^{β_k} Σ √((c_k ∗ x)² + ε²), optionally with a
 *   learnable ε = e^{θ.logEpsilon} (one for all filters).
 */
import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { filterPenalty } from '@bilevel/imaging';
import type { Regularizer } from '@bilevel/imaging';

export function exPenalty(options: { filters: tf.Tensor; epsilon: number; beta0: number; learnEpsilon: boolean; padding: 'valid' | 'same' | 'symmetric' }): Regularizer {
  if (!options.learnEpsilon) return filterPenalty({ filters: options.filters, epsilon: options.epsilon, beta0: options.beta0, padding: options.padding });
  if (options.padding !== 'valid') throw new Error("exPenalty: --learnEpsilon supports only --padding valid.");
  const where = 'exPenalty';
  const get = (theta: Params, k: string) => {
    const t = theta[k];
    if (t == null) throw new Error(`${where}: θ has no '${k}'.`);
    return t;
  };
  return {
    name: '(Ex) filter penalty, learned ε',
    convex: true,
    value: (x, theta) =>
      tf.tidy(() => {
        const z = tf.conv2d(x as tf.Tensor4D, get(theta, 'filters') as tf.Tensor4D, 1, 'valid');
        const eps2 = tf.exp(tf.mul(2, get(theta, 'logEpsilon')));
        const perFilter = tf.sum(tf.sqrt(tf.add(tf.square(z), eps2)), [0, 1, 2]);
        return tf.sum(tf.mul(tf.exp(tf.add(get(theta, 'beta0'), get(theta, 'beta'))), perFilter));
      }),
    mu: () => 0,
    init() {
      const k = options.filters.shape[3] as number;
      return { filters: options.filters.clone(), beta0: tf.scalar(options.beta0), beta: tf.zeros([k]), logEpsilon: tf.scalar(Math.log(options.epsilon)) };
    },
  };
}
