/**
 * The rows "FoE (bilevel)" and "ICNN (bilevel)" of Table 1 (Bogensperger, Ehrhardt, Pock, Salehi & Wong
 * 2024, §4.2): the convex filter networks of eqs. (32)–(35) in their dualised saddle forms
 * (`convexNetworkSaddle` of @bilevel/imaging: FoE = 1 layer (35), ICNN = 2 layers (33), W ≥ 0 by
 * construction), trained by MAID (Algorithm 3) on inexact piggyback hypergradients (Algorithm 2), the
 * bound chosen by `--certificate`, and scored held out. Flags: {@link CONVEX_NETWORK_FLAGS} (main.ts
 * merges them) and the row's `--mu` / `--epsilon` (smoothing.ts); the FoE uses MAID's defaults (the paper's FoE settings ρ̲ = 0.5, ρ̄ = 10/9), the ICNN
 * `ICNN_MAID_OPTIONS` (ρ̲ = 0.1, ρ̄ = 1.1).
 */
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { maid, train } from '@bilevel/outer';
import { ICNN_MAID_OPTIONS } from '@bilevel/imaging';
import type { CtContext, CtMethod, CtRow } from '../context.js';
import { CONVEX_NETWORK_FLAGS, networkSetup, type NetworkData } from '../network-saddle.js';
import { rowSmoothing } from '../smoothing.js';
import { rowConvergence, type RowConvergence } from '../held-out.js';

export { CONVEX_NETWORK_FLAGS };

function network(layers: 1 | 2): CtMethod {
  const which = layers === 1 ? 'foe' : 'icnn';
  return {
    name: which,
    async run(ctx: CtContext) {
      const t0 = performance.now();
      const f = ctx.flags;
      const num = (k: keyof typeof CONVEX_NETWORK_FLAGS) => Number(f[k] ?? CONVEX_NETWORK_FLAGS[k]);
      const setup = networkSetup(ctx, layers, rowSmoothing(f, which));
      const mu = setup.start.mu;
      const { saddle, steps } = setup;
      const trainData = setup.train;
      const testData = setup.test;
      const count = ctx.train.t.shape[0]!;
      const loss = (u: tf.Tensor, _th: Params, d: NetworkData) => tf.tidy(() => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(saddle.image(u), d.t)))));
      const cap = `--netEvalMaxIter ${num('netEvalMaxIter')}`;
      const evaluate = (theta: Params, held: RowConvergence) => {
        const s = piggyback({ warmStart: false, ...steps });
        const r = s.solve({ problem: saddle.problem, theta, data: testData, tol: num('netEvalTol'), maxIter: num('netEvalMaxIter') });
        held.check(r, num('netEvalTol'));
        const x = saddle.image(r.x);
        const score = ctx.scores(x, ctx.test.t);
        tf.dispose([x, r.x]);
        s.dispose();
        return { ...score, iterations: r.work.innerIterations, converged: r.converged };
      };
      const heldInitial = rowConvergence(`ct-sparse-view ${which} held out at the initial θ`, 'piggyback', cap);
      const heldLearned = rowConvergence(`ct-sparse-view ${which} held out at the learned θ`, 'piggyback', cap);
      const initial = evaluate(setup.theta0, heldInitial);
      const certificate = String(f.certificate) as 'certified' | 'estimated';
      const strategy = piggyback({ lossLipschitz: 1 / count, lossWeight: mu, certificate, ...steps });
      const history: Array<Record<string, number>> = [];
      const tTrain = performance.now();
      const result = await train({
        method: maid({ ...(layers === 2 ? ICNN_MAID_OPTIONS : {}), tol0: num('netTol0'), step0: num(layers === 2 ? 'icnnStep0' : 'netStep0'), relativeGradTol: Number(f.relativeGradTol) }),
        problem: saddle.problem, strategy, data: trainData, loss, theta0: setup.theta0,
        budget: { iterations: num('netIterations'), work: num(layers === 2 ? 'icnnWork' : 'netWork') },
        onProgress: (e) => {
          history.push({ iteration: e.iteration, loss: e.loss, gradNorm: e.gradNorm, bound: e.bound, eps: e.eps, delta: e.delta, work: e.work, accepted: e.accepted ? 1 : 0 });
          console.log(`${which} MAID ${e.iteration}: loss ${e.loss.toExponential(4)}, ‖h‖ ${e.gradNorm.toExponential(2)}, ${certificate} bound ${e.bound.toExponential(2)}, tol ${e.eps.toExponential(2)}/${e.delta.toExponential(2)}, ${e.accepted ? 'accepted' : 'not accepted'}, work ${e.work}`);
        },
      });
      const trainSeconds = (performance.now() - tTrain) / 1000;
      strategy.dispose();
      const learned = evaluate(result.theta, heldLearned);
      for (const w of [heldInitial.warning(), heldLearned.warning()]) if (w != null) console.warn(w);
      const parameters = String(Object.values(setup.theta0).reduce((s, t) => s + t.size, 0));
      const S = num('filterSize');
      const name = layers === 1 ? `FoE (${num('channels')} filters ${S}×${S}, ψ_w; (35))` : `ICNN (${num('channels')} + ${num('outChannels')}×${num('channels')} filters ${S}×${S}; (33))`;
      const work = `${result.work.innerIterations} + ${result.work.linearIterations}`;
      console.log(`${which}: held out ${initial.psnr.toFixed(2)} → ${learned.psnr.toFixed(2)} dB, SSIM ${initial.ssim.toFixed(3)} → ${learned.ssim.toFixed(3)} (held out ${heldInitial.text()} → ${heldLearned.text()}); ${history.length} MAID iterations, work ${work}, training ${trainSeconds.toFixed(1)} s (${result.status}: ${result.message})`);
      const rows: CtRow[] = [
        { method: `${name}, initial θ`, PSNR: initial.psnr.toFixed(2), SSIM: initial.ssim.toFixed(3), 'paper PSNR / SSIM': '-', parameters, work: '-', seconds: '-', converged: heldInitial.text() },
        {
          method: `${name} learned (MAID, ${certificate} piggyback bound, ${history.length} iterations)`, PSNR: learned.psnr.toFixed(2), SSIM: learned.ssim.toFixed(3),
          'paper PSNR / SSIM': layers === 1 ? '30.69 / 0.86 (FoE)' : '31.43 / 0.86 (ICNN bilevel)', parameters, work, seconds: ((performance.now() - t0) / 1000).toFixed(1), converged: heldLearned.text(),
        },
      ];
      disposeParams(result.theta);
      setup.dispose();
      return { rows, summary: { initial, learned, history, status: result.status, message: result.message, work: { pdhg: result.work.innerIterations, adjoint: result.work.linearIterations }, trainSeconds, certificate } };
    },
  };
}

/** FoE as the 1-layer convex network, saddle form (35). */
export const foeNetworkMethod = network(1);
/** The 2-layer ICNN, saddle form (33). */
export const icnnNetworkMethod = network(2);
