/**
 * The row "ICNN (ACR)" of Table 1 (Bogensperger, Ehrhardt, Pock, Salehi & Wong 2024, §4.2): the
 * adversarial convex regularizer of Mukherjee, Dittmer, Shumaylov, Lunz, Öktem & Schönlieb ("Learned
 * convex regularizers for inverse problems", 2021). The ICNN R_θ is `convexNetwork` of @bilevel/imaging
 * with the architecture of the `icnn` row (16 + 4×16 filters 5×5, W = softplus(ω) ≥ 0: convex for
 * every θ by construction), started TV-like and calibrated to the gradient penalty's scale, trained as
 * a Wasserstein critic (`acr-critic.ts`), then used variationally,
 *   x̂ = argmin_x ½‖Âx − û‖² + λ R_θ(x) + (ξ/2)‖x‖²   (Â = A/‖A‖, û = u/‖A‖, L-BFGS from the FBP),
 * λ chosen on the training MSE over `--acrLambdas` (extended past an edge of the grid while the MSE
 * still falls there, then refined once between the best and its neighbours), and scored held out. Flags: {@link ACR_FLAGS}.
 */
import { tf, lbfgs } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { convexNetwork, reconstructionProblem, fbp } from '@bilevel/imaging';
import type { LinearOperator, ConvexNetworkOptions } from '@bilevel/imaging';
import type { CtContext, CtMethod, CtSet } from '../context.js';
import { trainCritic, type CriticSettings } from './acr-critic.js';
import { rowConvergence } from '../held-out.js';

/** Flags of the ACR row (merged into main.ts's); the architecture flags are the `icnn` row's. */
export const ACR_FLAGS = {
  acrInit: 'tv', // the critic's start: 'tv' (the 8-direction TV FoE as an ICNN) or 'random' (convexNetwork's), both calibrated to mean ‖∇R‖ = 1
  acrSteps: 500, // Adam steps of the adversarial training (one augmented batch of the training phantoms each; paper: 20 epochs of 25 images)
  acrRate: 2e-5, // Adam learning rate, β₁ = 0.5, β₂ = 0.9 (the paper's 2e-5; 1e-4 raised the training MSE, README)
  acrPenalty: 10, // gradient-penalty weight λ_gp (paper: 10)
  acrOneSided: 'true', // 'true': Lunz et al.'s one-sided (‖∇R‖ − 1)₊² (adversarialLoss's default); 'false': the two-sided (‖∇R‖ − 1)² of the ACR code
  acrEvery: 25, // steps per point of the training curve
  acrLambdas: '0.01,0.02,0.05,0.1,0.2,0.5', // λ grid (extended by ×2.5 past an edge while the training MSE still falls there)
  acrXi: 1e-4, // ξ of (ξ/2)‖x‖²: strong convexity of the reconstruction energy (so its ‖∇E‖/ξ bounds ‖x − x̂‖)
  acrTol: 1e-4, // L-BFGS's relative tolerance on ‖∇E‖ (core's float32 default)
  acrMaxIter: 1000, // L-BFGS iterations per reconstruction
};

/** One λ of the selection: training MSE and the solver's state at the end. */
export interface LambdaTrial {
  lambda: number;
  mse: number;
  iterations: number;
  converged: boolean;
  status: string;
  /** ‖∇E‖ at the returned x over ‖∇E‖ at the FBP start. */
  relativeGradient: number;
}

/**
 * λ by the training MSE over a grid: every grid value is tried; while the best is at an end of the
 * (sorted) grid, one more value `factor`× beyond that end is tried, at most `extend` times, so that
 * the chosen λ is an interior minimum of the values tried unless the cap is reached (then
 * `atEdge` says so). An interior best is then refined once: the geometric midpoints (to 3 digits)
 * between it and its two neighbours are tried too.
 *
 * @param grid - the λ values (positive).
 * @param trial - trains nothing: reconstructs the training set at λ and returns the trial.
 * @param factor - the step of an extension past an edge.
 * @param extend - the most extensions.
 * @returns the trials in the order tried, the best, and whether it is still at an edge.
 */
export function selectLambda(grid: number[], trial: (lambda: number) => LambdaTrial, factor = 2.5, extend = 3) {
  const values = [...grid].sort((a, b) => a - b);
  if (values.length === 0 || values.some((l) => !(l > 0))) throw new Error(`ct-sparse-view acr: --acrLambdas must be positive numbers, got '${grid.join(',')}'.`);
  const trials = values.map(trial);
  const best = () => trials.reduce((a, b) => (b.mse < a.mse ? b : a));
  const edge = () => {
    const l = best().lambda;
    const lo = Math.min(...trials.map((t) => t.lambda));
    const hi = Math.max(...trials.map((t) => t.lambda));
    return l === lo ? lo / factor : l === hi ? hi * factor : undefined;
  };
  for (let k = 0; k < extend; k++) {
    const next = edge();
    if (next == null) break;
    trials.push(trial(next));
  }
  const atEdge = edge() != null;
  if (!atEdge) {
    const l = best().lambda;
    const sorted = trials.map((t) => t.lambda).sort((a, b) => a - b);
    const i = sorted.indexOf(l);
    for (const neighbour of [sorted[i - 1], sorted[i + 1]]) trials.push(trial(Number(Math.sqrt(l * neighbour).toPrecision(3))));
  }
  return { trials, best: best(), atEdge };
}

/** The scaled operator Â = A/‖A‖ (as the other rows). */
function scaledOperator(ctx: CtContext): LinearOperator {
  const { A, scale } = ctx;
  return {
    name: 'A/‖A‖', inShape: A.inShape, normBound: 1, dispose: () => {},
    apply: (x) => tf.tidy(() => tf.div(A.apply(x), scale)), adjoint: (y) => tf.tidy(() => tf.div(A.adjoint(y), scale)),
  };
}

/** x̂ = argmin ½‖Âx − û‖² + λR_θ(x) + (ξ/2)‖x‖² by L-BFGS from the FBP, for one set. */
export function acrReconstruct(ctx: CtContext, network: ConvexNetworkOptions, theta: Params, lambda: number, set: CtSet, options: { xi: number; tol: number; maxIter: number }) {
  const built = reconstructionProblem(convexNetwork({ ...network, gamma: lambda }), { operator: scaledOperator(ctx), xi: options.xi });
  const y = tf.div(set.u, ctx.scale);
  const x0 = fbp(ctx.A, set.u);
  const energy = (x: tf.Tensor) => tf.tidy(() => built.problem.energy(x, theta, { y }).dataSync()[0]);
  const start = tf.tidy(() => tf.norm(built.problem.gradient!(x0, theta, { y })).dataSync()[0]);
  const r = lbfgs({ tol: options.tol, tolMode: 'relative', maxIter: options.maxIter }).solve(built.problem, theta, { y }, { x0 });
  const energies = { start: energy(x0), end: energy(r.x), truth: energy(set.t) };
  tf.dispose([y, x0]);
  built.dispose(); // its own initial θ (the trained θ is the caller's)
  return { x: r.x, iterations: r.iterations, converged: r.converged, status: r.status, relativeGradient: r.gradNorm / start, energies };
}

export const acrMethod: CtMethod = {
  name: 'acr',
  async run(ctx) {
    const t0 = performance.now();
    const f = ctx.flags;
    const num = (k: string, d: number) => Number(f[k] ?? d);
    const base: ConvexNetworkOptions = {
      layers: 2, channels: num('channels', 16), outChannels: num('outChannels', 4), size: num('filterSize', 5), smoothing: num('smoothing', 0.01), gamma: 1,
    };
    const settings: CriticSettings = {
      init: String(f.acrInit ?? ACR_FLAGS.acrInit) as CriticSettings['init'], steps: num('acrSteps', ACR_FLAGS.acrSteps), rate: num('acrRate', ACR_FLAGS.acrRate),
      penalty: num('acrPenalty', ACR_FLAGS.acrPenalty), oneSided: String(f.acrOneSided ?? ACR_FLAGS.acrOneSided) === 'true', every: num('acrEvery', ACR_FLAGS.acrEvery),
    };
    const { theta, network, c, curve } = trainCritic(ctx, base, settings);
    const trainSeconds = (performance.now() - t0) / 1000;
    console.log(`acr critic: start calibrated by 1/${c.toFixed(2)} (w = ${network.smoothing!.toExponential(2)}), ${settings.steps} steps in ${trainSeconds.toFixed(1)} s`);
    const solve = { xi: num('acrXi', ACR_FLAGS.acrXi), tol: num('acrTol', ACR_FLAGS.acrTol), maxIter: num('acrMaxIter', ACR_FLAGS.acrMaxIter) };
    const grid = String(f.acrLambdas ?? ACR_FLAGS.acrLambdas).split(',').map(Number);
    const held = rowConvergence('ct-sparse-view acr (the λ grid on the training set, then held out; tol relative to ‖∇E(x_FBP)‖)', 'lbfgs', `--acrMaxIter ${solve.maxIter}`);
    const checkSolve = (r: { converged: boolean; relativeGradient: number; iterations: number; status: string }) =>
      held.check({ converged: r.converged, residual: r.relativeGradient, message: `L-BFGS ${r.iterations} iterations, ${r.status}` }, solve.tol);
    const selection = selectLambda(grid, (lambda) => {
      const r = acrReconstruct(ctx, network, theta, lambda, ctx.train, solve);
      checkSolve(r);
      const m = tf.tidy(() => tf.mean(tf.square(tf.sub(r.x, ctx.train.t))));
      const mse = m.dataSync()[0];
      tf.dispose([m, r.x]);
      console.log(`acr λ = ${lambda}: training MSE ${mse.toExponential(3)}; L-BFGS ${r.iterations} iterations, ${r.status}, ‖∇E‖/‖∇E(x_FBP)‖ ${r.relativeGradient.toExponential(2)}; E: FBP ${r.energies.start.toFixed(4)} → ${r.energies.end.toFixed(4)} (truth ${r.energies.truth.toFixed(4)})`);
      return { lambda, mse, iterations: r.iterations, converged: r.converged, status: r.status, relativeGradient: r.relativeGradient };
    });
    const best = selection.best;
    if (selection.atEdge) console.warn(`acr: the best λ = ${best.lambda} is still at an edge of the values tried; widen --acrLambdas.`);
    const r = acrReconstruct(ctx, network, theta, best.lambda, ctx.test, solve);
    checkSolve(r);
    const warning = held.warning();
    if (warning != null) console.warn(warning);
    const s = ctx.scores(r.x, ctx.test.t);
    r.x.dispose();
    const parameters = Object.values(theta).reduce((n, t) => n + t.size, 0);
    tf.dispose(Object.values(theta));
    const seconds = (performance.now() - t0) / 1000;
    console.log(`ACR held out (λ = ${best.lambda}): PSNR ${s.psnr.toFixed(2)} dB, SSIM ${s.ssim.toFixed(3)}; L-BFGS ${r.iterations} iterations, ${r.status}; λ grid and held out ${held.text()}; training ${trainSeconds.toFixed(1)} s, total ${seconds.toFixed(1)} s`);
    const C = network.channels!, K = network.outChannels!, S = network.size!;
    return {
      rows: [{
        method: `ICNN-ACR (${C} + ${K}×${C} filters ${S}×${S}, ${settings.init} start, ${settings.steps} adversarial Adam steps; λ = ${best.lambda})`, PSNR: s.psnr.toFixed(2), SSIM: s.ssim.toFixed(3),
        'paper PSNR / SSIM': '29.32 / 0.79', parameters: String(parameters), work: `${settings.steps} Adam steps; ${r.iterations} L-BFGS iterations (${r.status})`, seconds: seconds.toFixed(1), converged: held.text(),
      }],
      summary: {
        settings, calibration: c, smoothing: network.smoothing, curve, lambdas: selection.trials, lambda: best.lambda, lambdaAtEdge: selection.atEdge,
        test: { ...s, iterations: r.iterations, converged: r.converged, status: r.status, relativeGradient: r.relativeGradient, energies: r.energies }, trainSeconds, seconds,
      },
    };
  },
};
