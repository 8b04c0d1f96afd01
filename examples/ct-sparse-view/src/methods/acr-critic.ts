/**
 * The critic of the ICNN-ACR row (`acr.ts`): its start, the calibration of that start to the scale
 * the gradient penalty imposes, and its adversarial training (Mukherjee, Dittmer, Shumaylov, Lunz,
 * Öktem & Schönlieb, "Learned convex regularizers for inverse problems", 2021; the loss of Lunz,
 * Öktem & Schönlieb 2018, eq. (6)).
 *
 * Why a calibration: the penalty λ_gp E(‖∇ₓR(x̃)‖ − 1)² pins ‖∇ₓR‖ near 1 on the interpolates x̃, and
 * ψ_w's smoothing w is measured in the units of R's pre-activations. A start whose ‖∇ₓR‖ is far above
 * 1 (measured on the first training batch: 3.5 for `convexNetwork`'s random start, 23 for the TV start) is first
 * shrunk by the penalty, which leaves w = 0.01 large against the shrunken pre-activations (ψ_w then
 * quadratic nearly everywhere, R close to a Tikhonov term) or ReLUs dead. Since
 * ψ_{w/c}(s/c) = ψ_w(s)/c, dividing V and w by c = mean ‖∇ₓR(x̃)‖ gives exactly R/c: the same
 * regularizer shape, already at the penalty's scale.
 */
import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { convexNetwork, adversarialLoss, fbp } from '@bilevel/imaging';
import type { ConvexNetworkOptions } from '@bilevel/imaging';
import type { CtContext } from '../context.js';
import { trainingBatch } from '../augment.js';
import { tvFilters, tvSecondLayer } from './tv-filters.js';

/** Settings of the critic's training (the `--acr*` flags of `acr.ts`). */
export interface CriticSettings {
  /** 'tv': the 8-direction TV start of the FoE / ICNN rows (`tv-filters.ts`: V and a centre-tap W); 'random': `convexNetwork`'s start. */
  init: 'tv' | 'random';
  steps: number;
  rate: number;
  /** λ_gp. */
  penalty: number;
  /** false: the two-sided (‖∇R‖ − 1)² of the ACR code and WGAN-GP; true: Lunz et al.'s one-sided (‖∇R‖ − 1)₊². */
  oneSided: boolean;
  /** Steps per point of the training curve (means over the window). */
  every: number;
}

/** One point of the training curve: window means of the Wasserstein estimate W = mean R(FBP) − mean R(truth) and of the penalty. */
export interface CriticPoint {
  step: number;
  wasserstein: number;
  real: number;
  fake: number;
  penalty: number;
}

/**
 * Mean over the batch of ‖∇ₓR(x̃_b)‖ at the interpolates x̃_b = ε_b real_b + (1 − ε_b) fake_b,
 * ε_b ~ U[0, 1] (the points the gradient penalty sees).
 *
 * @returns the mean gradient norm.
 */
export function interpolateGradientNorm(network: ConvexNetworkOptions, theta: Params, real: tf.Tensor, fake: tf.Tensor, seed: number): number {
  const R = convexNetwork(network);
  return tf.tidy(() => {
    const B = real.shape[0];
    const eps = tf.randomUniform([B, 1, 1, 1], 0, 1, 'float32', seed);
    const mix = tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake));
    const g = tf.reshape(R.gradient!(mix, theta), [B, -1]);
    return tf.mean(tf.norm(g, 'euclidean', 1)).dataSync()[0];
  });
}

/**
 * Rescales a critic so that its mean ‖∇ₓR‖ on interpolates of (real, fake) is 1: V → V/c and
 * w → w/c with c that mean (exactly R/c, see the file's note); W (omega) is unchanged.
 *
 * @returns the rescaled network options and θ (new tensors; the caller disposes both θs), and c.
 */
export function calibrateCritic(network: ConvexNetworkOptions, theta: Params, real: tf.Tensor, fake: tf.Tensor, seed: number) {
  const c = interpolateGradientNorm(network, theta, real, fake, seed);
  if (!(c > 0)) throw new Error(`ct-sparse-view acr: the critic's start has ‖∇R‖ = ${c} on the interpolates; choose --acrInit tv or random.`);
  const scaled: Params = {};
  for (const [k, v] of Object.entries(theta)) scaled[k] = k === 'V' ? tf.div(v, c) : v.clone();
  return { network: { ...network, smoothing: network.smoothing! / c }, theta: scaled, c };
}

/**
 * The critic's start (calibrated on the first training batch) and its adversarial training: Adam
 * (β₁ = 0.5, β₂ = 0.9, the WGAN-GP critic's) on `adversarialLoss`, one augmented batch of the
 * training phantoms (truth) and their FBP (fake) per step.
 *
 * @returns θ (tfjs variables, the caller disposes them), the calibrated network options, the
 *   calibration factor c and the training curve.
 */
export function trainCritic(ctx: CtContext, base: ConvexNetworkOptions, settings: CriticSettings) {
  const seed = 5000 + Number(ctx.flags.seed);
  const start = convexNetwork(base).init();
  if (settings.init === 'tv') {
    start.V.dispose();
    // α = 1: the first-difference weights of the 8 directions; the calibration sets the scale
    start.V = tvFilters(base.size!, base.channels!, 1, 1);
    // W: gain 1 at the centre taps into output channel 0, softplus(−6) ≈ 2.5e-3 elsewhere, so that the ICNN starts
    // as the 8-direction TV FoE (held out 28.32 dB at the best λ, against 27.64 with convexNetwork's uniform W ≈ 0.01,
    // a locally averaged TV; README, "ICNN-ACR")
    start.omega.dispose();
    start.omega = tvSecondLayer(base.size!, base.channels!, base.outChannels!, 1, -6);
  } else if (settings.init !== 'random') {
    throw new Error(`ct-sparse-view acr: --acrInit must be tv or random, got '${settings.init}'.`);
  }
  const first = trainingBatch(ctx, 0, seed);
  const firstFake = fbp(ctx.A, first.u);
  const calibrated = calibrateCritic(base, start, first.t, firstFake, 6999);
  tf.dispose([first.t, first.u, firstFake, ...Object.values(start)]);
  const network = calibrated.network;
  const R = convexNetwork(network);
  const theta: Params = {};
  for (const [k, v] of Object.entries(calibrated.theta)) theta[k] = tf.variable(v, true);
  tf.dispose(Object.values(calibrated.theta));
  const adam = tf.train.adam(settings.rate, 0.5, 0.9);
  const curve: CriticPoint[] = [];
  let window: CriticPoint[] = [];
  for (let step = 0; step < settings.steps; step++) {
    const batch = trainingBatch(ctx, step, seed);
    const fake = fbp(ctx.A, batch.u);
    const r = adversarialLoss(R, theta, batch.t, fake, { gradientPenalty: settings.penalty, seed: 7000 + step, oneSided: settings.oneSided });
    tf.dispose([batch.t, batch.u, fake]);
    // tfjs optimizers key gradients by variable name
    adam.applyGradients(Object.keys(theta).map((k) => ({ name: (theta[k] as tf.Variable).name, tensor: r.grad[k] })));
    tf.dispose(Object.values(r.grad));
    window.push({ step, wasserstein: r.fake - r.real, real: r.real, fake: r.fake, penalty: r.penalty });
    if (window.length === settings.every || step === settings.steps - 1) {
      const mean = (k: keyof CriticPoint) => window.reduce((s, p) => s + p[k], 0) / window.length;
      const point = { step, wasserstein: mean('wasserstein'), real: mean('real'), fake: mean('fake'), penalty: mean('penalty') };
      curve.push(point);
      console.log(`acr steps ${window[0].step}–${step}: W ${point.wasserstein.toFixed(4)} (R(truth) ${point.real.toFixed(4)}, R(FBP) ${point.fake.toFixed(4)}), penalty ${point.penalty.toExponential(2)}`);
      window = [];
    }
  }
  adam.dispose();
  return { theta, network, c: calibrated.c, curve };
}
