/**
 * The TV / Huber-TV reconstruction saddle problem of the example, θ = log α inside K (so the
 * bound's assumption "θ enters K only" holds):
 *
 *   min_x max_{y,z} ⟨Âx, y⟩ + ⟨α∇x, z⟩ + (μ/2)‖x‖² − (½‖y‖² + ⟨û, y⟩) − (δ_{‖z_i‖₂ ≤ 1}(z) + (ε/2)‖z‖²),
 *
 * i.e. x̂ = argmin ½‖Âx − û‖² + α Huber_ε(∇x) + (μ/2)‖x‖², with Â = A/‖A‖ and û = u/‖A‖. μ = ε = 0 is
 * plain TV (no strong convexity: no hypergradient bound). With `anchor` 'fbp', g(x) = (μ/2)‖x − x_FBP‖² (the
 * set's FBP images): the same μ and bound constants, without shrinking x towards 0 (README, "Converged TV").
 */
import { tf, defineSaddle } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import { gradient2d, divergence, gradientAbsoluteSums } from '@bilevel/imaging';
import { piggyback } from '@bilevel/piggyback';
import type { CtContext, CtSet } from './context.js';

/** The saddle problem for strong convexity μ of g and Huber ε of the TV dual; dual weights per entry 1 (data block), ε (TV block). */
export function tvProblem(ctx: CtContext, mu: number, epsilon: number, anchor: 'zero' | 'fbp' = 'zero'): SaddleProblem<CtSet> {
  const { A, scale, rays, n } = ctx;
  const anchorOf = (d: CtSet): tf.Tensor => {
    if (d.fbp == null) throw new Error('ct-sparse-view tvProblem: anchor \'fbp\' needs the set\'s FBP images (CtSet.fbp, made by ctContext).');
    return d.fbp;
  };
  const alphaOf = (th: Params) => tf.exp(th.logAlpha);
  return defineSaddle<CtSet>({
    // K x = (Âx, α∇x), packed as one dual vector [b, rays + 2n²] (flattened per sample).
    apply: (x, th) => {
      const b = x.shape[0];
      const ax = tf.reshape(tf.div(A.apply(x), scale), [b, -1]);
      const gx = tf.reshape(tf.mul(gradient2d(x), alphaOf(th)), [b, -1]);
      return tf.concat([ax, gx], 1);
    },
    adjoint: (z, th) => {
      const b = z.shape[0];
      const y = tf.reshape(tf.slice(z, [0, 0], [b, rays]), [b, ...A.outShape]);
      const w = tf.reshape(tf.slice(z, [0, rays], [b, -1]), [b, n, n, 2]);
      return tf.add(tf.div(A.adjoint(y), scale), tf.mul(tf.neg(divergence(w)), alphaOf(th)));
    },
    proxG: (v, tau, _th, d) => (anchor === 'fbp' ? tf.div(tf.add(v, tf.mul(anchorOf(d), tau * mu)), 1 + tau * mu) : tf.div(v, 1 + tau * mu)),
    proxFStar: (z, sigma, _th, d) => {
      const b = z.shape[0];
      const y = tf.slice(z, [0, 0], [b, rays]);
      const w = tf.reshape(tf.slice(z, [0, rays], [b, -1]), [b, n, n, 2]);
      const yp = tf.div(tf.sub(y, tf.mul(tf.reshape(d.u, [b, rays]), sigma / scale)), 1 + sigma);
      const ws = tf.div(w, 1 + sigma * epsilon);
      const mag = tf.sqrt(tf.add(tf.sum(tf.square(ws), 3, true), 1e-12));
      const wp = tf.div(ws, tf.maximum(1, mag));
      return tf.concat([yp, tf.reshape(wp, [b, -1])], 1);
    },
    init: (_th, d) => tf.zerosLike(d.t),
    operatorNorm: (th) => Math.sqrt(1 + 8 * Math.exp(2 * th.logAlpha.dataSync()[0])),
    strongConvexity: mu > 0 ? mu : undefined,
    dualStrongConvexity: epsilon > 0 ? Math.min(1, epsilon) : undefined,
    strongConvexityWeights: mu > 0 ? () => tf.scalar(mu) : undefined,
    dualStrongConvexityWeights: epsilon > 0 ? () => tf.concat([tf.ones([1, rays]), tf.fill([1, 2 * n * n], epsilon)], 1) : undefined,
    // f* is quadratic on its domain (Hessian constant) but the TV block is an indicator on the ball's
    // boundary: 0 is exact inside, an assumption on the boundary (the paper, §4.1, uses TV unsmoothed).
    hessianLipschitz: 0,
    dualHessianLipschitz: 0,
    // ∂K/∂logα [w] = w·α∇, ‖∇‖ ≤ √8.
    operatorDerivativeNorm: (th) => Math.sqrt(8) * Math.exp(th.logAlpha.dataSync()[0]),
    name: `sparse-view CT, ${epsilon > 0 ? `Huber-TV (ε = ${epsilon})` : 'TV'}${anchor === 'fbp' ? ', anchored at FBP' : ''}`,
    // piggyback({ precondition: 'diagonal' }) (Pock & Chambolle 2011): elementwise steps and |K|'s sums, K = (Â, α∇)
    proxGDiagonal: (v, tau, _th, d) => tf.div(anchor === 'fbp' ? tf.add(v, tf.mul(anchorOf(d), tf.mul(tau, mu))) : v, tf.add(1, tf.mul(tau, mu))),
    proxFStarDiagonal: (z, sigma, _th, d) => {
      const b = z.shape[0];
      const s = tf.broadcastTo(sigma, [1, z.shape[1]!]);
      const sy = tf.slice(s, [0, 0], [1, rays]);
      const sw = tf.reshape(tf.slice(s, [0, rays], [1, -1]), [1, n, n, 2]);
      const y = tf.slice(z, [0, 0], [b, rays]);
      const w = tf.reshape(tf.slice(z, [0, rays], [b, -1]), [b, n, n, 2]);
      const yp = tf.div(tf.sub(y, tf.mul(tf.reshape(d.u, [b, rays]), tf.div(sy, scale))), tf.add(1, sy));
      // the ball projection couples a pixel's two entries: their steps are equal (absoluteSums takes the pair's max)
      const ws = tf.div(w, tf.add(1, tf.mul(sw, epsilon)));
      const mag = tf.sqrt(tf.add(tf.sum(tf.square(ws), 3, true), 1e-12));
      return tf.concat([yp, tf.reshape(tf.div(ws, tf.maximum(1, mag)), [b, -1])], 1);
    },
    absoluteSums: (alpha, th) => {
      const a = A.absoluteSums!(alpha);
      const g = gradientAbsoluteSums(n, n);
      const tv = Math.exp(th.logAlpha.dataSync()[0]);
      const primal = tf.add(tf.mul(a.columns, scale ** (alpha - 2)), tf.mul(g.columns, tv ** (2 - alpha)));
      const pair = tf.broadcastTo(tf.max(g.rows, 3, true), [1, n, n, 2]);
      const dual = tf.concat([tf.reshape(tf.mul(a.rows, scale ** -alpha), [1, -1]), tf.reshape(tf.mul(pair, tv ** alpha), [1, -1])], 1);
      return { primal, dual };
    },
  });
}

/** A reconstruction: x (the caller's), PDHG iterations, and whether it met `--evalTol` (check it: `rowConvergence`). */
export interface Reconstruction { x: tf.Tensor; iterations: number; converged: boolean; residual: number; message: string }

/** PDHG reconstruction of a set at θ = { logAlpha } to the flags' evalTol / evalMaxIter (cold start). */
export function reconstruct(ctx: CtContext, problem: SaddleProblem<CtSet>, logAlpha: number, set: CtSet): Reconstruction {
  return reconstructWith(ctx, problem, { logAlpha }, set);
}

/** PDHG reconstruction of a set at numeric θ entries (scalars) to evalTol / evalMaxIter, cold start. */
export function reconstructWith(ctx: CtContext, problem: SaddleProblem<CtSet>, values: Record<string, number>, set: CtSet): Reconstruction {
  const strategy = piggyback({ warmStart: false, precondition: tvPrecondition(ctx) });
  const theta: Params = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, tf.scalar(v)]));
  const r = strategy.solve({ problem, theta, data: set, tol: Number(ctx.flags.evalTol), maxIter: Number(ctx.flags.evalMaxIter) });
  tf.dispose(Object.values(theta));
  strategy.dispose();
  return { x: r.x, iterations: r.work.innerIterations, converged: r.converged, residual: r.residual, message: r.message };
}

/** The `--tvPrecondition` flag as piggyback's `precondition` option (TV rows only). */
export function tvPrecondition(ctx: CtContext): 'diagonal' | false {
  const v = String(ctx.flags.tvPrecondition ?? 'diagonal');
  if (v !== 'diagonal' && v !== 'false') throw new Error(`ct-sparse-view: --tvPrecondition must be diagonal or false, got '${v}'.`);
  return v === 'diagonal' ? 'diagonal' : false;
}

/** The `--tvAnchor` flag: where the TV rows' (μ/2)‖x − x₀‖² pulls, 0 or the FBP image. */
export function tvAnchor(ctx: CtContext): 'zero' | 'fbp' {
  const v = String(ctx.flags.tvAnchor ?? 'zero');
  if (v !== 'zero' && v !== 'fbp') throw new Error(`ct-sparse-view: --tvAnchor must be zero or fbp, got '${v}'.`);
  return v;
}
