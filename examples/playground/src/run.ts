/**
 * One playground run as `train` options plus what the page draws (the crops, x̂(θ) after
 * every iteration), and one hypergradient: the worker serves the run with `serveTraining`,
 * the browser test calls {@link hypergradientOnce} in Node to compare.
 */
import { tf, lbfgs, hypergradient, disposeParams, paramsFromArrays, paramsToArrays, type Params } from '@bilevel/core';
import type { ProgressEvent, ParamsArrays, TrainOptions, MethodStateBase } from '@bilevel/outer';
import { psnr } from '@bilevel/imaging';
import { checkConfig, makeData, buildModel, buildStrategy, buildMethod, loss, type GrayImage, type PlaygroundConfig, type DenoisingData } from './session.js';

/** What the page draws once, at the start of a run. */
export interface PlaygroundStart {
  crop: number;
  noisy: Float32Array;
  clean: Float32Array;
  noisyPsnr: number;
  /** x̂(θ₀) and its PSNR: what learning starts from. */
  initial: Float32Array;
  initialPsnr: number;
  theta: ParamsArrays;
  backend: string;
}

/** What the page draws after every upper-level iteration. */
export interface PlaygroundFrame {
  iteration: number;
  /** x̂(θ) at θ after the iteration, row-major, crop × crop, clipped to [0, 1]. */
  reconstruction: Float32Array;
  /** PSNR of that x̂(θ) against the clean crop, dB. */
  psnr: number;
  /** Wall time of the learning so far, without the display solves, ms. */
  learnMs: number;
}

/** A prepared run: `train` options, the start frame, the per-iteration frame, and cleanup. */
export interface PlaygroundSetup {
  options: TrainOptions<MethodStateBase, DenoisingData>;
  start: PlaygroundStart;
  /** Solves for x̂(θ) (L-BFGS, warm-started from the previous display; not counted in the work curve). */
  frame(theta: ParamsArrays, event: ProgressEvent): PlaygroundFrame;
  dispose(): void;
}

function clipped(x: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.clipByValue(x, 0, 1).dataSync() as Float32Array).slice();
}

/**
 * Builds a run on the crop of `image`: data, model, strategy and method from the config, the
 * whole training pair as Adam's only minibatch, and the reconstruction at θ₀.
 *
 * @param configIn - run settings (defaults filled by `checkConfig`).
 * @param image - the clean image.
 * @returns the {@link PlaygroundSetup}; call `dispose` when the run has ended.
 */
export function preparePlayground(configIn: Partial<PlaygroundConfig>, image: GrayImage): PlaygroundSetup {
  const config = checkConfig(configIn);
  const data = makeData(image, config.crop, config.sigma, config.seed);
  const model = buildModel(config, data);
  const strategy = buildStrategy(config.strategy);
  let display: tf.Tensor = data.y.clone();
  let displayMs = 0;
  const show = (theta: Params): { x: Float32Array; psnr: number } => {
    const t0 = performance.now();
    const r = lbfgs().solve(model.problem, theta, data, { x0: display, tol: 1e-3, maxIter: 500 });
    display.dispose();
    display = r.x;
    const out = { x: clipped(display), psnr: tf.tidy(() => psnr(tf.clipByValue(display, 0, 1), data.clean).mean) };
    displayMs += performance.now() - t0;
    return out;
  };
  const initial = show(model.theta0);
  const start: PlaygroundStart = {
    crop: config.crop,
    noisy: clipped(data.y),
    clean: clipped(data.clean),
    noisyPsnr: psnr(data.y, data.clean).mean,
    initial: initial.x,
    initialPsnr: initial.psnr,
    theta: paramsToArrays(model.theta0),
    backend: tf.getBackend(),
  };
  displayMs = 0;
  return {
    options: {
      method: buildMethod(config),
      problem: model.problem,
      strategy,
      data,
      loss,
      batchData: () => data,
      constants: model.constants,
      theta0: model.theta0,
      budget: { iterations: config.iterations },
    },
    start,
    frame(thetaArrays, event) {
      // event.timeMs counts the display solves of the earlier frames: take them out.
      const learnMs = event.timeMs - displayMs;
      const theta = paramsFromArrays(thetaArrays);
      const shown = show(theta);
      disposeParams(theta);
      return { iteration: event.iteration, reconstruction: shown.x, psnr: shown.psnr, learnMs };
    },
    dispose() {
      display.dispose();
      strategy.dispose?.();
      model.dispose();
      tf.dispose([data.y, data.clean]);
    },
  };
}

/** One hypergradient at θ (test hook): same data, model and strategy as a run. */
export interface HypergradientReport {
  value: number;
  grad: ParamsArrays;
  backend: string;
}

/**
 * Computes ∇F(θ) once with the config's strategy at tolerance `tol` (inner and adjoint).
 *
 * @param configIn - model, strategy, σ, crop, seed.
 * @param image - the clean image.
 * @param theta - θ as arrays; absent: the model's θ₀.
 * @param tol - inner and linear tolerance (absolute).
 * @returns F(θ), ∇F(θ) and the backend it ran on.
 */
export function hypergradientOnce(configIn: Partial<PlaygroundConfig>, image: GrayImage, theta: ParamsArrays | undefined, tol: number): HypergradientReport {
  const config = checkConfig(configIn);
  const data = makeData(image, config.crop, config.sigma, config.seed);
  const model = buildModel(config, data);
  const strategy = buildStrategy(config.strategy);
  const th = theta != null ? paramsFromArrays(theta) : model.theta0;
  try {
    const r = hypergradient({ problem: model.problem, theta: th, data, loss, strategy, tol, linearTol: tol });
    const report = { value: r.value, grad: paramsToArrays(r.grad), backend: tf.getBackend() };
    r.dispose();
    return report;
  } finally {
    if (th !== model.theta0) disposeParams(th);
    strategy.dispose?.();
    model.dispose();
    tf.dispose([data.y, data.clean]);
  }
}
