import { tf, addWork, vjp, valueAndGradParams, keysOf, iterate } from '@bilevel/core';
import type { Params, SaddleProblem, Work } from '@bilevel/core';
import { proxGAt, proxFStarAt, adjointScaled, applyScaled, type Step } from './precondition.js';

/** Result of {@link piggybackAdjoint}; `grad` is kept (the caller disposes it), `a`/`b` too. */
export interface AdjointResult {
  grad: Params;
  /** Adjoint state λ = (a, b), kept for warm starts. */
  a: tf.Tensor;
  b: tf.Tensor;
  /** ‖λ_{k+1} − λ_k‖ at the last iteration. */
  residual: number;
  iterations: number;
  converged: boolean;
  diverged: boolean;
  work: Work;
  /**
   * With `keepLast`: from the last step λ_{k} → λ_{k+1}, the adjoint saddle point's variables
   * X̃ = −τ c_v, Ỹ = σ c_w at λ_k, and the residual (a_{k+1} − a_k, b_k − b_{k+1}) of the adjoint
   * saddle operator at (X̃, Ỹ) (see `certify.ts`). Kept; the caller disposes them.
   */
  last?: { X: tf.Tensor; Y: tf.Tensor; ra: tf.Tensor; rb: tf.Tensor; dX: tf.Tensor; dY: tf.Tensor };
  /** With `keepLast`: per iteration, the step norms ‖(X̃_k − X̃_{k−1}, Ỹ_k − Ỹ_{k−1})‖ of each of `stepGroups` leading-axis slices. */
  steps?: number[][];
}

/**
 * The piggyback adjoint (Griewank–Faure reverse mode of the fixed-point map T = one PDHG step
 * with constant steps τ, σ): at the primal–dual point u = (x, z),
 *
 * `λ_{k+1} = (∂_u T)ᵀ λ_k + (v, 0)`, then `(∂x̂/∂θ)ᵀ v = (∂_θ T)ᵀ λ` (v = ∇ₓℓ for a
 * hypergradient, whose direct term ∇_θℓ the core driver adds).
 *
 * `(∂_u T)ᵀ λ` is the linearised PDHG step run backwards (it is PDHG on the adjoint
 * saddle-point problem (AS) of Bogensperger et al., written with derivatives of the prox maps): for
 * `v = x − τKᵀz`, `w = z + σK(2x⁺ − x)`,
 * `c_w = J_{prox σf*}(w)ᵀ b`, `c_x̄ = σKᵀc_w`, `c_v = J_{prox τg}(v)ᵀ(a + 2c_x̄)`,
 * `a⁺ = v + c_v − c_x̄`, `b⁺ = c_w − τKc_v`. The prox Jacobians are tfjs VJPs.
 *
 * **Diagonal steps** T = diag(τ), Σ = diag(σ) (Pock & Chambolle 2011): the step is x⁺ = prox_{Tg}(x − TKᵀz),
 * z⁺ = prox_{Σf*}(z + ΣK(2x⁺ − x)), whose linearisation transposes to
 * `c_w = J_{prox Σf*}(w)ᵀb`, `c_x̄ = KᵀΣc_w`, `c_v = J_{prox Tg}(v)ᵀ(a + 2c_x̄)`, `a⁺ = v + c_v − c_x̄`,
 * `b⁺ = c_w − KTc_v` (T, Σ are symmetric, so (ΣK)ᵀ = KᵀΣ): the same code with the scalars replaced by
 * the diagonals, applied where they act (Σ in z-space before Kᵀ, T in x-space before K), so λ's
 * iteration stays the exact transpose of the forward step's linearisation (with T, Σ frozen).
 *
 * **Why the certificate survives any diagonal T, Σ** (Bogensperger, Ehrhardt, Pock, Salehi & Wong 2024,
 * (ASI) below (8), Lemma 3, (9a/b)): where g, f* are C² with H_g = ∇²g(x⁺), H_f = ∇²f*(z⁺), the prox
 * Jacobians are J_{prox Tg} = (I + TH_g)⁻¹, J_{prox Σf*} = (I + ΣH_f)⁻¹, so with X̃ = −Tc_v and Ỹ = Σc_w,
 * `(I + H_gT)c_v = a + 2c_x̄` gives `a⁺ − a = ∇ℓ₁ + KᵀỸ + H_gX̃` and `(I + H_fΣ)c_w = b` gives
 * `b − b⁺ = H_fỸ − KX̃`: exactly the residual of (ASI)'s optimality system at (X̃, Ỹ), linearised at
 * the forward's last iterate (x⁺, z⁺) = (x̃, ỹ). T and Σ cancel: the identity, and with it δ of Lemma 3 in
 * the joint form (‖residual‖_{W⁻¹}, strong monotonicity, `saddleHypergradientBound`), hold unchanged.
 * Likewise PDHG's residual (pdhg.ts) lies in the saddle operator M(x̃, ỹ) for any T, Σ, so ε of
 * Lemma 2 / (6a/b) in joint form and the bound (16) need no preconditioned constants: the metric
 * of the iteration never enters the bound, only the metric W of strong convexity does.
 *
 * **Acceleration** (Chambolle–Pock 2011, Algorithm 2): its step k extrapolates x̄ = x⁺ + ω_k(x⁺ − x) with
 * steps τ_k, σ_k/ω_k. The adjoint linearises exactly that step (`omega` = ω_k): the transpose is
 * `c_v = J_{prox τg}(v)ᵀ(a + (1 + ω)c_x̄)`, `a⁺ = ∇ℓ₁ + c_v − ωc_x̄`, and with (I + H_gτ)c_v = a + (1 + ω)c_x̄ again
 * `a⁺ − a = ∇ℓ₁ + KᵀỸ + H_gX̃`, `b − b⁺ = H_fỸ − KX̃`: ω cancels like T and Σ, so the certificate holds at the
 * accelerated forward's last iterate. (Whether this λ-iteration contracts is not covered by Algorithm 2's
 * theory; its residual is what the bound reads, so a slow one shows as a larger δ, not a wrong bound.)
 */
export function piggybackAdjoint<D>(
  problem: SaddleProblem<D>, theta: Params, data: D, cotangent: tf.Tensor,
  x: tf.Tensor, z: tf.Tensor, tau: Step, sigma: Step,
  a0: tf.Tensor | undefined, b0: tf.Tensor | undefined, tol: number, maxIter: number, keepLast = false, stepGroups = 1, minSteps = 0, omega = 1,
): AdjointResult {
  const xShape = x.shape;
  const history: number[][] | undefined = keepLast ? [] : undefined;
  const groupSquares = (t: tf.Tensor) => tf.sum(tf.reshape(tf.square(t), [stepGroups, -1]), 1);
  // Points where the prox maps are linearised; kept for the whole loop.
  const [v, w] = tf.tidy(() => {
    const vv = tf.sub(x, tf.mul(problem.adjoint(z, theta, data, xShape), tau));
    const xPlus = proxGAt(problem, vv, tau, theta, data);
    const xBar = tf.add(xPlus, tf.mul(tf.sub(xPlus, x), omega));
    return [vv, tf.add(z, tf.mul(problem.apply(xBar, theta, data), sigma))];
  });
  tf.keep(v);
  tf.keep(w);
  // λ_{k+1} − λ_k is only known after a step: the initial state has no residual (undefined).
  // dX, dY: the last step of (X̃, Ỹ) (zeros after the first), the direction the error is extrapolated along
  type Last = { X: tf.Tensor; Y: tf.Tensor; ra: tf.Tensor; rb: tf.Tensor; dX: tf.Tensor; dY: tf.Tensor };
  const { state, iterations, status } = iterate<{ a: tf.Tensor; b: tf.Tensor; residual: number | undefined; last?: Last }>({
    init: () => ({ a: a0 != null ? a0.clone() : cotangent.clone(), b: b0 != null ? b0.clone() : tf.zerosLike(z), residual: undefined }),
    residual: ({ residual }) => (history != null && history.length < minSteps ? undefined : residual),
    step: ({ a, b, last: prev }) => {
      const cw = vjp((u) => proxFStarAt(problem, u, sigma, theta, data), w, b);
      const cxBar = adjointScaled(problem, cw, sigma, theta, data, xShape);
      const cv = vjp((u) => proxGAt(problem, u, tau, theta, data), v, tf.add(a, tf.mul(cxBar, 1 + omega)));
      const an = tf.add(cotangent, tf.sub(cv, tf.mul(cxBar, omega)));
      const bn = tf.sub(cw, applyScaled(problem, cv, tau, theta, data));
      const ra = tf.sub(an, a);
      const rb = tf.sub(b, bn);
      const d = tf.add(tf.sum(tf.square(ra)), tf.sum(tf.square(rb)));
      const X = tf.neg(tf.mul(cv, tau));
      const Y = tf.mul(cw, sigma);
      const last = keepLast ? { X, Y, ra, rb, dX: prev != null ? tf.sub(X, prev.X) : tf.zerosLike(X), dY: prev != null ? tf.sub(Y, prev.Y) : tf.zerosLike(Y) } : undefined;
      if (last == null || history == null) return { state: { a: an, b: bn, residual: Math.sqrt(d.dataSync()[0]), last } };
      // one read for the residual and the step norms of (X̃, Ỹ) per group (the first step has no predecessor: NaN)
      const stepNorms = prev != null ? tf.sqrt(tf.add(groupSquares(last.dX), groupSquares(last.dY))) : tf.fill([stepGroups], NaN);
      const read = tf.concat([tf.reshape(d, [1]), stepNorms]).dataSync();
      if (prev != null) history.push(Array.from(read.subarray(1)));
      return { state: { a: an, b: bn, residual: Math.sqrt(read[0]), last } };
    },
  }, { threshold: tol, maxIter });
  const a = tf.keep(state.a);
  const b = tf.keep(state.b);
  const residual = state.residual ?? Infinity;
  const diverged = status === 'nan';
  const last = state.last;
  if (last != null) for (const t of Object.values(last)) tf.keep(t);
  // ∇_θ ⟨T(x, z; θ), λ⟩ with (x, z, λ) held constant (not with keepLast: the caller then forms (15) itself).
  const grad: Params = {};
  if (!keepLast) {
    const { value, grad: g } = valueAndGradParams((th) => {
      const kTz = problem.adjoint(z, th, data, xShape);
      // the steps are constants here: at a fixed point ∂T/∂(steps) = 0, so θ-dependent T, Σ need no derivative
      const xPlus = proxGAt(problem, tf.sub(x, tf.mul(kTz, tau)), tau, th, data);
      const xBar = tf.add(xPlus, tf.mul(tf.sub(xPlus, x), omega));
      const zPlus = proxFStarAt(problem, tf.add(z, tf.mul(problem.apply(xBar, th, data), sigma)), sigma, th, data);
      return tf.add(tf.sum(tf.mul(xPlus, a)), tf.sum(tf.mul(zPlus, b)));
    }, theta);
    value.dispose();
    for (const k of keysOf(g)) grad[k] = tf.keep(g[k]);
  }
  tf.dispose([v, w]);
  // Per iteration: two prox VJPs and one Kᵀ (VJPs), one K (a JVP of a linear map); plus the final θ-VJP of one step.
  const work = addWork({ vjps: 3 * iterations + (keepLast ? 0 : 1), jvps: iterations, linearIterations: iterations });
  return { grad, a, b, residual, iterations, converged: residual <= tol, diverged, work, last, steps: history };
}
