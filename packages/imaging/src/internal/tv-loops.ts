/**
 * The per-pixel loops of the fused TV kernels (tv-kernels.ts): smoothed and Huber total
 * variation `R(x) = α Σ φ(|∇x|²)` on `[b, h, w, 1]` images with the forward differences of
 * `gradient2d` (channel 0 vertical `x[i+1, j] − x[i, j]`, 0 on the last row; channel 1
 * horizontal, 0 on the last column), each derivative in one pass over the pixels:
 *
 *   gradient  ∇R = ∇ᵀp,  p = α g/s  (s = √(|g|² + ν²), Huber m = max(|g|, ν));
 *   Hessian   ∇²R v = ∇ᵀ(M ∇v), the symmetric 2×2 M = α (s² I − g gᵀ)/s³ per pixel
 *             (Huber: α (m² I − g gᵀ)/m³ where |g| > ν, α I/ν elsewhere), cached once per x;
 *   mixed     ∂/∂log α ⟨∇R, v⟩ = α Σ ⟨g, ∇v⟩/s,  ∂/∂log ν ⟨∇R, v⟩ = −α ν² Σ ⟨g, ∇v⟩/s³.
 *
 * The adjoint `(∇ᵀp)[i, j] = p₀[i−1, j] − p₀[i, j] + p₁[i, j−1] − p₁[i, j]` is formed in the
 * same pass, with the previous row's p₀ in a row buffer. Arithmetic is float64 (results
 * stored as float32; sums over pixels accumulate in float64), and M's entries are formed
 * without the cancellation of `α/s − α g₀²/s³`: `α (g₁² + ν²)/s³`.
 *
 * @packageDocumentation
 */

/** What the loops need besides the arrays: the image shape, α, ν and the kind. */
export interface TVLoopConstants {
  b: number;
  h: number;
  w: number;
  alpha: number;
  nu: number;
  huber: boolean;
}

/** Rows of a float64 row buffer, reused across calls (one per width seen, at most a few). */
let rowBuffer = new Float64Array(0);
function row(w: number): Float64Array {
  if (rowBuffer.length < w) rowBuffer = new Float64Array(w);
  rowBuffer.fill(0, 0, w);
  return rowBuffer;
}

/**
 * `out = ∇R(x)` (when out is given); returns `R(x)` (the value costs one square root per pixel).
 *
 * @param x - the image `[b, h, w, 1]`, flat.
 * @param out - the gradient, flat like x, or null for the value alone.
 * @param k - shape and constants.
 * @param withValue - whether to sum the value too (else 0 is returned unless out is null).
 * @returns `R(x) = α Σ φ`.
 */
export function tvGradientLoop(x: Float32Array, out: Float32Array | null, k: TVLoopConstants, withValue = true): number {
  const { b, h, w, alpha, nu, huber } = k;
  const nu2 = nu * nu;
  const prev = row(w);
  const valued = withValue || out == null;
  let value = 0;
  for (let n = 0; n < b; n++) {
    prev.fill(0, 0, w);
    for (let i = 0; i < h; i++) {
      const start = (n * h + i) * w;
      // x[at + down] − x[at] is 0 on the last row
      const down = i === h - 1 ? 0 : w;
      let left = 0;
      for (let j = 0; j < w; j++) {
        const at = start + j;
        const xk = x[at];
        const g0 = x[at + down] - xk;
        const g1 = j === w - 1 ? 0 : x[at + 1] - xk;
        const n2 = g0 * g0 + g1 * g1;
        let c: number;
        if (huber) {
          const m = Math.sqrt(n2 > nu2 ? n2 : nu2);
          c = alpha / m;
          if (valued) value += (n2 < nu2 ? n2 : nu2) / (2 * nu) + m - nu;
        } else {
          const s = Math.sqrt(n2 + nu2);
          c = alpha / s;
          if (valued) value += s;
        }
        if (out == null) continue;
        const p0 = c * g0;
        const p1 = c * g1;
        out[at] = prev[j] - p0 + left - p1;
        prev[j] = p0;
        left = p1;
      }
    }
  }
  return alpha * value;
}

/**
 * The per-pixel Hessian blocks of R at x in three planes: `cache[pixel + c·n] = (M₀₀, M₀₁, M₁₁)[c]`,
 * n = b·h·w (planes, so that the SIMD loops of tv-simd.wat load 4 pixels of one entry at once).
 *
 * @param x - the image, flat.
 * @param cache - `[3, b, h, w, 1]`, flat.
 * @param k - shape and constants.
 */
export function tvHessianLoop(x: Float32Array, cache: Float32Array, k: TVLoopConstants): void {
  const { b, h, w, alpha, nu, huber } = k;
  const nu2 = nu * nu;
  const size = b * h * w;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h; i++) {
      const start = (n * h + i) * w;
      const down = i === h - 1 ? 0 : w;
      for (let j = 0; j < w; j++) {
        const at = start + j;
        const xk = x[at];
        const g0 = x[at + down] - xk;
        const g1 = j === w - 1 ? 0 : x[at + 1] - xk;
        const a0 = g0 * g0;
        const a1 = g1 * g1;
        let m00: number;
        let m01: number;
        let m11: number;
        if (huber && a0 + a1 <= nu2) {
          // quadratic zone: φ = |g|²/(2ν), Hessian I/ν, no rank-one term
          m00 = alpha / nu;
          m01 = 0;
          m11 = m00;
        } else {
          // M = α (q I − g gᵀ)/q^{3/2}, q = |g|² + ν² (smoothed) or |g|² (Huber, |g| > ν)
          const extra = huber ? 0 : nu2;
          const q = a0 + a1 + extra;
          const c = alpha / (q * Math.sqrt(q));
          m00 = c * (a1 + extra);
          m01 = -c * g0 * g1;
          m11 = c * (a0 + extra);
        }
        cache[at] = m00;
        cache[size + at] = m01;
        cache[2 * size + at] = m11;
      }
    }
  }
}

/**
 * `out = ∇ᵀ(M ∇v)` with the blocks of {@link tvHessianLoop}.
 *
 * @param v - the direction, flat `[b, h, w, 1]`.
 * @param cache - the blocks `[3, b, h, w, 1]`.
 * @param out - the product, flat like v.
 * @param k - the shape (α, ν and the kind are in the cache).
 */
export function tvHessianApplyLoop(v: Float32Array, cache: Float32Array, out: Float32Array, k: TVLoopConstants): void {
  const { b, h, w } = k;
  const size = b * h * w;
  const prev = row(w);
  for (let n = 0; n < b; n++) {
    prev.fill(0, 0, w);
    for (let i = 0; i < h; i++) {
      const start = (n * h + i) * w;
      const down = i === h - 1 ? 0 : w;
      let left = 0;
      for (let j = 0; j < w; j++) {
        const at = start + j;
        const vk = v[at];
        const d0 = v[at + down] - vk;
        const d1 = j === w - 1 ? 0 : v[at + 1] - vk;
        const m01 = cache[size + at];
        // the last row's M₀₀ multiplies d0 = 0 and its M₀₁ is 0 (g₀ = 0): q₀ = 0 there, likewise q₁ on the last column
        const q0 = cache[at] * d0 + m01 * d1;
        const q1 = m01 * d0 + cache[2 * size + at] * d1;
        out[at] = prev[j] - q0 + left - q1;
        prev[j] = q0;
        left = q1;
      }
    }
  }
}

/**
 * The mixed product's entries: `[∂/∂log α ⟨∇R(x), v⟩, ∂/∂log ν ⟨∇R(x), v⟩]` (the second is
 * 0 for Huber TV, whose threshold is not a parameter).
 *
 * @param x - the image, flat.
 * @param v - the direction, flat.
 * @param k - shape and constants.
 * @returns both partial derivatives.
 */
export function tvMixedLoop(x: Float32Array, v: Float32Array, k: TVLoopConstants): [number, number] {
  const { b, h, w, alpha, nu, huber } = k;
  const nu2 = nu * nu;
  let first = 0;
  let third = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h; i++) {
      const start = (n * h + i) * w;
      const down = i === h - 1 ? 0 : w;
      for (let j = 0; j < w; j++) {
        const at = start + j;
        const lastColumn = j === w - 1;
        const g0 = x[at + down] - x[at];
        const g1 = lastColumn ? 0 : x[at + 1] - x[at];
        const d0 = v[at + down] - v[at];
        const d1 = lastColumn ? 0 : v[at + 1] - v[at];
        const along = g0 * d0 + g1 * d1;
        const n2 = g0 * g0 + g1 * g1;
        const q = huber ? (n2 > nu2 ? n2 : nu2) : n2 + nu2;
        const inverse = 1 / Math.sqrt(q);
        first += along * inverse;
        if (!huber) third += (along * inverse) / q;
      }
    }
  }
  return [alpha * first, huber ? 0 : -alpha * nu2 * third];
}

/**
 * The data term of a denoising energy `½‖x − y‖² + (ξ/2)‖x‖²`: adds its gradient
 * `(1 + ξ) x − y` to out (when out is given; y null adds `(1 + ξ) x`, the Hessian's part) and
 * returns its value (0 when y is null).
 *
 * @param out - the gradient (or Hessian product) so far, flat, or null for the value alone.
 * @param x - the point (or direction), flat.
 * @param y - the data, or null.
 * @param xi - ξ ≥ 0.
 * @returns `½‖x − y‖² + (ξ/2)‖x‖²` when y is given, else 0.
 */
export function dataTermLoop(out: Float32Array | null, x: Float32Array, y: Float32Array | null, xi: number): number {
  const scale = 1 + xi;
  if (y == null) {
    if (out != null) for (let i = 0; i < x.length; i++) out[i] += scale * x[i];
    return 0;
  }
  let value = 0;
  for (let i = 0; i < x.length; i++) {
    const xk = x[i];
    const r = xk - y[i];
    if (out != null) out[i] += scale * xk - y[i];
    value += r * r + xi * xk * xk;
  }
  return value / 2;
}
