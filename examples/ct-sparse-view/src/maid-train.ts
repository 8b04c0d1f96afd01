/**
 * Bilevel training shared by the learned methods: θ by adaptive MAID (Algorithm 3 of Bogensperger,
 * Ehrhardt, Pock, Salehi & Wong 2024; the paper's ν̲ = 0.5, ν̄ = 1.05, ρ̲ = 0.5, ρ̄ = 10/9) on inexact
 * piggyback hypergradients (Algorithm 2) of a saddle problem on the training set, with the upper
 * loss ½‖x̂ − x†‖²/B, MAID's ε₀ = δ₀ = `--tol0`, α₀ = `--step0`, and the budget `--iterations` /
 * `--work`. A FoE or ICNN method file calls this with its own saddle problem and θ₀.
 */
import { tf } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { maid, train } from '@bilevel/outer';
import type { CtContext, CtSet } from './context.js';
import { tvPrecondition } from './tv-problem.js';

/** One MAID iteration as recorded. */
export interface MaidRecord { iteration: number; loss: number; gradNorm: number; bound: number; eps: number; delta: number; work: number }

/** What {@link learnByMaid} returns; the caller disposes `theta`. */
export interface Learned {
  theta: Params;
  history: MaidRecord[];
  work: { pdhg: number; adjoint: number };
  seconds: number;
  status: string;
  message: string;
  certificate: 'certified' | 'estimated';
}

/**
 * Trains θ of `problem` by MAID on `ctx.train`.
 *
 * @param ctx - the example's context (flags give tol0, step0, iterations, work, certificate).
 * @param problem - a saddle problem whose bound constants are declared (see `tv-problem.ts`).
 * @param theta0 - initial θ (not consumed).
 * @param lossWeight - the smallest strong-convexity weight among the entries of x (μ of g).
 * @param label - prefix of the progress lines.
 * @returns the learned θ, MAID's history, work and time.
 */
export async function learnByMaid(ctx: CtContext, problem: SaddleProblem<CtSet>, theta0: Params, lossWeight: number, label: string): Promise<Learned> {
  const f = ctx.flags;
  const t0 = performance.now();
  const count = ctx.train.t.shape[0]!;
  const loss = (x: tf.Tensor, _th: Params, d: CtSet) => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(x, d.t))));
  const certificate = String(f.certificate) as 'certified' | 'estimated';
  // no adaptiveSteps: with 'balance' the first descent test was still not certified at ε = 6.25e-3 (bound 0.857 >
  // ‖h‖ 0.811) when 3,391 work were spent (README, "Measured: the default run"); diagonal steps by --tvPrecondition
  const strategy = piggyback({ lossLipschitz: 1 / count, lossWeight, certificate, precondition: tvPrecondition(ctx) });
  const history: MaidRecord[] = [];
  try {
    const result = await train({
      method: maid({ tol0: Number(f.tol0), step0: Number(f.step0), relativeGradTol: Number(f.relativeGradTol) }),
      problem, strategy, data: ctx.train, loss, theta0,
      budget: { iterations: Number(f.iterations), work: Number(f.work) },
      onProgress: (e) => {
        history.push({ iteration: e.iteration, loss: e.loss, gradNorm: e.gradNorm, bound: e.bound, eps: e.eps, delta: e.delta, work: e.work });
        console.log(`${label} MAID ${e.iteration}: loss ${e.loss.toExponential(4)}, ‖h‖ ${e.gradNorm.toExponential(2)}, ${certificate} bound ${e.bound.toExponential(2)}, tol ${e.eps.toExponential(2)}/${e.delta.toExponential(2)}, work ${e.work}`);
      },
    });
    return {
      theta: result.theta, history, work: { pdhg: result.work.innerIterations, adjoint: result.work.linearIterations },
      seconds: (performance.now() - t0) / 1000, status: result.status, message: result.message, certificate,
    };
  } finally {
    strategy.dispose();
  }
}
