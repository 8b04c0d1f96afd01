/**
 * The convex filter network (ICNN / FoE) lower level in dualised saddle form, eqs. (33) and (35) of
 * Bogensperger, Ehrhardt, Pock, Salehi & Wong (2024), for PDHG and the piggyback strategy.
 *
 * @packageDocumentation
 */
import { tf, defineSaddle, opt } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import type { LinearOperator } from './operators/types.js';
import { param } from './internal/params.js';
import { checkPositive } from './internal/checks.js';
import { proxEpigraphConjugate, proxSmoothedReluConjugate } from './regularizers/smoothed-relu.js';
import { resolveConvexNetwork, secondLayer, conv, convAdjoint, convolutionNormBound, initialParams, type ConvexNetworkOptions } from './internal/convex-network.js';
import { convolutionAbsoluteSums } from './operators/absolute-sums.js';

/** Options of {@link convexNetworkSaddle}: the network's ({@link ConvexNetworkOptions}) and these. */
export interface ConvexNetworkSaddleOptions<D extends ConvexNetworkSaddleData = ConvexNetworkSaddleData> extends ConvexNetworkOptions {
  /** The forward operator A (images `[b, h, w, 1]`; it must declare `inShape`). */
  operator: LinearOperator;
  /** An upper bound on ‖A‖ for the PDHG steps; default `operator.normBound`. */
  operatorNorm?: number;
  /** μ_g > 0 of (μ_g/2)‖x − x₀‖² (the paper's μg; x₀ = 0 unless `anchor`). */
  mu?: number;
  /**
   * The anchor (prior image) x₀ of g's (μ_g/2)‖x − x₀‖², per sample from the data: `(data) => x₀`
   * (`[b, h, w, 1]`, or broadcastable to x; the problem does not own it), e.g. an FBP image, so that
   * the strong convexity the bound needs pulls x towards an estimate instead of shrinking it towards
   * 0. Default none (x₀ = 0). The same μ_g and bound constants either way (g's Hessian is unchanged).
   */
  anchor?: (data: D) => tf.Tensor;

  /** ε_z ≥ 0 of an added (ε_z/2)‖z‖² (2 layers): 0 is (32) exactly; > 0 makes g strongly convex in z, which the bound needs. */
  zWeight?: number;
  /** ε₂ ≥ 0 of an added (ε₂/2)‖y₂‖² in f₂* (2 layers; f₂ = dist²_C/(2ε₂) instead of δ_C): 0 is (33) exactly; > 0 for the bound. */
  dualSmoothing?: number;
  /**
   * Lipschitz constant of ∇²f* declared to the bound. Default 0: exact for the data block and for
   * (γψ_w)* (quadratic on its box, as for TV's dual ball), an **assumption** for σ_C, the support
   * function of the epigraph (a perspective of ψ_w*, whose Hessian is not globally Lipschitz).
   */
  dualHessianLipschitz?: number;
  /** A name for messages. */
  name?: string;
}

/** Defaults of {@link convexNetworkSaddle} beyond the network's: μ_g = 1e-3, ε_z = 1e-3, ε₂ = 1e-3, dualHessianLipschitz 0. */
export const CONVEX_NETWORK_SADDLE_DEFAULTS = { mu: 1e-3, zWeight: 1e-3, dualSmoothing: 1e-3, dualHessianLipschitz: 0 } as const;

/**
 * MAID (Algorithm 3) settings of Bogensperger et al. (2024, §4.2) for the 2-layer ICNN: ν̲ = 0.5, ν̄ = 1.05,
 * ρ̲ = 0.1, ρ̄ = 1.1, as `@bilevel/outer`'s `maid` option names (spread them into `maid({...})`; its own
 * defaults ρ̲ = 0.5, ρ̄ = 10/9 are the paper's FoE and §4.1 settings). The paper's α₀ = 1e-4, ε₀ = 20,
 * δ₀ = 4 are scale-dependent (Mayo 512², 200 angles) and are not copied.
 */
export const ICNN_MAID_OPTIONS = Object.freeze({ accuracyShrink: 0.5, accuracyGrow: 1.05, stepShrink: 0.1, stepGrow: 1.1 });

/** Data of the saddle problem: the measurements `y = A x_true + noise`. */
export type ConvexNetworkSaddleData = { y: tf.Tensor };

/** What {@link convexNetworkSaddle} returns. */
export interface ConvexNetworkSaddle<D extends ConvexNetworkSaddleData = ConvexNetworkSaddleData> {
  /** The saddle problem; its primal variable is u = (x, z) packed as `[b, h, w, 1 + C₁]` (2 layers) or x (1 layer). */
  problem: SaddleProblem<D>;
  /** Initial θ = `{ V, omega }` (the caller owns it). */
  theta: Params;
  /** The image x (channel 0) of a primal point u. */
  image(u: tf.Tensor): tf.Tensor;
}

const SCHEMA = {
  operator: opt.custom('a LinearOperator with inShape (radon(n), identity() needs inShape)', (v) => v !== null && typeof v === 'object' && typeof (v as { apply?: unknown }).apply === 'function'),
  operatorNorm: opt.number(), mu: opt.number(), anchor: opt.func('pass (data) => the anchor image x₀ [b, h, w, 1], e.g. (d) => d.fbp'), zWeight: opt.number(), dualSmoothing: opt.number(), dualHessianLipschitz: opt.number(), name: opt.string(),
};

/**
 * The lower level `min_x ½‖Ax − y‖² + (μ_g/2)‖x − x₀‖² + R(x; θ)` (x₀ = 0 unless `anchor`) with the convex filter network R
 * (see `convexNetwork`), dualised as in Bogensperger et al. (2024):
 * ```
 * 2 layers (33): min_{x,z} max_{y₁,y₂,y₃} ⟨Ax, y₁⟩ − f₁*(y₁) + ⟨(Vx, z), y₂⟩ − f₂*(y₂) + ⟨Wz, y₃⟩ − f₃*(y₃) + g(x, z)
 * 1 layer (35):  min_x max_{y₁,y₂} ⟨Ax, y₁⟩ − f₁*(y₁) + ⟨Vx, y₂⟩ − f₃*(y₂) + g(x)
 * ```
 * with f₁*(y) = ½‖y‖² + ⟨y, y_data⟩, f₂ = δ_C, C = {(p, q): ψ_w(p) ≤ q} (prox of f₂* by Moreau from
 * the projection onto C, `proxEpigraphConjugate`), f₃* = (γψ_w)* = w‖·‖²/(2γ) on [0, γ]
 * (`proxSmoothedReluConjugate`), g = (μ_g/2)‖x − x₀‖² + (ε_z/2)‖z‖². So K(θ)(x, z) = (Ax, Vx, z, Wz) and
 * θ = (V, omega) enters K only; W = softplus(omega) ≥ 0 keeps R convex for every θ.
 * Constants declared: ‖K‖ ≤ √max(‖A‖² + ‖V‖², 1 + ‖W‖²); per-entry moduli (μ_g on x, ε_z on z;
 * 1, ε₂, w/γ on the dual blocks); Lip ∇²g = 0; c_K = S (‖∇_θ⟨K(θ)a, b⟩‖ ≤ S‖a‖‖b‖ for S×S filters,
 * softplus' ≤ 1). With ε_z = ε₂ = 0 the problem is (32)/(33) exactly and piggyback runs uncertified.
 *
 * @param options - operator, network options, μ_g, the anchor x₀, ε_z, ε₂ (see {@link CONVEX_NETWORK_SADDLE_DEFAULTS}).
 * @returns the problem, initial θ and `image(u)`.
 * @example
 * ```ts
 * const A = radon(32, { angles: 20 });
 * const { problem, theta, image } = convexNetworkSaddle({ operator: A, operatorNorm: 40, layers: 2 });
 * const r = hypergradient({ problem, theta, data: { y: sinogram }, strategy: piggyback({ lossLipschitz: 1 }),
 *   loss: (u) => tf.mul(0.5, tf.sum(tf.square(tf.sub(image(u), clean)))) });
 * ```
 */
export function convexNetworkSaddle<D extends ConvexNetworkSaddleData = ConvexNetworkSaddleData>(options: ConvexNetworkSaddleOptions<D>): ConvexNetworkSaddle<D> {
  const where = 'convexNetworkSaddle';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: pass one options object { operator, layers, channels, ... }.`);
  const o = resolveConvexNetwork(where, options, SCHEMA);
  const s = { ...CONVEX_NETWORK_SADDLE_DEFAULTS, ...options };
  const A = options.operator;
  if (A == null || A.inShape == null) throw new Error(`${where}: option 'operator' must be a LinearOperator with inShape (e.g. radon(n)); got ${A == null ? 'none' : `'${A.name}' without inShape`}.`);
  const normA = options.operatorNorm ?? A.normBound;
  if (normA == null) throw new Error(`${where}: operator '${A.name}' has no normBound; give option 'operatorNorm' (an upper bound on ‖A‖).`);
  checkPositive(where, 'operatorNorm', normA);
  checkPositive(where, 'mu', s.mu);
  for (const k of ['zWeight', 'dualSmoothing', 'dualHessianLipschitz'] as const) {
    if (!(s[k] >= 0)) throw new Error(`${where}: option '${k}' must be ≥ 0, got ${s[k]}.`);
  }
  const [h, wd] = A.inShape;
  const { layers, channels: c1, outChannels: c2, gamma, smoothing: w } = o;
  const two = layers === 2;
  const pixels = h * wd;
  const V = (th: Params) => param(th, 'V', where);
  // the per-sample shape of A x, found once (LinearOperator does not declare it)
  let dataShape: number[] | undefined;
  const dataShapeOf = (): number[] => {
    if (dataShape == null) {
      const probe = tf.tidy(() => A.apply(tf.zeros([1, h, wd, 1])));
      dataShape = probe.shape.slice(1);
      probe.dispose();
    }
    return dataShape;
  };
  const dataSize = () => dataShapeOf().reduce((a, b) => a * b, 1);
  const blocks = () => (two ? [dataSize(), pixels * c1, pixels * c1, pixels * c2] : [dataSize(), pixels * c1]);
  const split = (y: tf.Tensor) => tf.split(y, blocks(), 1);
  const flat = (t: tf.Tensor, b: number) => tf.reshape(t, [b, -1]);
  const image = (u: tf.Tensor) => (two ? tf.slice(u, [0, 0, 0, 0], [-1, -1, -1, 1]) : u.clone());
  type Step = number | tf.Tensor;
  const anchorOf = options.anchor;
  // prox of τg at u: (u + τ μ x₀)/(1 + τ μ) on x, u/(1 + τ ε_z) on z; without an anchor x₀ = 0
  const shifted = (u: tf.Tensor, tau: Step, d: D): tf.Tensor => {
    if (anchorOf == null) return u;
    const x0 = anchorOf(d);
    if (!(x0 instanceof tf.Tensor)) throw new Error(`${where}: option 'anchor' must return a tf.Tensor (the image x₀ [b, h, w, 1]), got ${typeof x0}.`);
    const tauX = typeof tau === 'number' || !two ? tau : tf.slice(tau, [0, 0, 0, 0], [-1, -1, -1, 1]);
    const pull = tf.mul(x0, tf.mul(tauX, s.mu));
    return tf.add(u, two ? tf.pad(pull, [[0, 0], [0, 0], [0, 0], [0, c1]]) : pull);
  };
  const proxG = (u0: tf.Tensor, tau: Step, d: D) => {
    const u = shifted(u0, tau, d);
    if (typeof tau === 'number') {
      if (!two) return tf.div(u, 1 + tau * s.mu);
      return tf.mul(u, tf.concat([tf.fill([1, 1, 1, 1], 1 / (1 + tau * s.mu)), tf.fill([1, 1, 1, c1], 1 / (1 + tau * s.zWeight))], 3));
    }
    const moduli = two ? tf.concat([tf.fill([1, 1, 1, 1], s.mu), tf.fill([1, 1, 1, c1], s.zWeight)], 3) : s.mu;
    return tf.div(u, tf.add(1, tf.mul(tau, moduli)));
  };
  const proxFStar = (y: tf.Tensor, sigma: Step, d: D) => {
    const b = y.shape[0];
    const [y1, y2, y22, y3] = split(y);
    const [s1, s2, s22, s3] = typeof sigma === 'number' ? [sigma, sigma, sigma, sigma] : split(tf.broadcastTo(sigma, [1, y.shape[1]!]));
    const p1 = tf.div(tf.sub(y1, tf.mul(flat(d.y, b), s1)), typeof s1 === 'number' ? 1 + s1 : tf.add(1, s1));
    if (!two) return tf.concat([p1, proxSmoothedReluConjugate(y2, s2, gamma, w)], 1);
    void s22; // equal to s2 (absoluteSums pairs them)
    const [pa, pb] = proxEpigraphConjugate(y2, y22, s2, w, s.dualSmoothing);
    return tf.concat([p1, pa, pb, proxSmoothedReluConjugate(y3, s3!, gamma, w)], 1);
  };
  const problem = defineSaddle<D>({
    apply: (u, th) => {
      const b = u.shape[0];
      const x = two ? tf.slice(u, [0, 0, 0, 0], [-1, -1, -1, 1]) : u;
      const parts = [flat(A.apply(x), b), flat(conv(x, V(th)), b)];
      if (two) {
        const z = tf.slice(u, [0, 0, 0, 1], [-1, -1, -1, c1]);
        parts.push(flat(z, b), flat(conv(z, secondLayer(th, where)), b));
      }
      return tf.concat(parts, 1);
    },
    adjoint: (y, th) => {
      const b = y.shape[0];
      const [y1, y2, y22, y3] = split(y);
      const x = tf.add(A.adjoint(tf.reshape(y1, [b, ...dataShapeOf()])), convAdjoint(tf.reshape(y2, [b, h, wd, c1]), V(th), 1));
      if (!two) return x;
      const z = tf.add(tf.reshape(y22, [b, h, wd, c1]), convAdjoint(tf.reshape(y3, [b, h, wd, c2]), secondLayer(th, where), c1));
      return tf.concat([x, z], 3);
    },
    proxG: (u, tau, _th, d) => proxG(u, tau, d),
    proxFStar: (y, sigma, _th, d) => proxFStar(y, sigma, d),
    // g and f₁*, f₃* are separable and f₂* separable over the pairs (y₂ᵢ, y₂₂ᵢ), whose steps absoluteSums makes equal
    proxGDiagonal: (u, tau, _th, d) => proxG(u, tau, d),
    proxFStarDiagonal: (y, sigma, _th, d) => proxFStar(y, sigma, d),
    absoluteSums: A.absoluteSums == null ? undefined : (alpha, th) => {
      const a = A.absoluteSums!(alpha, A.inShape);
      const v = convolutionAbsoluteSums(V(th), alpha, h, wd);
      const primalX = tf.add(a.columns, v.columns);
      if (!two) return { primal: primalX, dual: tf.concat([flat(a.rows, 1), flat(v.rows, 1)], 1) };
      const w2 = secondLayer(th, where);
      const ws = convolutionAbsoluteSums(w2, alpha, h, wd);
      // (Vx)ᵢ and zᵢ share the epigraph prox: both get the larger of their row sums (an upper bound keeps Lemma 2)
      const pair = flat(tf.maximum(v.rows, 1), 1);
      return { primal: tf.concat([primalX, tf.add(ws.columns, 1)], 3), dual: tf.concat([flat(a.rows, 1), pair, pair, flat(ws.rows, 1)], 1) };
    },
    // from x₀ where there is one (the PDHG start only; the solution does not depend on it)
    init: (_th, d) => tf.tidy(() => {
      const zero = tf.zeros([d.y.shape[0], h, wd, two ? 1 + c1 : 1]);
      return anchorOf == null ? zero : shifted(zero, 1 / s.mu, d);
    }),
    operatorNorm: (th) => {
      const nv = convolutionNormBound(V(th));
      if (!two) return Math.sqrt(normA * normA + nv * nv);
      const w2 = secondLayer(th, where);
      const nw = convolutionNormBound(w2);
      w2.dispose();
      return Math.sqrt(Math.max(normA * normA + nv * nv, 1 + nw * nw));
    },
    strongConvexity: two ? (s.zWeight > 0 ? Math.min(s.mu, s.zWeight) : undefined) : s.mu,
    dualStrongConvexity: two && !(s.dualSmoothing > 0) ? undefined : Math.min(1, w / gamma, two ? s.dualSmoothing : 1),
    strongConvexityWeights: two && !(s.zWeight > 0) ? undefined
      : () => tf.tidy(() => (two ? tf.concat([tf.fill([1, 1, 1, 1], s.mu), tf.fill([1, 1, 1, c1], s.zWeight)], 3) : tf.scalar(s.mu))),
    dualStrongConvexityWeights: two && !(s.dualSmoothing > 0) ? undefined
      : () => tf.tidy(() => {
        const parts = [tf.ones([1, dataSize()])];
        if (two) parts.push(tf.fill([1, 2 * pixels * c1], s.dualSmoothing));
        parts.push(tf.fill([1, pixels * (two ? c2 : c1)], w / gamma));
        return tf.concat(parts, 1);
      }),
    hessianLipschitz: 0,
    dualHessianLipschitz: s.dualHessianLipschitz,
    operatorDerivativeNorm: o.size,
    name: options.name ?? (two ? `ICNN saddle (33), ${A.name}` : `FoE saddle (35), ${A.name}`),
  });
  return { problem, theta: initialParams(o), image };
}
