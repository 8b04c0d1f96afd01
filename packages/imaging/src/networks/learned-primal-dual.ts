import { tf, defineOptions, opt } from '@bilevel/core';
import type { LinearOperator } from '../operators/types.js';

/** Options of {@link learnedPrimalDual}. */
export interface LearnedPrimalDualOptions {
  /** Unrolled primal-dual iterations I (Adler & Öktem: 10; Bogensperger et al.'s Table 1: 2). */
  iterations?: number;
  /** Primal memory channels N_primal (Adler & Öktem: 5). */
  primalChannels?: number;
  /** Dual memory channels N_dual (Adler & Öktem: 5). */
  dualChannels?: number;
  /** Hidden channels of each update block's two inner convolutions (Adler & Öktem: 32). */
  hidden?: number;
  /** Side of the square convolution kernels (Adler & Öktem: 3). */
  kernelSize?: number;
  /** Seed of the Glorot-uniform initial kernels. */
  seed?: number;
}

/** Defaults: Adler & Öktem's architecture (10 iterations, 5 + 5 memory channels, 32 hidden channels, 3×3 kernels), seed 0. */
export const LEARNED_PRIMAL_DUAL_DEFAULTS = Object.freeze({ iterations: 10, primalChannels: 5, dualChannels: 5, hidden: 32, kernelSize: 3, seed: 0 });

const LPD_OPTIONS = defineOptions<LearnedPrimalDualOptions>('learnedPrimalDual', {
  iterations: opt.integer({ min: 1 }),
  primalChannels: opt.integer({ min: 1 }),
  dualChannels: opt.integer({ min: 1 }),
  hidden: opt.integer({ min: 1 }),
  kernelSize: opt.integer({ min: 1 }),
  seed: opt.integer(),
}, learnedPrimalDual);

/** A learned primal-dual network: a function of the measurements whose weights are tfjs variables. */
export interface LearnedPrimalDual {
  /**
   * `x = LPD_θ(y)`, `[b, h, w, 1]`, differentiable in the weights (and in y). The caller owns it.
   * `x0` (`[b, h, w, 1]`, e.g. an FBP) starts every primal memory channel there instead of at 0.
   */
  apply(y: tf.Tensor, x0?: tf.Tensor): tf.Tensor;
  /** The trainable weights (tfjs variables): hand them to `optimizer.minimize(f, true, variables)`. */
  readonly variables: tf.Variable[];
  /** Number of trainable scalars. */
  readonly parameterCount: number;
  /** The `tf.layers` layers, in order (per iteration: dual block, then primal block). */
  readonly layers: tf.layers.Layer[];
  /** Frees the weights. Idempotent; `apply` throws afterwards. */
  dispose(): void;
}

/** One update block: conv → PReLU → conv → PReLU → conv, the residual added by the caller. */
interface Block {
  layers: tf.layers.Layer[];
  apply(input: tf.Tensor): tf.Tensor;
}

function block(hidden: number, out: number, kernelSize: number, seed: number): Block {
  let s = seed;
  const conv = (filters: number) => tf.layers.conv2d({
    filters, kernelSize, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }), biasInitializer: 'zeros',
  });
  // one PReLU slope per layer (shared over space and channels), initialised at 0 (a ReLU)
  const prelu = () => tf.layers.prelu({ sharedAxes: [1, 2, 3], alphaInitializer: 'zeros' });
  const layers = [conv(hidden), prelu(), conv(hidden), prelu(), conv(out)];
  return { layers, apply: (input) => layers.reduce((h, layer) => layer.apply(h) as tf.Tensor, input) };
}

/**
 * The learned primal-dual reconstruction of Adler & Öktem ("Learned primal-dual reconstruction",
 * IEEE TMI 2018, Algorithm 3): I unrolled iterations of small residual CNN updates in the dual
 * (measurement) space and the primal (image) space, coupled only through the forward operator A
 * and its adjoint Aᵀ,
 * ```
 * f₀ = 0 ∈ X^{N_p} (or x₀ in every channel),  h₀ = 0 ∈ Y^{N_d}
 * for i = 1..I:
 *   hᵢ = hᵢ₋₁ + Γ_{θᵢ}([hᵢ₋₁, A f⁽²⁾ᵢ₋₁, y])
 *   fᵢ = fᵢ₋₁ + Λ_{θᵢ}([fᵢ₋₁, Aᵀ h⁽¹⁾ᵢ])
 * return f⁽¹⁾_I
 * ```
 * (f⁽ᵏ⁾ the k-th memory channel; with one primal channel f⁽²⁾ = f⁽¹⁾). Adler & Öktem start at 0;
 * an initial reconstruction x₀ (an FBP, as several public LPD implementations do) lets the network
 * learn a correction, which needs far fewer training images. Each Γ, Λ is
 * conv(hidden) → PReLU → conv(hidden) → PReLU → conv(N), `kernelSize` kernels with 'same' zero
 * padding, built from `tf.layers` (so the weights are ordinary tfjs variables for any `tf.train`
 * optimizer). Gradients flow through A and Aᵀ by tfjs autodiff, so A must be differentiable
 * (e.g. {@link radon}, whose directions are each other's gradient). Measurements are
 * `[b, ...A's output shape]` with one trailing channel.
 *
 * Parameters: per iteration `k²(N_d+2)H + k²H² + k²H N_d` + `k²(N_p+1)H + k²H² + k²H N_p` kernel
 * weights, `4H + N_d + N_p` biases and 4 PReLU slopes; Adler & Öktem's defaults at I = 2 give
 * 50,396 (Bogensperger et al. report 50,397 for their 2-iteration LPD).
 *
 * @param operator - the forward operator A (the caller keeps ownership); its `inShape` fixes the image size.
 * @param options - see {@link LEARNED_PRIMAL_DUAL_DEFAULTS}.
 * @returns a {@link LearnedPrimalDual}; call `dispose()` when done.
 * @example
 * ```ts
 * const A = radon(32, { angles: 20 });
 * const net = learnedPrimalDual(A, { iterations: 2, hidden: 16 });
 * const adam = tf.train.adam(1e-3);
 * adam.minimize(() => tf.mean(tf.square(tf.sub(net.apply(sinograms), phantoms))) as tf.Scalar, false, net.variables);
 * const x = net.apply(sinograms);
 * net.dispose(); A.dispose();
 * ```
 */
export function learnedPrimalDual(operator: LinearOperator, options: LearnedPrimalDualOptions = {}): LearnedPrimalDual {
  const where = 'learnedPrimalDual';
  const o = LPD_OPTIONS.withDefaults(options, LEARNED_PRIMAL_DUAL_DEFAULTS);
  if (operator == null || typeof operator.apply !== 'function' || typeof operator.adjoint !== 'function') {
    throw new Error(`${where}: 'operator' must be a LinearOperator (apply, adjoint), e.g. radon(32, { angles: 20 }).`);
  }
  const inShape = operator.inShape;
  if (inShape == null || inShape.length !== 3 || inShape[2] !== 1) {
    throw new Error(`${where}: the operator must declare inShape [h, w, 1] (the image size), got ${inShape == null ? 'none' : `[${inShape}]`}.`);
  }
  if (o.kernelSize % 2 !== 1) throw new Error(`${where}: option 'kernelSize' must be odd (centred 'same' convolutions), got ${o.kernelSize}.`);
  const outShape = tf.tidy(() => operator.apply(tf.zeros([1, ...inShape])).shape.slice(1));
  if (outShape.length !== 3 || outShape[2] !== 1) {
    throw new Error(`${where}: the operator's output must be [b, h', w', 1] (one channel), got [b, ${outShape}].`);
  }
  const blocks: Array<{ dual: Block; primal: Block }> = [];
  for (let i = 0; i < o.iterations; i++) {
    const seed = o.seed * 1000 + 10 * i;
    blocks.push({ dual: block(o.hidden, o.dualChannels, o.kernelSize, seed), primal: block(o.hidden, o.primalChannels, o.kernelSize, seed + 5) });
  }
  const layers = blocks.flatMap((b) => [...b.dual.layers, ...b.primal.layers]);
  let disposed = false;
  const forward = (y: tf.Tensor, x0?: tf.Tensor): tf.Tensor => tf.tidy(() => {
    const b = y.shape[0];
    let f: tf.Tensor = x0 == null ? tf.zeros([b, ...inShape.slice(0, 2), o.primalChannels]) : tf.tile(x0, [1, 1, 1, o.primalChannels]);
    let h: tf.Tensor = tf.zeros([b, ...outShape.slice(0, 2), o.dualChannels]);
    const channel = (t: tf.Tensor, k: number) => tf.slice(t, [0, 0, 0, k], [-1, -1, -1, 1]);
    for (const { dual, primal } of blocks) {
      const Af = operator.apply(channel(f, Math.min(1, o.primalChannels - 1)));
      h = tf.add(h, dual.apply(tf.concat([h, Af, y], 3)));
      const Ath = operator.adjoint(channel(h, 0));
      f = tf.add(f, primal.apply(tf.concat([f, Ath], 3)));
    }
    return channel(f, 0);
  });
  // build every layer once (their weights are created on first call), on one zero sample
  tf.tidy(() => void forward(tf.zeros([1, ...outShape])));
  const variables = layers.flatMap((layer) => layer.trainableWeights.map((w) => w.read() as tf.Variable));
  const parameterCount = variables.reduce((s, v) => s + v.size, 0);
  return {
    variables,
    parameterCount,
    layers,
    apply(y, x0) {
      if (disposed) throw new Error(`${where}.apply: the network was disposed; build a new one with learnedPrimalDual(operator, options).`);
      if (!(y instanceof tf.Tensor) || y.rank !== 4 || y.shape.slice(1).some((d, k) => d !== outShape[k])) {
        throw new Error(`${where}.apply: 'y' must be measurements [batch, ${outShape}], got ${y instanceof tf.Tensor ? `[${y.shape}]` : typeof y}.`);
      }
      if (x0 != null && (!(x0 instanceof tf.Tensor) || !tf.util.arraysEqual(x0.shape, [y.shape[0], ...inShape]))) {
        throw new Error(`${where}.apply: 'x0' must be an image [${y.shape[0]}, ${inShape}] (one per measurement), got ${x0 instanceof tf.Tensor ? `[${x0.shape}]` : typeof x0}.`);
      }
      return forward(y, x0);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const layer of layers) layer.dispose();
    },
  };
}
