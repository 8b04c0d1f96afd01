/**
 * What the energy form and the saddle form of the convex filter network (Bogensperger et al. 2024,
 * eqs. (32)–(35)) share: options, θ = { V, omega } with W = softplus(omega) ≥ 0, the 'same'
 * convolutions and their exact adjoints, filter gradients, and operator-norm bounds.
 *
 * @packageDocumentation
 */
import { tf, checkOptions, opt } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { param, read } from './params.js';
import { gaussianSamples } from './rng.js';
import { checkPositive } from './checks.js';

/** Options shared by `convexNetwork` and `convexNetworkSaddle`. */
export interface ConvexNetworkOptions {
  /** 1: Fields of Experts γΣψ_w(Vx) (eq. (34)); 2: the ICNN γΣψ_w(Wψ_w(Vx)) (eq. (32)). */
  layers?: 1 | 2;
  /** Filters of the first layer (C₁; the paper's 16). */
  channels?: number;
  /** Output channels of the second layer (C₂; the paper's 4). */
  outChannels?: number;
  /** Filter side S (the paper's 5). */
  size?: number;
  /** Weight γ > 0 of γψ_w (fixed: θ is V and W only, so θ enters K only, as the bound assumes). */
  gamma?: number;
  /** Smoothing w > 0 of ψ_w (the paper's 0.01). */
  smoothing?: number;
  /** Norm of each initial first-layer filter. */
  scale?: number;
  /** Seed of the initial filters. */
  seed?: number;
}

/** Defaults: 2 layers, 16 filters 5×5, 4 output channels (the paper's ICNN), γ = 1, w = 0.01, filter norm 0.05, seed 0. */
export const CONVEX_NETWORK_DEFAULTS = { layers: 2, channels: 16, outChannels: 4, size: 5, gamma: 1, smoothing: 0.01, scale: 0.05, seed: 0 } as const;

export const CONVEX_NETWORK_SCHEMA = {
  layers: opt.oneOf([1, 2]), channels: opt.integer({ min: 1 }), outChannels: opt.integer({ min: 1 }), size: opt.integer({ min: 1 }),
  gamma: opt.number(), smoothing: opt.number(), scale: opt.number(), seed: opt.integer(),
};

export type ResolvedConvexNetwork = Required<ConvexNetworkOptions>;

/** Checks and resolves the options (odd S: 'same' padding is then centred and its adjoint exact). */
export function resolveConvexNetwork(where: string, options: ConvexNetworkOptions, extra: Record<string, unknown> = {}): ResolvedConvexNetwork {
  checkOptions(where, options, { ...CONVEX_NETWORK_SCHEMA, ...extra });
  const o = { ...CONVEX_NETWORK_DEFAULTS, ...options } as ResolvedConvexNetwork;
  if (o.size % 2 !== 1) throw new Error(`${where}: option 'size' must be odd (centred 'same' convolutions), got ${o.size}.`);
  for (const k of ['gamma', 'smoothing', 'scale'] as const) checkPositive(where, k, o[k]);
  return o;
}

/** W = softplus(θ.omega) ≥ 0 for every θ: convexity of the ICNN by construction. */
export function secondLayer(theta: Params, where: string): tf.Tensor {
  return tf.softplus(param(theta, 'omega', where));
}

/** `c ∗ x` with 'same' zero padding. */
export const conv = (x: tf.Tensor, filters: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, filters as tf.Tensor4D, 1, 'same');

/** The exact adjoint of {@link conv} (zero padding, odd S). */
export const convAdjoint = (y: tf.Tensor, filters: tf.Tensor, inChannels: number) =>
  tf.conv2dTranspose(y as tf.Tensor4D, filters as tf.Tensor4D, [y.shape[0], y.shape[1], y.shape[2], inChannels] as [number, number, number, number], 1, 'same');

/** `∇_c⟨c ∗ input, dy⟩`: the filter gradient kernel (core registers a fast one on wasm). */
export function filterGradient(input: tf.Tensor, dy: tf.Tensor, filterShape: number[]): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x: input, dy }, {
    strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape,
  } as never) as tf.Tensor;
}

/**
 * `√(Σ_{k,i} ‖c_{ki}‖₁²)` ≥ ‖C‖ for a multi-channel 'same' convolution (Young: ‖c ∗ x‖ ≤ ‖c‖₁‖x‖ per
 * pair, then Cauchy–Schwarz over the input channels).
 */
export function convolutionNormBound(filters: tf.Tensor): number {
  const l1 = read(() => tf.sum(tf.abs(filters), [0, 1]));
  return Math.sqrt(l1.reduce((s, v) => s + v * v, 0));
}

/**
 * Initial θ: V holds ± pairs of zero-mean random filters of norm `scale` (so ψ_w(d) + ψ_w(−d) ≈ |d|
 * starts the model as a smoothed ℓ1 analysis prior), and omega = softplus⁻¹(1/(S²C₂)) + small
 * noise, so that each first-layer channel carries total weight ≈ 1 into the second layer.
 */
export function initialParams(o: ResolvedConvexNetwork): Params {
  const { size: s, channels: c1, outChannels: c2 } = o;
  const half = Math.ceil(c1 / 2);
  const raw = gaussianSamples(s * s * half, o.seed);
  const base = tf.tidy(() => {
    const f = tf.reshape(tf.tensor(Array.from(raw)), [s * s, half]);
    const centred = tf.sub(f, tf.mean(f, 0, true));
    return tf.mul(tf.div(centred, tf.norm(centred, 'euclidean', 0, true)), o.scale);
  });
  const V = tf.tidy(() => tf.reshape(tf.slice(tf.concat([base, tf.neg(base)], 1), [0, 0], [s * s, c1]), [s, s, 1, c1]));
  base.dispose();
  const theta: Params = { V };
  if (o.layers === 2) {
    const target = 1 / (s * s * c2);
    const noise = gaussianSamples(s * s * c1 * c2, o.seed + 1);
    theta.omega = tf.tidy(() => tf.add(tf.mul(tf.tensor(Array.from(noise), [s, s, c1, c2]), 0.1), Math.log(Math.expm1(target))));
  }
  return theta;
}
