/**
 * A reparametrisation of the FoE's filters for the upper level (`--netMeanScale c`): θ = { V: φ } with
 *
 *   V_k = (φ_k − m(φ_k)) + c·m(φ_k),    m(φ_k) = the mean of filter k's S² taps (on every tap),
 *
 * i.e. V = Pφ with P the identity on zero-mean filters and c on each filter's constant part. For c > 0 it is a
 * change of variables only (the same FoE, V ↔ φ one to one), and plain gradient descent on φ is gradient descent
 * on V preconditioned by P² (steps on the filters' means scaled by c²). The reason: a filter's mean sees the
 * image's intensity, not its edges, so V_k x moves by m·x on every pixel, and with ψ_w quadratic below w = 0.01
 * the loss is far stiffer along the means than along zero-mean changes (README, "FoE: the upper level's
 * conditioning", measures both curvatures); MAID's step is limited by the stiffest direction. c = 0 restricts the
 * FoE to zero-mean filters (the classical FoE's, Roth & Black 2009), a smaller model.
 *
 * MAID then runs unchanged on φ: its hypergradient h_φ = P h_V is what piggyback computes through the wrapped K
 * (autodiff of `apply`), the estimated bound is evaluated the same way, and the certified one needs c_K for φ,
 * ‖∇_φ⟨K(Pφ)a, b⟩‖ = ‖P∇_V⟨K(V)a, b⟩‖ ≤ max(1, c)·c_K(V): so Algorithm 3's descent and sufficient-decrease tests
 * hold for F(Pφ) exactly as for F(V).
 */
import { tf, defineSaddle } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';

/** V = Pφ for filters `[S, S, 1, C]` (see the file's comment). */
export function meanScaled(phi: tf.Tensor, c: number): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.mean(phi, [0, 1], true);
    return c === 1 ? phi.clone() : tf.add(tf.sub(phi, m), tf.mul(m, c));
  });
}

/** φ = P⁻¹V (c > 0): the φ of given filters. */
export function meanUnscaled(V: tf.Tensor, c: number): tf.Tensor {
  if (!(c > 0)) throw new Error(`ct-sparse-view meanUnscaled: --netMeanScale must be > 0 to invert V = Pφ, got ${c} (with 0 the start must have zero-mean filters: pass them as φ).`);
  return meanScaled(V, 1 / c);
}

/**
 * The saddle problem of `p` in the variable φ: every θ-dependent piece of `p` called at { ...θ, V: Pφ }
 * (only θ.V is mapped; other entries pass through).
 *
 * @param p - a saddle problem with θ.V the first-layer filters `[S, S, 1, C]` (the FoE of `convexNetworkSaddle`).
 * @param c - the scale c ≥ 0 of the filters' means (1: p itself; 0: zero-mean filters).
 * @returns the problem in φ; θ₀ for it is `meanUnscaled(V₀, c)` (or V₀ when its filters have zero mean).
 */
export function withFilterMeanScale<D>(p: SaddleProblem<D>, c: number): SaddleProblem<D> {
  if (!(c >= 0 && c <= 1)) throw new Error(`ct-sparse-view withFilterMeanScale: --netMeanScale must be in [0, 1] (c_K is kept for c ≤ 1), got ${c}.`);
  const at = (th: Params): Params => ({ ...th, V: meanScaled(th.V, c) });
  // runs fn at the mapped θ and frees the mapped filters (fn's result is kept)
  const mapped = <T>(th: Params, fn: (m: Params) => T): T => {
    const m = at(th);
    try {
      return fn(m);
    } finally {
      m.V.dispose();
    }
  };
  return defineSaddle<D>({
    apply: (x, th, d) => tf.tidy(() => p.apply(x, at(th), d)),
    adjoint: (z, th, d) => tf.tidy(() => p.adjoint(z, at(th), d, [])),
    proxG: (v, tau, th, d) => mapped(th, (m) => p.proxG(v, tau, m, d)),
    proxFStar: (z, sigma, th, d) => mapped(th, (m) => p.proxFStar(z, sigma, m, d)),
    ...(p.proxGDiagonal != null ? { proxGDiagonal: (v: tf.Tensor, tau: tf.Tensor, th: Params, d: D) => mapped(th, (m) => p.proxGDiagonal!(v, tau, m, d)) } : {}),
    ...(p.proxFStarDiagonal != null ? { proxFStarDiagonal: (z: tf.Tensor, s: tf.Tensor, th: Params, d: D) => mapped(th, (m) => p.proxFStarDiagonal!(z, s, m, d)) } : {}),
    ...(p.absoluteSums != null ? { absoluteSums: (alpha: number, th: Params, d: D) => mapped(th, (m) => p.absoluteSums!(alpha, m, d)) } : {}),
    init: (th, d) => mapped(th, (m) => p.initialPoint(m, d)),
    // the constants at the mapped θ (‖P‖ = max(1, c) = 1 for c ≤ 1 keeps operatorDerivativeNorm valid for φ)
    ...constants(p, mapped),
    name: c === 1 ? p.name : `${p.name}, filter means ×${c}`,
  });
}

const CONSTANTS = ['operatorNorm', 'strongConvexity', 'dualStrongConvexity', 'hessianLipschitz', 'dualHessianLipschitz', 'operatorDerivativeNorm'] as const;

/** p's declared constants, the θ-dependent ones evaluated at the mapped θ; undeclared ones stay undeclared. */
function constants<D>(p: SaddleProblem<D>, mapped: <T>(th: Params, fn: (m: Params) => T) => T): Partial<Record<(typeof CONSTANTS)[number], number | ((th: Params, d: D) => number)>> {
  const out: Partial<Record<(typeof CONSTANTS)[number], number | ((th: Params, d: D) => number)>> = {};
  for (const key of CONSTANTS) {
    const v = p[key];
    if (v == null) continue;
    out[key] = typeof v === 'number' ? v : (th: Params, d: D) => mapped(th, (m) => v(m, d));
  }
  return out;
}
