import { tf } from '@bilevel/core';

/**
 * Row and column sums of |A|, the matrix of a linear operator with its entries' absolute values
 * raised to powers, as Pock & Chambolle (2011, "Diagonal preconditioning for first order primal-dual
 * algorithms in convex optimization", ICCV, Lemma 2) build their diagonal PDHG steps from, for α ∈ [0, 2]:
 * `rows[i] = Σ_j |A_ij|^α` (shaped `[1, ...outShape]`) and `columns[j] = Σ_i |A_ij|^{2−α}` (`[1, ...inShape]`).
 * Entries that are 0 count 0 for every power (also for α = 0 or 2, where 0⁰ would count 1).
 */
export interface AbsoluteSums {
  rows: tf.Tensor;
  columns: tf.Tensor;
}

/** |v|^p for v ≠ 0, 0 for v = 0 (the sparsity pattern of a matrix, not 0⁰ = 1). */
export function absolutePower(v: tf.Tensor, p: number): tf.Tensor {
  return tf.tidy(() => tf.where(tf.notEqual(v, 0), tf.pow(tf.abs(v), p), tf.zerosLike(v)));
}

/** Per row of a compressed sparse row table (row r: weights `start[r] … start[r + 1] − 1`): Σ |w|^p over its nonzero weights. */
export function tableAbsoluteSums(weights: Float32Array, start: Int32Array, p: number): Float32Array {
  const out = new Float32Array(start.length - 1);
  for (let r = 0; r < out.length; r++) {
    let s = 0;
    for (let k = start[r]; k < start[r + 1]; k++) {
      const w = Math.abs(weights[k]);
      if (w > 0) s += Math.pow(w, p);
    }
    out[r] = s;
  }
  return out;
}

/**
 * {@link AbsoluteSums} of the 'same'-padded (zero boundary) convolution `x ↦ tf.conv2d(x, filters)` on
 * `h × w` images: its matrix entries are filter taps (each at most once per row and column), so
 * `rows = conv2d(1, |F|^α)` and `columns = conv2dTranspose(1, |F|^{2−α})` exactly, the boundary included.
 *
 * @param filters - `[S, S, C_in, C_out]` (tf.conv2d layout).
 * @param alpha - Pock & Chambolle's α ∈ [0, 2].
 * @param h - image height.
 * @param w - image width.
 * @returns rows `[1, h, w, C_out]`, columns `[1, h, w, C_in]`.
 * @example
 * ```ts
 * const { rows, columns } = convolutionAbsoluteSums(filters, 1, 32, 32);
 * ```
 */
export function convolutionAbsoluteSums(filters: tf.Tensor, alpha: number, h: number, w: number): AbsoluteSums {
  if (!(filters instanceof tf.Tensor) || filters.rank !== 4) throw new Error(`convolutionAbsoluteSums: 'filters' must be a [S, S, C_in, C_out] tensor, got ${filters instanceof tf.Tensor ? `[${filters.shape}]` : typeof filters}.`);
  checkAlpha('convolutionAbsoluteSums', alpha);
  const [, , cin, cout] = filters.shape;
  return tf.tidy(() => ({
    rows: tf.conv2d(tf.ones([1, h, w, cin]) as tf.Tensor4D, absolutePower(filters, alpha) as tf.Tensor4D, 1, 'same'),
    columns: tf.conv2dTranspose(tf.ones([1, h, w, cout]) as tf.Tensor4D, absolutePower(filters, 2 - alpha) as tf.Tensor4D, [1, h, w, cin], 1, 'same'),
  }));
}

/**
 * {@link AbsoluteSums} of the forward-difference gradient `gradient2d` (Neumann boundary) on `h × w`
 * images: its entries are 0 or ±1, so the powers drop out; a row has 2 entries (0 on the last row /
 * column of its channel), a pixel's column up to 4.
 *
 * @param h - image height.
 * @param w - image width.
 * @returns rows `[1, h, w, 2]`, columns `[1, h, w, 1]`.
 * @example
 * ```ts
 * const { rows, columns } = gradientAbsoluteSums(32, 32); // rows ≤ 2, columns ≤ 4
 * ```
 */
export function gradientAbsoluteSums(h: number, w: number): AbsoluteSums {
  const rows = new Float32Array(h * w * 2);
  const columns = new Float32Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    const k = i * w + j;
    rows[2 * k] = i < h - 1 ? 2 : 0;
    rows[2 * k + 1] = j < w - 1 ? 2 : 0;
    // x[i, j] enters the vertical differences of rows i (if i < h − 1) and i − 1, the horizontal ones likewise
    columns[k] = (i < h - 1 ? 1 : 0) + (i > 0 ? 1 : 0) + (j < w - 1 ? 1 : 0) + (j > 0 ? 1 : 0);
  }
  return { rows: tf.tensor4d(rows, [1, h, w, 2]), columns: tf.tensor4d(columns, [1, h, w, 1]) };
}

/** Throws unless α ∈ [0, 2]. */
export function checkAlpha(where: string, alpha: number): void {
  if (!(alpha >= 0 && alpha <= 2)) throw new Error(`${where}: 'alpha' must lie in [0, 2] (Pock & Chambolle's α), got ${String(alpha)}.`);
}
