// The interpolating quadratic model m_k of the derivative-free method (Ehrhardt & Roberts,
// "Inexact derivative-free optimization for bilevel learning", J. Math. Imaging Vision 2021,
// model (26)), built as Powell's minimum-change interpolant (NEWUOA), and its Lagrange functions.
import { luFactor, dot, matvec } from '../linalg.js';

export interface Model {
  g: number[];
  h: number[][];
  /** Solves with the KKT matrix: Lagrange functions ℓ_j(u) = (K⁻¹ w(u))_j. */
  solve(b: number[]): number[];
  /** Scaled displacements u_j = (y_j − θ_k)/Δ. */
  u: number[][];
}

/**
 * Minimum-change quadratic interpolation (Powell): min ‖H − H_old‖_F subject to
 * m(y_j) = F̃(y_j), via the KKT system [A X; Xᵀ 0] in scaled coordinates u = (y − θ_k)/Δ,
 * A_ij = (u_iᵀu_j)²/2, X_j = (1, u_jᵀ). Undefined when the set is degenerate.
 */
export function buildModel(points: number[][], values: number[], base: number, radius: number, hOld: number[][]): Model | undefined {
  const npt = points.length;
  const n = points[0].length;
  const x0 = points[base];
  const u = points.map((p) => p.map((v, i) => (v - x0[i]) / radius));
  const size = npt + n + 1;
  const k: number[][] = Array.from({ length: size }, () => new Array(size).fill(0) as number[]);
  for (let i = 0; i < npt; i++) {
    for (let j = 0; j < npt; j++) k[i][j] = 0.5 * dot(u[i], u[j]) ** 2;
    k[i][npt] = k[npt][i] = 1;
    for (let d = 0; d < n; d++) k[i][npt + 1 + d] = k[npt + 1 + d][i] = u[i][d];
  }
  const lu = luFactor(k);
  if (lu == null) return undefined;
  const rhs = new Array(size).fill(0) as number[];
  for (let j = 0; j < npt; j++) {
    const s = points[j].map((v, i) => v - x0[i]);
    rhs[j] = values[j] - values[base] - 0.5 * dot(s, matvec(hOld, s));
  }
  const sol = lu.solve(rhs);
  if (!sol.every(Number.isFinite)) return undefined;
  const g = sol.slice(npt + 1).map((v) => v / radius);
  const h = hOld.map((row, a) => row.map((v, b) => v + u.reduce((acc, uj, j) => acc + sol[j] * uj[a] * uj[b], 0) / (radius * radius)));
  return { g, h, solve: lu.solve, u };
}

/** Values of all Lagrange functions at θ_k + s. */
export function lagrange(model: Model, s: number[], radius: number): number[] {
  const npt = model.u.length;
  const u = s.map((v) => v / radius);
  const w = [...model.u.map((uj) => 0.5 * dot(uj, u) ** 2), 1, ...u];
  return model.solve(w).slice(0, npt);
}

/** ∇ℓ_j, the gradient of the j-th Lagrange function at θ_k (in scaled coordinates u). */
export function lagrangeGradient(model: Model, j: number, n: number): number[] {
  const npt = model.u.length;
  const unit = new Array(npt).fill(0) as number[];
  unit[j] = 1;
  return model.solve([...unit, ...new Array(n + 1).fill(0)]).slice(npt + 1);
}
