/**
 * One playground learning run and one hypergradient, as plain async functions of a
 * {@link PlaygroundConfig} and an image: the worker calls them in the browser, the browser
 * test calls {@link hypergradientOnce} in Node to compare.
 */
import { tf, lbfgs, hypergradient, disposeParams, paramsFromArrays, paramsToArrays , type Params } from '@bilevel/core';
import { trainSteps, type ProgressEvent, type ParamsArrays } from '@bilevel/outer';
import { psnr } from '@bilevel/imaging';
import { checkConfig, makeData, buildModel, buildStrategy, buildMethod, loss, type GrayImage, type PlaygroundConfig, type DenoisingData } from './session.js';

/** What the page draws after every upper-level iteration. */
export interface PlaygroundStep {
  event: ProgressEvent;
  /** θ_k (the accepted iterate) as arrays. */
  theta: ParamsArrays;
  /** x̂(θ_k), row-major, crop × crop, clipped to [0, 1]. */
  reconstruction: Float32Array;
  /** PSNR of x̂(θ_k) against the clean crop, dB. */
  psnr: number;
}

/** What a run reports once at its start. */
export interface PlaygroundStart {
  crop: number;
  noisy: Float32Array;
  clean: Float32Array;
  noisyPsnr: number;
  theta: ParamsArrays;
  backend: string;
}

/** What a run returns. */
export interface PlaygroundResult {
  status: string;
  message: string;
  theta: ParamsArrays;
  psnr: number;
  noisyPsnr: number;
  /** x̂(θ) at the final θ, row-major, clipped to [0, 1]. */
  reconstruction: Float32Array;
  /** PSNR of x̂(θ₀), dB: what learning started from. */
  initialPsnr: number;
  /** Wall time of the learning loop (without the display solves), ms. */
  learnMs: number;
  /** Wall time of the whole run, display solves included, ms. */
  totalMs: number;
  iterations: number;
  work: number;
}

function clipped(x: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.clipByValue(x, 0, 1).dataSync() as Float32Array).slice();
}

/**
 * Learns θ on the crop of `image` and calls `onStep` after every upper-level iteration with
 * the reconstruction at the current θ. The display solve (L-BFGS, warm-started from the
 * previous display) is not counted in the work curve, which is the training's alone.
 *
 * @param configIn - run settings (defaults filled by {@link checkConfig}).
 * @param image - the clean image.
 * @param hooks - `onStart`, `onStep`, and `shouldStop` (polled between iterations).
 * @returns the final status, θ, PSNR and timings.
 */
export async function runPlayground(
  configIn: Partial<PlaygroundConfig>,
  image: GrayImage,
  hooks: { onStart?: (s: PlaygroundStart) => void; onStep?: (s: PlaygroundStep) => void; shouldStop?: () => boolean; yieldToEvents?: () => Promise<void> } = {},
): Promise<PlaygroundResult> {
  const config = checkConfig(configIn);
  const started = performance.now();
  const data = makeData(image, config.crop, config.sigma, config.seed);
  const model = buildModel(config, data);
  const strategy = buildStrategy(config.strategy);
  const noisyPsnr = psnr(data.y, data.clean).mean;
  hooks.onStart?.({ crop: config.crop, noisy: clipped(data.y), clean: clipped(data.clean), noisyPsnr, theta: paramsToArrays(model.theta0), backend: tf.getBackend() });
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
  let thetaNow: ParamsArrays = paramsToArrays(model.theta0);
  const run = trainSteps<ReturnType<typeof buildMethod> extends { init(t: Params): infer S } ? S : never, DenoisingData>({
    method: buildMethod(config),
    problem: model.problem,
    strategy,
    data,
    loss,
    batchData: () => data,
    constants: model.constants,
    theta0: model.theta0,
    budget: { iterations: config.iterations },
    stop: (_e, theta) => {
      thetaNow = theta;
      return hooks.shouldStop?.() ?? false;
    },
  });
  let result: Awaited<ReturnType<typeof run.next>>;
  let last = { x: new Float32Array(0), psnr: noisyPsnr };
  let initialPsnr = NaN;
  try {
    for (;;) {
      result = await run.next();
      if (result.done) break;
      const theta = paramsFromArrays(thetaNow);
      last = show(theta);
      if (result.value.iteration === 0) initialPsnr = last.psnr;
      disposeParams(theta);
      hooks.onStep?.({ event: result.value, theta: thetaNow, reconstruction: last.x, psnr: last.psnr });
      // Let the worker see a 'stop' message between iterations.
      await (hooks.yieldToEvents?.() ?? Promise.resolve());
    }
    const final = result.value;
    const theta = paramsToArrays(final.theta);
    // The final θ may differ from the last reported one (MAID's last accepted step).
    last = show(final.theta);
    disposeParams(final.theta);
    const totalMs = performance.now() - started;
    return {
      status: final.status,
      message: final.message,
      theta,
      psnr: last.psnr,
      noisyPsnr,
      reconstruction: last.x,
      initialPsnr,
      learnMs: totalMs - displayMs,
      totalMs,
      iterations: final.history.length,
      work: final.history.length > 0 ? final.history[final.history.length - 1].work : 0,
    };
  } finally {
    display.dispose();
    strategy.dispose?.();
    model.dispose();
    tf.dispose([data.y, data.clean]);
  }
}

/** One hypergradient at θ (test hook): same data, model and strategy as a run. */
export interface HypergradientReport {
  value: number;
  grad: ParamsArrays;
  bound: number;
  backend: string;
}

/**
 * Computes ∇F(θ) once with the config's strategy at tolerance `tol` (inner and adjoint).
 *
 * @param configIn - model, strategy, σ, crop, seed.
 * @param image - the clean image.
 * @param theta - θ as arrays (e.g. the model's θ₀ from a run's start).
 * @param tol - inner and linear tolerance.
 * @returns F(θ), ∇F(θ), the strategy's bound (NaN when it gives none) and the backend.
 */
export function hypergradientOnce(configIn: Partial<PlaygroundConfig>, image: GrayImage, theta: ParamsArrays | undefined, tol: number): HypergradientReport {
  const config = checkConfig(configIn);
  const data = makeData(image, config.crop, config.sigma, config.seed);
  const model = buildModel(config, data);
  const strategy = buildStrategy(config.strategy);
  const th = theta != null ? paramsFromArrays(theta) : model.theta0;
  try {
    const r = hypergradient({ problem: model.problem, theta: th, data, loss, strategy, tol, linearTol: tol });
    const report = { value: r.value, grad: paramsToArrays(r.grad), bound: r.bound ?? NaN, backend: tf.getBackend() };
    r.dispose();
    return report;
  } finally {
    if (th !== model.theta0) disposeParams(th);
    strategy.dispose?.();
    model.dispose();
    tf.dispose([data.y, data.clean]);
  }
}
