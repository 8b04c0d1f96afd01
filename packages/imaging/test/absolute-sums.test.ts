import { it, expect } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend } from '@bilevel/testing/vitest';
import { radon, finiteDifference, convolution, convolutionAbsoluteSums, scaledOperator } from '../src/index.js';
import { conv } from '../src/internal/convex-network.js';

/** The dense matrix of a linear map on [1, ...inShape] by unit vectors (small sizes only). */
function dense(apply: (x: tf.Tensor) => tf.Tensor, inShape: number[]): number[][] {
  const n = inShape.reduce((a, b) => a * b, 1);
  const cols: number[][] = [];
  for (let j = 0; j < n; j++) {
    const e = new Float32Array(n);
    e[j] = 1;
    const y = tf.tidy(() => apply(tf.tensor(e, [1, ...inShape])).dataSync());
    cols.push(Array.from(y));
  }
  return cols[0].map((_, i) => cols.map((c) => c[i]));
}

/** Σ_j |A_ij|^α and Σ_i |A_ij|^{2−α} over the non-zero entries, in float64. */
function sums(A: number[][], alpha: number): { rows: number[]; columns: number[] } {
  const pw = (v: number, p: number) => (v !== 0 ? Math.pow(Math.abs(v), p) : 0);
  return {
    rows: A.map((r) => r.reduce((s, v) => s + pw(v, alpha), 0)),
    columns: A[0].map((_, j) => A.reduce((s, r) => s + pw(r[j], 2 - alpha), 0)),
  };
}

describeEachBackend('absoluteSums of the operators (Pock & Chambolle diagonal steps)', () => {
  it('radon, finite differences, convolution, convolutionAbsoluteSums and scaledOperator (Â = sA) match the dense |A| row/column power sums for α = 0, 0.7, 1, 2', () => {
    const before = tf.memory().numTensors;
    const R = radon(6, { angles: 4 });
    const D = finiteDifference();
    const k = tf.tensor2d([[0.2, -0.5, 0.1], [0.7, 1, -0.3], [0, 0.4, -0.2]]);
    const C = convolution(k);
    const filters = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 11);
    const cases: Array<{ name: string; apply: (x: tf.Tensor) => tf.Tensor; inShape: number[]; sums: (a: number) => { rows: tf.Tensor; columns: tf.Tensor } }> = [
      { name: 'radon', apply: (x) => R.apply(x), inShape: [6, 6, 1], sums: (a) => R.absoluteSums!(a) },
      { name: 'finite difference', apply: (x) => D.apply(x), inShape: [4, 5, 1], sums: (a) => D.absoluteSums!(a, [4, 5, 1]) },
      { name: 'convolution', apply: (x) => C.apply(x), inShape: [4, 5, 1], sums: (a) => C.absoluteSums!(a, [4, 5, 1]) },
      // |sA|^p = |s|^p |A|^p: a negative, non-power-of-two s; the difference operator takes inShape through it
      { name: 'radon scaled by −1/3.7', apply: (x) => scaledOperator(R, -1 / 3.7).apply(x), inShape: [6, 6, 1], sums: (a) => scaledOperator(R, -1 / 3.7).absoluteSums!(a) },
      { name: 'finite difference scaled by 2.5', apply: (x) => scaledOperator(D, 2.5).apply(x), inShape: [4, 5, 1], sums: (a) => scaledOperator(D, 2.5).absoluteSums!(a, [4, 5, 1]) },
      { name: 'conv 2→3 channels', apply: (x) => conv(x, filters), inShape: [4, 5, 2], sums: (a) => { const s = convolutionAbsoluteSums(filters, a, 4, 5); return s; } },
    ];
    for (const c of cases) {
      const A = dense(c.apply, c.inShape);
      for (const alpha of [0, 0.7, 1, 2]) {
        const want = sums(A, alpha);
        const got = c.sums(alpha);
        const rows = Array.from(got.rows.dataSync());
        const columns = Array.from(got.columns.dataSync());
        expect(got.columns.shape.slice(1)).toEqual(c.inShape);
        expect(rows.length).toBe(want.rows.length);
        // float32 sums of ≤ 50 terms of size ≤ ~3: 1e-5 relative
        for (let i = 0; i < rows.length; i++) expect(Math.abs(rows[i] - want.rows[i])).toBeLessThanOrEqual(1e-5 * (1 + want.rows[i]));
        for (let j = 0; j < columns.length; j++) expect(Math.abs(columns[j] - want.columns[j])).toBeLessThanOrEqual(1e-5 * (1 + want.columns[j]));
        tf.dispose([got.rows, got.columns]);
      }
    }
    expect(() => R.absoluteSums!(2.5)).toThrow(/radon.absoluteSums: 'alpha' must lie in \[0, 2\]/);
    expect(() => D.absoluteSums!(1)).toThrow(/pass the image shape 'inShape'/);
    expect(() => scaledOperator(R, 2).absoluteSums!(-1)).toThrow(/scaledOperator.absoluteSums: 'alpha' must lie in \[0, 2\]/);
    expect(scaledOperator(R, -0.5).normBound).toBeCloseTo(0.5 * R.normBound!, 5);
    expect(scaledOperator(R, 0.5, { normBound: 1 }).normBound).toBe(1);
    expect(scaledOperator(finiteDifference(), 2).absoluteSums).toBeDefined();
    expect(scaledOperator({ ...R, absoluteSums: undefined }, 2).absoluteSums).toBeUndefined();
    expect(() => scaledOperator(R, 0)).toThrow(/scaledOperator: 'factor' must be a finite non-zero number/);
    expect(() => scaledOperator(R, 2, { normBund: 1 } as never)).toThrow(/scaledOperator.*normBund.*normBound/);
    R.dispose();
    C.dispose();
    tf.dispose([k, filters]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
