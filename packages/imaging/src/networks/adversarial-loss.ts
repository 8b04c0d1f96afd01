import { tf, defineOptions, opt, valueAndGradParams, mixedProduct, grad as autodiffGrad, addParams, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from '../regularizers/types.js';
import { checkImage } from '../internal/checks.js';

/** Options of {@link adversarialLoss}. */
export interface AdversarialLossOptions {
  /** Weight λ_gp ≥ 0 of the gradient penalty (Lunz et al., Mukherjee et al. and Bogensperger et al.'s ACR: 10). */
  gradientPenalty?: number;
  /** Seed of the interpolation weights ε ~ U[0, 1] (one per sample); vary it per step. */
  seed?: number;
  /**
   * `true` (default): the one-sided penalty (‖∇ₓR‖ − 1)₊² of Lunz et al., which only caps the
   * gradient; `false`: the two-sided (‖∇ₓR‖ − 1)² of Gulrajani et al.'s WGAN-GP, which also pulls
   * small gradients up to 1 (keeps a critic from collapsing to 0).
   */
  oneSided?: boolean;
}

/** Defaults: λ_gp = 10 (the ACR setting of Bogensperger et al. 2024, §4.2), seed 0, the one-sided penalty. */
export const ADVERSARIAL_LOSS_DEFAULTS = Object.freeze({ gradientPenalty: 10, seed: 0, oneSided: true });

const ADVERSARIAL_OPTIONS = defineOptions<AdversarialLossOptions>('adversarialLoss', {
  gradientPenalty: opt.number({ min: 0 }),
  seed: opt.integer(),
  oneSided: opt.boolean(),
}, adversarialLoss);

/** What {@link adversarialLoss} returns: the loss, its parts, and ∇_θ of the loss (owned by the caller). */
export interface AdversarialLossResult {
  /** The loss L(θ) = real − fake + λ_gp · penalty. */
  value: number;
  /** Mean of R over the real (ground-truth) samples. */
  real: number;
  /** Mean of R over the fake (artefact-laden, e.g. FBP) samples. */
  fake: number;
  /** Mean over the interpolates of (‖∇ₓR(x̃)‖ − 1)₊² (or (‖∇ₓR(x̃)‖ − 1)² two-sided), before the weight λ_gp. */
  penalty: number;
  /** ∇_θ L, a tree shaped like θ; dispose it with `disposeParams`. */
  grad: Params;
}

/**
 * The adversarial-regularizer loss of Lunz, Öktem & Schönlieb ("Adversarial regularizers in inverse
 * problems", NeurIPS 2018, eq. (6)), used for the adversarial convex regularizer (ACR) of Mukherjee,
 * Dittmer, Shumaylov, Lunz, Öktem & Schönlieb ("Learned convex regularizers for inverse problems",
 * 2021): a Wasserstein-1 critic loss with a one-sided gradient penalty, so that a trained R is small
 * on ground truth and large on reconstructions with artefacts,
 * ```
 * L(θ) = (1/B) Σ_b R(x_b; θ) − (1/B) Σ_b R(x̂_b; θ) + λ_gp (1/B) Σ_b (‖∇ₓR(x̃_b; θ)‖ − 1)₊²,
 * x̃_b = ε_b x_b + (1 − ε_b) x̂_b,  ε_b ~ U[0, 1],
 * ```
 * x the real samples, x̂ the fake ones (same batch size B). ∇_θ of the first two terms is autodiff of
 * `R.value`; of the penalty, with g_b = ∇ₓR(x̃_b), the chain rule gives the mixed product
 * `∇_θ⟨∇ₓR(x̃; θ), v⟩` at `v_b = 2λ_gp (‖g_b‖ − 1)₊ g_b / (B‖g_b‖)` — R's analytic `mixed` where it
 * has one (e.g. {@link convexNetwork}), else double backprop. `oneSided: false` drops the ₊ (the
 * two-sided penalty of Gulrajani et al., "Improved training of Wasserstein GANs", 2017).
 *
 * @param regularizer - R, e.g. `convexNetwork({ layers: 2 })` (an ICNN: convex for every θ).
 * @param theta - R's parameters.
 * @param real - ground-truth images `[B, h, w, 1]`.
 * @param fake - reconstructions to be penalised (e.g. FBP), same shape.
 * @param options - see {@link ADVERSARIAL_LOSS_DEFAULTS}.
 * @returns the loss, its parts and ∇_θ L (see {@link AdversarialLossResult}).
 * @example
 * ```ts
 * const R = convexNetwork({ layers: 2, gamma: 1 });
 * const theta = R.init();
 * const { value, grad } = adversarialLoss(R, theta, phantoms, fbp(A, sinograms), { seed: step });
 * // grad is shaped like theta: one Adam / SGD step on it, then disposeParams(grad)
 * ```
 */
export function adversarialLoss(regularizer: Regularizer, theta: Params, real: tf.Tensor, fake: tf.Tensor, options: AdversarialLossOptions = {}): AdversarialLossResult {
  const where = 'adversarialLoss';
  const o = ADVERSARIAL_OPTIONS.withDefaults(options, ADVERSARIAL_LOSS_DEFAULTS);
  if (regularizer == null || typeof regularizer.value !== 'function') {
    throw new Error(`${where}: 'regularizer' must be a Regularizer (e.g. convexNetwork({ layers: 2 })).`);
  }
  checkImage(where, 'real', real);
  checkImage(where, 'fake', fake);
  if (!tf.util.arraysEqual(real.shape, fake.shape)) {
    throw new Error(`${where}: 'real' [${real.shape}] and 'fake' [${fake.shape}] must have the same shape (pair each real sample with one fake one).`);
  }
  const B = real.shape[0];
  const gradientOf = (x: tf.Tensor) => regularizer.gradient != null ? regularizer.gradient(x, theta) : autodiffGrad((z) => regularizer.value(z, theta), x);
  const critic = valueAndGradParams((th) => tf.tidy(() => tf.div(tf.sub(regularizer.value(real, th), regularizer.value(fake, th)), B)), theta);
  const parts = tf.tidy(() => [tf.div(regularizer.value(real, theta), B), tf.div(regularizer.value(fake, theta), B)]);
  const [realMean, fakeMean] = parts.map((t) => t.dataSync()[0]);
  tf.dispose(parts);
  let penalty = 0;
  let grad = critic.grad;
  critic.value.dispose();
  if (o.gradientPenalty > 0) {
    const { mix, v, p } = tf.tidy(() => {
      const eps = tf.randomUniform([B, 1, 1, 1], 0, 1, 'float32', o.seed);
      const mix = tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake));
      const g = gradientOf(mix);
      const norms = tf.sqrt(tf.sum(tf.square(g), [1, 2, 3], true)); // [B, 1, 1, 1]
      const excess = o.oneSided ? tf.relu(tf.sub(norms, 1)) : tf.sub(norms, 1);
      const p = tf.mean(tf.square(excess));
      // where ‖g_b‖ = 0 the excess is 0 too: guard the division only
      const v = tf.mul(tf.div(tf.mul(excess, 2 * o.gradientPenalty / B), tf.maximum(norms, 1e-12)), g);
      return { mix, v, p };
    });
    penalty = p.dataSync()[0];
    p.dispose();
    const gp = regularizer.mixed != null ? regularizer.mixed(mix, theta, v) : mixedProduct((z, th) => regularizer.value(z, th), mix, theta, v);
    tf.dispose([mix, v]);
    const sum = addParams(grad, gp);
    disposeParams(grad);
    disposeParams(gp);
    grad = sum;
  }
  return { value: realMean - fakeMean + o.gradientPenalty * penalty, real: realMean, fake: fakeMean, penalty, grad };
}
