/**
 * The closed-form cubic saddle batch of the bound-validity tests (bound.test.ts, precondition.test.ts).
 */
import { tf, defineSaddle, valueAndGradParams } from '@bilevel/core';
import { certifySaddle } from '../src/internal/certify.js';
import type { SaddleBoundConstants } from '../src/bound.js';
import type { Params } from '@bilevel/core';
import { mulberry32Uniform } from '@bilevel/testing';

// B independent saddle problems stacked on the leading axis (θ = K per sample, [B, m, n]):
//   g(x) = (μ_g/2)‖x‖² − ⟨b, x⟩ + (c_g/3)Σ|x_i|³,   f*(y) = (μ_f/2)‖y‖² + ⟨d, y⟩ + (c_f/3)Σ|y_i|³,
//   ℓ(x) = Σ log cosh(x − t)  (L₁ = 1, not quadratic).
// ∇²g = diag(μ_g + 2c_g|x|) is 2c_g-Lipschitz, ∇²f* likewise; both prox maps are closed form:
// (α + c|u|)u = w  ⇒  u = 2w / (α + √(α² + 4c|w|)). Ground truth in float64 by Newton on the
// saddle system, the adjoint (AS) by one linear solve, ∇L(K) = ŷ⊗X̂ + Ŷ⊗x̂ (eq. (5)).
export const n = 4;
export const m = 5;
export type D = { b: tf.Tensor; d: tf.Tensor; t: tf.Tensor };
export interface Case { muG: number; muF: number; cG: number; cF: number; scale: number; itF: number; itA: number }
/** Per-entry moduli of a case: μ_g·(1, 2, …) and μ_f·(1, 1.5, …), so min = μ_g, μ_f and the weighted bound differs from the scalar one. */
export const muGv = (c: Case) => Array.from({ length: n }, (_, i) => c.muG * (1 + i));
export const muFv = (c: Case) => Array.from({ length: m }, (_, i) => c.muF * (1 + 0.5 * i));

export const cubicProx = (w: tf.Tensor, alpha: tf.Tensor, c: number) => tf.div(tf.mul(w, 2), tf.add(alpha, tf.sqrt(tf.add(tf.square(alpha), tf.mul(4 * c, tf.abs(w))))));
/** The spec fields of a defined saddle problem (to redefine it with more constants). */
export const problemSpec = (p: ReturnType<typeof defineSaddle<D>>) => ({
  apply: p.apply, adjoint: (z: tf.Tensor, th: Params, d: D) => p.adjoint(z, th, d, []), proxG: p.proxG, proxFStar: p.proxFStar, init: p.init,
  operatorNorm: p.operatorNorm, strongConvexity: p.strongConvexity, dualStrongConvexity: p.dualStrongConvexity,
  hessianLipschitz: p.hessianLipschitz, dualHessianLipschitz: p.dualHessianLipschitz, operatorDerivativeNorm: p.operatorDerivativeNorm, name: p.name,
  proxGDiagonal: p.proxGDiagonal, proxFStarDiagonal: p.proxFStarDiagonal, absoluteSums: p.absoluteSums,
});
export const cubicProx64 = (w: number, alpha: number, c: number) => (2 * w) / (alpha + Math.sqrt(alpha * alpha + 4 * c * Math.abs(w)));
export const logcosh = (u: tf.Tensor) => tf.add(tf.abs(u), tf.sub(tf.log1p(tf.exp(tf.mul(tf.abs(u), -2))), Math.log(2)));

export function gaussSolve(a: number[][], rhs: number[]): number[] {
  const N = rhs.length;
  const M = a.map((r, i) => [...r, rhs[i]]);
  for (let c = 0; c < N; c++) {
    let p = c;
    for (let r = c + 1; r < N; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < N; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= N; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array(N).fill(0);
  for (let r = N - 1; r >= 0; r--) {
    let s = M[r][N];
    for (let k = r + 1; k < N; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}
export const nrm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
export const mv = (K: number[][], x: number[]) => K.map((row) => row.reduce((s, v, j) => s + v * x[j], 0));
export const mtv = (K: number[][], y: number[]) => K[0].map((_, j) => K.reduce((s, row, i) => s + row[j] * y[i], 0));

/** Float64 truth of one sample: (x̂, ŷ), (X̂, Ŷ) and ∇L(K). */
export function truth(c: Case, K: number[][], b: number[], d: number[], t: number[]) {
  const mg = muGv(c);
  const mf = muFv(c);
  let x = new Array(n).fill(0);
  let y = new Array(m).fill(0);
  const jac = (xx: number[], yy: number[]) => {
    const J = Array.from({ length: n + m }, () => new Array(n + m).fill(0));
    for (let i = 0; i < n; i++) J[i][i] = mg[i] + 2 * c.cG * Math.abs(xx[i]);
    for (let i = 0; i < m; i++) J[n + i][n + i] = mf[i] + 2 * c.cF * Math.abs(yy[i]);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) { J[j][n + i] = K[i][j]; J[n + i][j] = -K[i][j]; }
    return J;
  };
  let res = Infinity;
  for (let it = 0; it < 60 && res > 1e-13; it++) {
    const kty = mtv(K, y);
    const kx = mv(K, x);
    const F = [...x.map((v, i) => mg[i] * v - b[i] + c.cG * v * Math.abs(v) + kty[i]), ...y.map((v, i) => mf[i] * v + d[i] + c.cF * v * Math.abs(v) - kx[i])];
    res = nrm(F);
    const step = gaussSolve(jac(x, y), F.map((v) => -v));
    x = x.map((v, i) => v + step[i]);
    y = y.map((v, i) => v + step[n + i]);
  }
  const gl = x.map((v, i) => Math.tanh(v - t[i]));
  const XY = gaussSolve(jac(x, y), [...gl.map((v) => -v), ...new Array(m).fill(0)]);
  const X = XY.slice(0, n);
  const Y = XY.slice(n);
  const grad = K.map((_, i) => x.map((__, j) => y[i] * X[j] + Y[i] * x[j]));
  return { x, y, X, Y, grad: grad.flat(), res };
}

export function buildBatch(c: Case, B: number, seed: number) {
  const r = mulberry32Uniform(seed);
  const u = () => 2 * r() - 1;
  const Ks = Array.from({ length: B }, () => Array.from({ length: m }, () => Array.from({ length: n }, () => c.scale * u())));
  const bs = Array.from({ length: B }, () => Array.from({ length: n }, () => 2 * u()));
  const ds = Array.from({ length: B }, () => Array.from({ length: m }, () => u()));
  const ts = Array.from({ length: B }, () => Array.from({ length: n }, () => u()));
  // ‖K_b‖ in float64 by power iteration on KᵀK (declared as the operator norm: max over samples).
  const opNorm = (K: number[][]) => {
    let v = new Array(n).fill(1);
    let s = 0;
    for (let i = 0; i < 300; i++) {
      const w = mtv(K, mv(K, v));
      s = nrm(w);
      v = w.map((x) => x / s);
    }
    return Math.sqrt(s);
  };
  const norms = Ks.map(opNorm);
  const wG = tf.tensor2d([muGv(c)]);
  const wF = tf.tensor2d([muFv(c)]);
  const inv = (t: number | tf.Tensor) => (typeof t === 'number' ? 1 / t : tf.reciprocal(t));
  const proxG = (v: tf.Tensor, tau: number | tf.Tensor, _th: Params, dd: D) => cubicProx(tf.add(tf.div(v, tau), dd.b), tf.add(wG, inv(tau)), c.cG);
  const proxFStar = (w: tf.Tensor, sigma: number | tf.Tensor, _th: Params, dd: D) => cubicProx(tf.sub(tf.div(w, sigma), dd.d), tf.add(wF, inv(sigma)), c.cF);
  const problem = defineSaddle<D>({
    apply: (x, th) => tf.squeeze(tf.matMul(th.K, tf.expandDims(x, 2)), [2]),
    adjoint: (z, th) => tf.squeeze(tf.matMul(th.K, tf.expandDims(z, 2), true), [2]),
    proxG: (v, tau, th, dd) => proxG(v, tau, th, dd),
    proxFStar: (w, sigma, th, dd) => proxFStar(w, sigma, th, dd),
    // separable prox maps: exact for elementwise steps too (diagonal preconditioning)
    proxGDiagonal: (v, tau, th, dd) => proxG(v, tau, th, dd),
    proxFStarDiagonal: (w, sigma, th, dd) => proxFStar(w, sigma, th, dd),
    // Σ_i |K_ij|^{2−α} per column (shaped like x) and Σ_j |K_ij|^α per row (like y), per sample; no K entry is 0
    absoluteSums: (alpha, th) => ({ primal: tf.sum(tf.pow(tf.abs(th.K), 2 - alpha), 1), dual: tf.sum(tf.pow(tf.abs(th.K), alpha), 2) }),
    init: (_th, dd) => tf.zerosLike(dd.b),
    operatorNorm: Math.max(...norms) * 1.001,
    strongConvexity: c.muG,
    dualStrongConvexity: c.muF,
    hessianLipschitz: 2 * c.cG,
    dualHessianLipschitz: 2 * c.cF,
    operatorDerivativeNorm: 1,
    name: 'cubic saddle batch',
  });
  // the same problem with per-entry weights declared
  const weighted = defineSaddle<D>({ ...problemSpec(problem), strongConvexityWeights: () => wG.clone(), dualStrongConvexityWeights: () => wF.clone() });
  const data = (): D => ({ b: tf.tensor2d(bs), d: tf.tensor2d(ds), t: tf.tensor2d(ts) });
  const theta = (): Params => ({ K: tf.tensor3d(Ks) });
  const loss = (x: tf.Tensor, _th: Params, dd: D) => tf.sum(logcosh(tf.sub(x, dd.t)));
  return { problem, weighted, data, theta, loss, Ks, bs, ds, ts, norms, dispose: () => tf.dispose([wG, wF]) };
}

// Eight settings × 125 samples = 1,000 trials: strong convexity from 0.3 to 3, cubic terms on/off,
// ‖K‖ from ~0.5 to ~4, and forward/adjoint iteration counts from 3 to 40 so that the errors span
// several decades. They are kept above the float32 floor (relative error ~1e-6): there the float32
// residuals are round-off too, and no a-posteriori bound computed from them can be trusted (measured:
// at 30 + 30 iterations of the last setting, 5 of 125 samples at errors ~1e-7 had bound < error).
export const CASES: Case[] = [
  { muG: 1, muF: 1, cG: 0, cF: 0, scale: 0.5, itF: 3, itA: 3 },
  { muG: 1, muF: 0.5, cG: 0.3, cF: 0, scale: 0.8, itF: 8, itA: 16 },
  { muG: 0.5, muF: 2, cG: 0, cF: 0.4, scale: 0.8, itF: 16, itA: 8 },
  { muG: 2, muF: 1, cG: 0.5, cF: 0.5, scale: 1, itF: 12, itA: 12 },
  { muG: 0.3, muF: 0.3, cG: 0.2, cF: 0.2, scale: 0.6, itF: 25, itA: 25 },
  { muG: 3, muF: 0.5, cG: 1, cF: 0, scale: 1.5, itF: 20, itA: 40 },
  { muG: 1, muF: 3, cG: 0, cF: 1, scale: 1.2, itF: 40, itA: 20 },
  { muG: 1, muF: 1, cG: 0.5, cF: 0.5, scale: 0.7, itF: 14, itA: 14 },
];
export const B = 125;

/**
 * Bound / true error of each sample's certified piggyback hypergradient (∂K of ⟨K X, z⟩ + ⟨K x, Y⟩ by autodiff,
 * certifySaddle's bound with the batch's constants, the float64 truth): the 1,000-trial validity loops' shared core.
 */
export function boundOverError(
  c: Case, q: ReturnType<typeof buildBatch>, theta: Params, data: D,
  fwd: { x: tf.Tensor; z: tf.Tensor; last: { rp: tf.Tensor; rd: tf.Tensor } },
  al: { X: tf.Tensor; Y: tf.Tensor; ra: tf.Tensor; rb: tf.Tensor }, lossGrad: tf.Tensor,
): number[] {
  const { value, grad } = valueAndGradParams((th: Params) => tf.add(
    tf.sum(tf.mul(q.problem.apply(al.X, th, data), fwd.z)), tf.sum(tf.mul(q.problem.apply(fwd.x, th, data), al.Y))), theta);
  const floor = Math.min(c.muG, c.muF);
  const constants: SaddleBoundConstants = { weightFloor: floor, hessianLipschitz: 2 * c.cG, dualHessianLipschitz: 2 * c.cF, lossLipschitz: 1 / floor, operatorDerivativeNorm: 1 };
  const certs = certifySaddle({ x: fwd.x, z: fwd.z, rp: fwd.last.rp, rd: fwd.last.rd, X: al.X, Y: al.Y, ra: al.ra, rb: al.rb, lossGrad }, constants, true);
  const zs = grad.K.arraySync() as number[][][];
  tf.dispose([value, grad.K]);
  return zs.map((z, s) => {
    const tr = truth(c, q.Ks[s], q.bs[s], q.ds[s], q.ts[s]);
    return certs[s].bound / nrm(z.flat().map((v, i) => v - tr.grad[i]));
  });
}
