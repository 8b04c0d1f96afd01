import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { checkPositive } from '../internal/checks.js';
import { param } from '../internal/params.js';
import { gaussianSamples } from '../internal/rng.js';
import { checkOptions } from '@bilevel/core';
import { ICNN_SCHEMA } from '../internal/options.js';
import { icnnDerivatives } from '../internal/icnn-derivatives.js';

/** Options of {@link icnn}. */
export interface IcnnOptions {
  /** Number of layers L ≥ 1 (L = 1 is a softplus Fields-of-Experts). */
  layers?: number;
  /** Channels per hidden layer. */
  channels?: number;
  /** Convolution side S. */
  size?: number;
  /** Seed of the initial weights. */
  seed?: number;
  /** Standard deviation of the initial x-path weights. */
  scale?: number;
  /** Initial overall weight α (stored as `logAlpha`). */
  alpha?: number;
}

/** Defaults of {@link icnn}: 2 layers, 8 channels, 5×5 convolutions, seed 0, scale 0.1, α = 0.01. */
export const ICNN_DEFAULTS = { layers: 2, channels: 8, size: 5, seed: 0, scale: 0.1, alpha: 0.01 } as const;

/**
 * The non-negative weights `W_kᶻ = softplus(θ.wz{k})` the ICNN actually uses. Any update of the
 * raw parameters keeps them non-negative, so convexity survives unconstrained training.
 *
 * @param theta - ICNN parameters from {@link icnn}'s `init()`.
 * @param layer - k ∈ [1, L − 1].
 * @returns `[S, S, channels, channels]` non-negative weights (a new tensor).
 * @example
 * ```ts
 * const wz = icnnZWeights(theta, 1);   // all entries ≥ 0
 * ```
 */
export function icnnZWeights(theta: Params, layer: number): tf.Tensor {
  return tf.softplus(param(theta, `wz${layer}`, 'icnnZWeights'));
}

/**
 * Input-convex neural network regularizer (Amos et al.), convolutional:
 * ```
 * z₁ = σ(W₀ ∗ x + b₀),
 * z_{k+1} = σ(W_kˣ ∗ x + W_kᶻ ∗ z_k + b_k),   k = 1 … L−1,
 * R(x; θ) = e^{θ.logAlpha} Σ_{pixels, channels} z_L,
 * ```
 * with `σ = softplus` (smooth, convex, non-decreasing) and `W_kᶻ = softplus(θ.wz{k}) ≥ 0`.
 * Convex in x: an affine map of x is convex, σ of a convex function is convex because σ is
 * convex non-decreasing, non-negative combinations of convex functions are convex, and the
 * final sum is one. Not strongly convex and with no cheap Lipschitz bound: pair it with
 * {@link tikhonov} ξ or a strongly convex data term ({@link icnnProblem} does).
 * Convolutions use 'same' zero padding so every layer keeps the image size.
 * Supplies an analytic gradient (backpropagation) and a Hessian prepared at x (the layers'
 * sigmoids and curvature weights computed once per linear solve) and the mixed product as one
 * reverse pass over the forward and tangent passes.
 *
 * @param options - see {@link ICNN_DEFAULTS}.
 * @returns a {@link Regularizer} with parameters `w0, b0`, and for k ≥ 1 `wx{k}, wz{k}, b{k}`, and `logAlpha`.
 * @example
 * ```ts
 * const R = icnn({ layers: 2, channels: 8 });
 * const theta = R.init();
 * const r = R.value(x, theta);
 * ```
 */
export function icnn(options: IcnnOptions = {}): Regularizer {
  checkOptions('icnn', options, ICNN_SCHEMA);
  const o = { ...ICNN_DEFAULTS, ...options };
  for (const k of ['layers', 'channels', 'size'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new Error(`icnn: option '${k}' must be a positive integer, got ${String(o[k])}.`);
  }
  checkPositive('icnn', 'scale', o.scale);
  checkPositive('icnn', 'alpha', o.alpha);
  const where = 'icnn';
  const p = (theta: Params, key: string) => param(theta, key, where);
  const d = icnnDerivatives(o.layers, where);
  return {
    name: `ICNN (${o.layers} layers, ${o.channels} channels)`,
    convex: true,
    value: (x, theta) =>
      tf.tidy(() => {
        const conv = (input: tf.Tensor, w: tf.Tensor) => tf.conv2d(input as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
        let z = tf.softplus(tf.add(conv(x, p(theta, 'w0')), p(theta, 'b0')));
        for (let k = 1; k < o.layers; k++) {
          const pre = tf.add(tf.add(conv(x, p(theta, `wx${k}`)), conv(z, tf.softplus(p(theta, `wz${k}`)))), p(theta, `b${k}`));
          z = tf.softplus(pre);
        }
        return tf.mul(tf.exp(p(theta, 'logAlpha')), tf.sum(z));
      }),
    gradient: d.gradient,
    valueAndGradient: d.valueAndGradient,
    hessian: d.hessian,
    mixed: d.mixed,
    mu: () => 0,
    init() {
      const { size: s, channels: c, scale } = o;
      let seed = o.seed;
      const normal = (shape: number[], std: number) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const v = gaussianSamples(n, seed++);
        return tf.tensor(Array.from(v, (t) => t * std), shape);
      };
      const theta: Params = { w0: normal([s, s, 1, c], scale), b0: tf.zeros([c]), logAlpha: tf.scalar(Math.log(o.alpha)) };
      for (let k = 1; k < o.layers; k++) {
        theta[`wx${k}`] = normal([s, s, 1, c], scale);
        // softplus(−4 + noise) ≈ 0.02: small positive z-path weights, fan-in s²c
        theta[`wz${k}`] = tf.tidy(() => tf.add(normal([s, s, c, c], 0.5), -4));
        theta[`b${k}`] = tf.zeros([c]);
      }
      return theta;
    },
  };
}
