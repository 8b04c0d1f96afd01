/**
 * The row "ICNN (ACR)" of Table 1 (Bogensperger, Ehrhardt, Pock, Salehi & Wong 2024, §4.2): the
 * adversarial convex regularizer of Mukherjee, Dittmer, Shumaylov, Lunz, Öktem & Schönlieb ("Learned
 * convex regularizers for inverse problems", 2021). The ICNN R_θ is `convexNetwork` of @bilevel/imaging
 * with the architecture of the `icnn` row (16 + 4×16 filters 5×5, W = softplus(ω) ≥ 0: convex for
 * every θ by construction), trained by `adversarialLoss` (Lunz et al.'s Wasserstein loss with the
 * one-sided gradient penalty λ_gp = 10) to be small on the training phantoms and large on their FBP
 * reconstructions, with tfjs's Adam (β₁ = 0.5, β₂ = 0.9, the WGAN-GP critic's). Then used variationally,
 *   x̂ = argmin_x ½‖Âx − û‖² + λ R_θ(x)   (Â = A/‖A‖, û = u/‖A‖, L-BFGS from the FBP),
 * λ chosen from `--acrLambdas` by the training MSE, and scored held out. Flags: {@link ACR_FLAGS}.
 */
import { tf, lbfgs } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { convexNetwork, adversarialLoss, reconstructionProblem, fbp } from '@bilevel/imaging';
import type { LinearOperator, ConvexNetworkOptions } from '@bilevel/imaging';
import type { CtContext, CtMethod, CtSet } from '../context.js';
import { trainingBatch } from '../augment.js';

/** Flags of the ACR row (merged into main.ts's); the architecture flags are the `icnn` row's. */
export const ACR_FLAGS = {
  acrSteps: 300, // Adam steps of the adversarial training (one augmented batch of the training phantoms each)
  acrRate: 1e-3, // Adam learning rate, β₁ = 0.5, β₂ = 0.9 as for WGAN-GP critics (paper: 2e-5 for 20 epochs of 25 images 512²)
  acrPenalty: 10, // gradient-penalty weight λ_gp (paper: 10), one-sided (Lunz et al.)
  acrLambdas: '0.1,0.3,1,3,10,30', // λ grid of the variational reconstruction (chosen on training MSE)
  acrMaxIter: 200, // L-BFGS iterations of each reconstruction
};

/** The scaled operator Â = A/‖A‖ (as the other rows). */
function scaledOperator(ctx: CtContext): LinearOperator {
  const { A, scale } = ctx;
  return {
    name: 'A/‖A‖', inShape: A.inShape, normBound: 1, dispose: () => {},
    apply: (x) => tf.tidy(() => tf.div(A.apply(x), scale)), adjoint: (y) => tf.tidy(() => tf.div(A.adjoint(y), scale)),
  };
}

/** Trains θ of R adversarially; returns θ (tfjs variables, the caller disposes) and the loss history. */
export function trainAcr(ctx: CtContext, network: ConvexNetworkOptions, steps: number, rate: number, penalty: number) {
  const R = convexNetwork(network);
  const init = R.init();
  const theta: Params = {};
  for (const [k, v] of Object.entries(init)) theta[k] = tf.variable(v, true);
  tf.dispose(Object.values(init));
  const adam = tf.train.adam(rate, 0.5, 0.9);
  const history: Array<{ step: number; loss: number; real: number; fake: number; penalty: number }> = [];
  for (let step = 0; step < steps; step++) {
    const batch = trainingBatch(ctx, step, 5000 + Number(ctx.flags.seed));
    const fake = fbp(ctx.A, batch.u);
    const r = adversarialLoss(R, theta, batch.t, fake, { gradientPenalty: penalty, seed: 7000 + step });
    tf.dispose([batch.t, batch.u, fake]);
    // tfjs optimizers key gradients by variable name
    adam.applyGradients(Object.keys(theta).map((k) => ({ name: (theta[k] as tf.Variable).name, tensor: r.grad[k] })));
    tf.dispose(Object.values(r.grad));
    if (step % 50 === 0 || step === steps - 1) {
      history.push({ step, loss: r.value, real: r.real, fake: r.fake, penalty: r.penalty });
      console.log(`acr step ${step}: loss ${r.value.toFixed(4)} (R(truth) ${r.real.toFixed(4)}, R(FBP) ${r.fake.toFixed(4)}, penalty ${r.penalty.toExponential(2)})`);
    }
  }
  adam.dispose();
  return { theta, history };
}

/** x̂ = argmin ½‖Âx − û‖² + λR_θ(x) by L-BFGS from the FBP, for one set. */
export function acrReconstruct(ctx: CtContext, network: ConvexNetworkOptions, theta: Params, lambda: number, set: CtSet, maxIter: number) {
  const operator = scaledOperator(ctx);
  const built = reconstructionProblem(convexNetwork({ ...network, gamma: lambda }), { operator });
  const y = tf.div(set.u, ctx.scale);
  const x0 = fbp(ctx.A, set.u);
  const r = lbfgs().solve(built.problem, theta, { y }, { x0, tol: 1e-6, maxIter });
  tf.dispose([y, x0]);
  built.dispose(); // its own initial θ (the trained θ is the caller's)
  return { x: r.x, iterations: r.iterations };
}

export const acrMethod: CtMethod = {
  name: 'acr',
  async run(ctx) {
    const t0 = performance.now();
    const f = ctx.flags;
    const num = (k: string, d: number) => Number(f[k] ?? d);
    const network: ConvexNetworkOptions = {
      layers: 2, channels: num('channels', 16), outChannels: num('outChannels', 4), size: num('filterSize', 5), smoothing: num('smoothing', 0.01), gamma: 1,
    };
    const { theta, history } = trainAcr(ctx, network, num('acrSteps', ACR_FLAGS.acrSteps), num('acrRate', ACR_FLAGS.acrRate), num('acrPenalty', ACR_FLAGS.acrPenalty));
    const trainSeconds = (performance.now() - t0) / 1000;
    const maxIter = num('acrMaxIter', ACR_FLAGS.acrMaxIter);
    const lambdas = String(f.acrLambdas ?? ACR_FLAGS.acrLambdas).split(',').map(Number);
    const grid = lambdas.map((lambda) => {
      const { x, iterations } = acrReconstruct(ctx, network, theta, lambda, ctx.train, maxIter);
      const m = tf.tidy(() => tf.mean(tf.square(tf.sub(x, ctx.train.t))));
      const mse = m.dataSync()[0];
      tf.dispose([m, x]);
      console.log(`acr λ = ${lambda}: training MSE ${mse.toExponential(3)} (${iterations} L-BFGS iterations)`);
      return { lambda, mse, iterations };
    });
    const best = grid.reduce((a, b) => (b.mse < a.mse ? b : a));
    const { x, iterations } = acrReconstruct(ctx, network, theta, best.lambda, ctx.test, maxIter);
    const s = ctx.scores(x, ctx.test.t);
    x.dispose();
    const parameters = Object.values(theta).reduce((n, t) => n + t.size, 0);
    tf.dispose(Object.values(theta));
    const seconds = (performance.now() - t0) / 1000;
    console.log(`ACR held out (λ = ${best.lambda}): PSNR ${s.psnr.toFixed(2)} dB, SSIM ${s.ssim.toFixed(3)}; training ${trainSeconds.toFixed(1)} s, total ${seconds.toFixed(1)} s`);
    const C = network.channels!, K = network.outChannels!, S = network.size!;
    return {
      rows: [{
        method: `ICNN-ACR (${C} + ${K}×${C} filters ${S}×${S}, adversarial, ${history.at(-1)!.step + 1} Adam steps; λ = ${best.lambda})`, PSNR: s.psnr.toFixed(2), SSIM: s.ssim.toFixed(3),
        'paper PSNR / SSIM': '29.32 / 0.79', parameters: String(parameters), work: `${iterations} L-BFGS iterations`, seconds: seconds.toFixed(1),
      }],
      summary: { history, grid, lambda: best.lambda, test: s, trainSeconds, seconds },
    };
  },
};
