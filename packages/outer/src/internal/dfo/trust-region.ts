// The trust-region step and radius update of the derivative-free method (Ehrhardt & Roberts,
// "Inexact derivative-free optimization for bilevel learning", J. Math. Imaging Vision 2021,
// subproblem (27) and updates (33)–(34) of Algorithm 1; the safety step is Powell's BOBYQA's).
import type { DfoOptions } from '../../dfo-options.js';
import { dot, normInf, quadraticChange } from '../linalg.js';

/** Steps shorter than this fraction of Δ are not evaluated (safety step). */
export const SHORT_STEP = 0.5;

/** argmin gᵀs + ½sᵀHs over lo ≤ s ≤ hi by projected gradient with Armijo backtracking. */
export function trustRegionStep(g: number[], h: number[][], lo: number[], hi: number[], radius: number): number[] {
  const n = g.length;
  const hNorm = Math.sqrt(h.reduce((acc, row) => acc + dot(row, row), 0));
  const gInf = normInf(g);
  // 1/‖H‖_F ≤ 1/L is a safe step; a linear model goes straight to a corner of the box.
  const step0 = hNorm > 0 ? 1 / hNorm : gInf > 0 ? (4 * radius) / gInf : 0;
  let s = new Array(n).fill(0) as number[];
  let m = 0;
  for (let it = 0; it < 1000 * n; it++) {
    const grad = g.map((v, i) => v + dot(h[i], s));
    let t = step0;
    let accepted: number[] | undefined;
    for (let b = 0; b < 60; b++) {
      const trial = s.map((v, i) => Math.min(hi[i], Math.max(lo[i], v - t * grad[i])));
      const change = trial.map((v, i) => v - s[i]);
      if (normInf(change) <= 1e-12 * radius) break;
      if (quadraticChange(g, h, trial) <= m + 1e-4 * dot(grad, change)) {
        accepted = trial;
        break;
      }
      t /= 2;
    }
    if (accepted == null) break;
    const moved = normInf(accepted.map((v, i) => v - s[i]));
    s = accepted;
    m = quadraticChange(g, h, s);
    if (moved <= 1e-10 * radius) break;
  }
  return s;
}

/** Step bounds lo ≤ s ≤ hi: the ∞-norm ball of radius Δ intersected with the box shifted to θ_k. */
export function stepBounds(x0: number[], radius: number, lower: number[], upper: number[]): { lo: number[]; hi: number[] } {
  return { lo: x0.map((v, i) => Math.max(-radius, lower[i] - v)), hi: x0.map((v, i) => Math.min(radius, upper[i] - v)) };
}

/** Δ after an accepted step with ratio ρ: grown when ρ ≥ η₂ (capped by Δ_max), else max(γ_dec Δ, ‖s‖∞). */
export function acceptedRadius(opts: Readonly<DfoOptions>, rho: number, radius: number, stepLength: number): number {
  return rho >= opts.expandRatio ? Math.min(opts.maxRadius, Math.max(radius, opts.radiusGrow * stepLength)) : Math.max(opts.radiusShrink * radius, stepLength);
}
