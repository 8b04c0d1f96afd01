// Geometry of the interpolation set (Conn, Scheinberg & Vicente's poisedness, as used by
// Ehrhardt & Roberts, "Inexact derivative-free optimization for bilevel learning", J. Math.
// Imaging Vision 2021, Algorithm 1 lines 1 and 12): the initial set, the test for points that
// lie too far away, the geometry-improving replacement and the choice of the point a trial leaves.
import type { DfoOptions } from '../../dfo-options.js';
import { normInf } from '../linalg.js';
import { buildModel, lagrange, lagrangeGradient, type Model } from './model.js';
import { clip, type Box } from './layout.js';
import type { Sampler, WorkingSet } from './accuracy.js';

/** θ₀ ± Δeᵢ (one-sided near the box), then θ₀ + Δ(σᵢeᵢ + σⱼeⱼ) pairs (BOBYQA's initial set). */
export function initialPoints(x0: number[], radius: number, npt: number, box: Box): number[][] {
  const { lower, upper } = box;
  const n = x0.length;
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < n; i++) {
    if (x0[i] + radius <= upper[i]) {
      first.push(radius);
      second.push(x0[i] - radius >= lower[i] ? -radius : Math.min(2 * radius, upper[i] - x0[i]));
    } else {
      first.push(-radius);
      second.push(-Math.min(2 * radius, x0[i] - lower[i]));
    }
  }
  const pts: number[][] = [x0.slice()];
  const along = (i: number, d: number) => x0.map((v, j) => (j === i ? v + d : v));
  for (let i = 0; i < n && pts.length < npt; i++) pts.push(along(i, first[i]));
  for (let i = 0; i < n && pts.length < npt; i++) pts.push(along(i, second[i]));
  for (let i = 0; i < n && pts.length < npt; i++) {
    for (let j = i + 1; j < n && pts.length < npt; j++) pts.push(x0.map((v, k) => (k === i ? v + first[i] : k === j ? v + first[j] : v)));
  }
  return pts.map((p) => clip(p, box));
}

/** ‖y_j − centre‖∞ for every point of the set. */
export const distances = (w: WorkingSet, centre: number[]): number[] => w.points.map((p) => normInf(p.map((v, i) => v - centre[i])));

/** True when a point lies farther than geometryFactor·Δ from θ_k (the model is then not trusted to be fully linear). */
export const geometryBad = (w: WorkingSet, opts: Readonly<DfoOptions>): boolean => Math.max(...distances(w, w.points[w.base])) > opts.geometryFactor * w.radius;

/** Replaces the farthest point by the candidate that maximises its Lagrange function |ℓ_j| (Δ kept). */
export function improveGeometry(w: WorkingSet, box: Box, sample: Sampler): void {
  const m = buildModel(w.points, w.values, w.base, w.radius, w.hessian);
  if (m == null) return;
  const x0 = w.points[w.base];
  const radius = w.radius;
  const d = distances(w, x0);
  let j = -1;
  for (let i = 0; i < d.length; i++) if (i !== w.base && (j < 0 || d[i] > d[j])) j = i;
  if (j < 0) return;
  // Candidates: corners along ±sign(∇ℓ_j) and ±Δeᵢ; keep the largest |ℓ_j|.
  const gl = lagrangeGradient(m, j, x0.length);
  const cands: number[][] = [gl.map((v) => (v >= 0 ? radius : -radius)), gl.map((v) => (v >= 0 ? -radius : radius))];
  for (let i = 0; i < x0.length; i++) for (const sign of [1, -1]) cands.push(x0.map((_, k) => (k === i ? sign * radius : 0)));
  let best: number[] | undefined;
  let bestValue = -1;
  for (const c of cands) {
    const y = clip(x0.map((v, i) => v + c[i]), box);
    const step = y.map((v, i) => v - x0[i]);
    if (normInf(step) === 0) continue;
    const l = Math.abs(lagrange(m, step, radius)[j]);
    if (l > bestValue) {
      bestValue = l;
      best = y;
    }
  }
  if (best != null) sample.store(j, best, w.tol);
}

/** The point a trial θ_k + s replaces: the largest distance-weighted Lagrange value |ℓ_j(s)|·max(1, (‖y_j − c‖∞/Δ)⁴). */
export function replacementIndex(w: WorkingSet, model: Model, s: number[], centre: number[]): number {
  const lag = lagrange(model, s, w.radius);
  const dist = distances(w, centre);
  let drop = -1;
  let weight = -1;
  for (let j = 0; j < w.points.length; j++) {
    if (j === w.base) continue;
    const v = Math.abs(lag[j]) * Math.max(1, (dist[j] / w.radius) ** 4);
    if (v > weight) {
      weight = v;
      drop = j;
    }
  }
  return drop;
}

/** Starts the set afresh around θ_k (kept with its value), resetting the model Hessian. */
export function resampleAround(w: WorkingSet, npt: number, box: Box, sample: Sampler): void {
  const fresh = initialPoints(w.points[w.base], w.radius, npt, box);
  const keep = { x: w.points[w.base], v: w.values[w.base], t: w.tols[w.base], b: w.valueBounds[w.base] };
  w.points.length = w.values.length = w.tols.length = w.valueBounds.length = 0;
  w.points.push(keep.x);
  w.values.push(keep.v);
  w.tols.push(keep.t);
  w.valueBounds.push(keep.b);
  for (let j = 1; j < fresh.length; j++) sample.store(j, fresh[j], w.tol);
  w.base = 0;
  w.hessian = w.hessian.map((r) => r.map(() => 0));
}
