import { it, expect, describe } from 'vitest';
import { lusolve } from 'mathjs';
import { luFactor } from '../src/index.js';
import { solveSmall } from '../src/internal/dense.js';

/** A seeded LCG in [-1, 1): the matrices need no tensors. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (1664525 * s + 1013904223) >>> 0) / 2 ** 31) - 1;
}

describe('luFactor (hand-written partial-pivoting LU; mathjs as the reference)', () => {
  it('matches mathjs lusolve on random systems, n = 1..20, to 1e-10 relative', () => {
    const r = rng(7);
    for (let n = 1; n <= 20; n++) {
      const A = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => r() + (i === j ? 2 : 0)));
      const b = Array.from({ length: n }, () => r());
      const x = luFactor(A)!.solve(b);
      const ref = (lusolve(A, b) as number[][]).map((row) => row[0]);
      // float64 on diagonally weighted random matrices (κ ≲ 1e3): 1e-10 leaves margin.
      const err = Math.max(...x.map((v, i) => Math.abs(v - ref[i]))) / Math.max(...ref.map(Math.abs));
      expect(err).toBeLessThan(1e-10);
    }
  });

  it('pivots (a zero leading entry), reports singular and non-finite matrices, leaves its input alone', () => {
    const A = [[0, 1], [1, 0]];
    expect(luFactor(A)!.solve([2, 3])).toEqual([3, 2]);
    expect(A).toEqual([[0, 1], [1, 0]]);
    expect(luFactor([[1, 2], [2, 4]])).toBeUndefined();
    expect(luFactor([[NaN, 0], [0, 1]])).toBeUndefined();
    expect(luFactor([[0, 0], [0, 0]])).toBeUndefined();
    // Anderson's solve rejects only exact zero pivots (as mathjs's lusolve did) and non-finite results.
    expect(solveSmall([[1, 1], [1, 1 + 1e-15]], [1, 1])).not.toBeNull();
    expect(solveSmall([[1, 1], [1, 1]], [1, 1])).toBeNull();
  });
});
