/**
 * The row "LPD" of Table 1 (Bogensperger, Ehrhardt, Pock, Salehi & Wong 2024, §4.2): learned
 * primal-dual reconstruction (Adler & Öktem, "Learned primal-dual reconstruction", IEEE TMI 2018),
 * `learnedPrimalDual` of @bilevel/imaging — unrolled CNN updates in sinogram and image space coupled by
 * Â = A/‖A‖ and Âᵀ, its blocks `tf.layers` layers — trained supervised on the MSE with tfjs's
 * `tf.train.adam` (`optimizer.minimize` over the network's variables; the paper: AdamW, lr 1e-3,
 * 30 epochs, 2 iterations), one augmented batch of the training phantoms per step, the primal memory
 * started at the FBP (`--lpdInit fbp`, default; `zero` is Adler & Öktem's start). Flags: {@link LPD_FLAGS}.
 */
import { tf } from '@bilevel/core';
import { learnedPrimalDual, fbp } from '@bilevel/imaging';
import type { LinearOperator } from '@bilevel/imaging';
import type { CtContext, CtMethod } from '../context.js';
import { trainingBatch } from '../augment.js';

/** Flags of the LPD row (merged into main.ts's). */
export const LPD_FLAGS = {
  lpdIterations: 2, // unrolled primal-dual iterations (paper: 2; Adler & Öktem: 10)
  lpdHidden: 32, // hidden channels per block (paper / Adler & Öktem: 32)
  lpdMemory: 5, // primal and dual memory channels (Adler & Öktem: 5)
  lpdSteps: 600, // Adam steps (one augmented batch of the training phantoms each)
  lpdRate: 1e-3, // Adam learning rate (paper: AdamW 1e-3)
  lpdInit: 'fbp', // primal start: 'fbp' (learn a correction of the FBP) or 'zero' (Adler & Öktem)
};

/** The primal start: the FBP of the sinograms u, or none (zeros). */
function start(ctx: CtContext, u: tf.Tensor, init: string): tf.Tensor | undefined {
  if (init === 'zero') return undefined;
  if (init !== 'fbp') throw new Error(`ct-sparse-view lpd: --lpdInit must be 'fbp' or 'zero', got '${init}'.`);
  return fbp(ctx.A, u);
}

/** Trains an LPD network on augmented batches of the training phantoms; returns it (the caller disposes) and the loss history. */
export function trainLpd(ctx: CtContext, options: { iterations: number; hidden: number; memory: number; steps: number; rate: number; init: string }) {
  const { A, scale } = ctx;
  const operator: LinearOperator = {
    name: 'A/‖A‖', inShape: A.inShape, normBound: 1, dispose: () => {},
    apply: (x) => tf.tidy(() => tf.div(A.apply(x), scale)), adjoint: (y) => tf.tidy(() => tf.div(A.adjoint(y), scale)),
  };
  const net = learnedPrimalDual(operator, {
    iterations: options.iterations, hidden: options.hidden, primalChannels: options.memory, dualChannels: options.memory, seed: Number(ctx.flags.seed),
  });
  const adam = tf.train.adam(options.rate);
  const history: Array<{ step: number; loss: number }> = [];
  for (let step = 0; step < options.steps; step++) {
    const batch = trainingBatch(ctx, step, 9000 + Number(ctx.flags.seed));
    const y = tf.div(batch.u, scale);
    const x0 = start(ctx, batch.u, options.init);
    const cost = adam.minimize(() => tf.mean(tf.square(tf.sub(net.apply(y, x0), batch.t))) as tf.Scalar, true, net.variables)!;
    const loss = cost.dataSync()[0];
    tf.dispose([cost, y, batch.t, batch.u, ...(x0 == null ? [] : [x0])]);
    if (step % 50 === 0 || step === options.steps - 1) {
      history.push({ step, loss });
      console.log(`lpd step ${step}: training MSE ${loss.toExponential(3)}`);
    }
  }
  adam.dispose();
  return { net, history };
}

export const lpdMethod: CtMethod = {
  name: 'lpd',
  async run(ctx) {
    const t0 = performance.now();
    const f = ctx.flags;
    const num = (k: Exclude<keyof typeof LPD_FLAGS, 'lpdInit'>) => Number(f[k] ?? LPD_FLAGS[k]);
    const options = {
      iterations: num('lpdIterations'), hidden: num('lpdHidden'), memory: num('lpdMemory'), steps: num('lpdSteps'), rate: num('lpdRate'), init: String(f.lpdInit ?? LPD_FLAGS.lpdInit),
    };
    const { net, history } = trainLpd(ctx, options);
    const trainSeconds = (performance.now() - t0) / 1000;
    const y = tf.div(ctx.test.u, ctx.scale);
    const x0 = start(ctx, ctx.test.u, options.init);
    const x = net.apply(y, x0);
    const s = ctx.scores(x, ctx.test.t);
    tf.dispose([x, y, ...(x0 == null ? [] : [x0])]);
    const parameters = net.parameterCount;
    net.dispose();
    const seconds = (performance.now() - t0) / 1000;
    console.log(`LPD held out: PSNR ${s.psnr.toFixed(2)} dB, SSIM ${s.ssim.toFixed(3)}; ${parameters} parameters, training ${trainSeconds.toFixed(1)} s`);
    return {
      rows: [{
        method: `LPD (${options.iterations} iterations, ${options.hidden} hidden / ${options.memory} + ${options.memory} memory channels, 3×3, from ${options.init === 'fbp' ? 'the FBP' : '0'}; ${options.steps} Adam steps)`,
        PSNR: s.psnr.toFixed(2), SSIM: s.ssim.toFixed(3), 'paper PSNR / SSIM': '34.18 / 0.88', parameters: String(parameters), work: `${options.steps} Adam steps`, seconds: seconds.toFixed(1), converged: 'no solve',
      }],
      summary: { options, history, test: s, trainSeconds, seconds },
    };
  },
};
