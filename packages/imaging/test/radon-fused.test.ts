// The Radon transform's two routes (operators/radon.ts): on wasm one pass over the compressed tables
// (internal/radon-simd.ts), elsewhere the padded gather. Both against a float64 evaluation of the same
// float32 weights (internal/radon-tables.ts), against each other across backends, with NaN / inf,
// batches, determinism, second-order autodiff and no tensors left.
import { it, expect } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';
import { adjointError, norm } from './helpers.js';
import { radon } from '../src/index.js';
import { rayTables, type RayTables } from '../src/internal/radon-tables.js';

const U = 2 ** -24; // float32 unit round-off
const D = 2 ** -53; // float64 unit round-off

/** Per row of a compressed table: Σ w x in float64 (exact products of the float32 factors) and Σ |w x|. */
function reference(start: Int32Array, index: Int32Array, weight: Float32Array, x: Float32Array, columns: number, batch: number) {
  const rows = start.length - 1;
  const value = new Float64Array(batch * rows);
  const magnitude = new Float64Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      let m = 0;
      for (let k = start[r]; k < start[r + 1]; k++) {
        const p = weight[k] * x[b * columns + index[k]];
        s += p;
        m += Math.abs(p);
      }
      value[b * rows + r] = s;
      magnitude[b * rows + r] = m;
    }
  }
  return { value, magnitude };
}

/**
 * The largest error of `got` over its bound. Fused pass (float64 sums of exact products, rounded once):
 * |got − ref| ≤ u|ref| + (m + 1)·u₆₄·Σ|wx|, m the row's entries. Gather route (float32 products and
 * sums over the padded row of `width`, any order): |got − ref| ≤ (width + 1)·u·Σ|wx| / (1 − (width + 1)·u)
 * (Higham, "Accuracy and Stability of Numerical Algorithms", 2002, eq. (3.5)).
 */
function worstOverBound(got: Float32Array, start: Int32Array, ref: { value: Float64Array; magnitude: Float64Array }, fused: boolean, width: number): number {
  const rows = start.length - 1;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const r = i % rows;
    const m = start[r + 1] - start[r];
    const gamma = ((width + 1) * U) / (1 - (width + 1) * U);
    const bound = fused ? U * Math.abs(ref.value[i]) + (m + 1) * D * ref.magnitude[i] : gamma * ref.magnitude[i];
    const err = Math.abs(got[i] - ref.value[i]);
    worst = Math.max(worst, bound > 0 ? err / bound : err > 0 ? Infinity : 0);
  }
  return worst;
}

function geometry(n: number, angles: number): RayTables {
  const a = Array.from({ length: angles }, (_, k) => (k * Math.PI) / angles);
  return rayTables(n, a, 2 * Math.ceil((n * Math.SQRT2) / 2) + 1, 1, 0.5);
}

describeEachBackend('radon: fused pass and gather route', (backend) => {
  const fused = backend === 'wasm';

  it('A x and Aᵀ y within the float32 bound of a float64 evaluation (batch 5), the adjoint identity, and no tensors left', () => {
    const before = tf.memory().numTensors;
    const n = 40;
    const A = radon(n); // 60 angles, 59 detectors
    const t = geometry(n, 60);
    const x = randn([5, n, n, 1], 11);
    const y = randn([5, ...A.outShape], 12);
    const ax = A.apply(x);
    const aty = A.adjoint(y);
    expect(ax.shape).toEqual([5, 60, A.detectors, 1]);
    expect(aty.shape).toEqual([5, n, n, 1]);
    const forward = worstOverBound(ax.dataSync() as Float32Array, t.rayStart, reference(t.rayStart, t.rayPixels, t.rayWeights, x.dataSync() as Float32Array, n * n, 5), fused, t.rayWidth);
    const backward = worstOverBound(aty.dataSync() as Float32Array, t.pixelStart, reference(t.pixelStart, t.pixelRays, t.pixelWeights, y.dataSync() as Float32Array, 60 * A.detectors, 5), fused, t.pixelWidth);
    console.log(`[${backend}] radon(40) batch 5: worst error / bound A ${forward.toFixed(3)}, Aᵀ ${backward.toFixed(3)} (${fused ? 'fused' : 'gather'})`);
    expect(forward).toBeLessThanOrEqual(1);
    expect(backward).toBeLessThanOrEqual(1);
    // ⟨Ax, y⟩ = ⟨x, Aᵀy⟩: both directions read the same float32 weights, so only summation round-off remains
    const err = adjointError((v) => A.apply(v), (v) => A.adjoint(v), x, y);
    console.log(`[${backend}] radon(40) adjoint mismatch ${err.toExponential(2)}`);
    expect(err).toBeLessThan(fused ? 1e-7 : 1e-5);
    tf.dispose([x, y, ax, aty]);
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is deterministic, and an image gives the same bits alone and at any place in a batch', () => {
    const before = tf.memory().numTensors;
    const A = radon(24, { angles: 13 });
    const x = randn([6, 24, 24, 1], 21);
    const y = randn([6, ...A.outShape], 22);
    const first = tf.tidy(() => [A.apply(x), A.adjoint(y)].map((r) => r.dataSync().slice()));
    const again = [A.apply(x), A.adjoint(y)];
    expect(Array.from(again[0].dataSync())).toEqual(Array.from(first[0]));
    expect(Array.from(again[1].dataSync())).toEqual(Array.from(first[1]));
    for (const i of [0, 3, 4, 5]) {
      const alone = tf.tidy(() => [A.apply(tf.slice(x, [i], [1])), A.adjoint(tf.slice(y, [i], [1]))].map((r) => r.dataSync().slice()));
      const rays = 13 * A.detectors;
      expect(Array.from(alone[0])).toEqual(Array.from(first[0].subarray(i * rays, (i + 1) * rays)));
      expect(Array.from(alone[1])).toEqual(Array.from(first[1].subarray(i * 576, (i + 1) * 576)));
    }
    tf.dispose([x, y, ...again]);
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('propagates NaN and ±inf exactly to the rays (pixels) whose rows hold them', () => {
    const before = tf.memory().numTensors;
    const n = 24;
    const A = radon(n, { angles: 13 });
    const t = geometry(n, 13);
    const rays = 13 * A.detectors;
    const xs = new Float32Array(n * n).fill(0.5);
    xs[5 * n + 7] = NaN;
    xs[12 * n + 12] = Infinity;
    xs[20 * n + 3] = -Infinity;
    const ys = new Float32Array(rays).fill(-0.25);
    ys[100] = NaN;
    ys[3 * A.detectors + 17] = Infinity;
    const check = (got: Float32Array, start: Int32Array, index: Int32Array, v: Float32Array) => {
      let special = 0;
      for (let r = 0; r < start.length - 1; r++) {
        let expected = 0;
        for (let k = start[r]; k < start[r + 1]; k++) expected += v[index[k]]; // weights > 0: the signs carry over
        if (!Number.isFinite(expected)) special++;
        if (Number.isNaN(expected)) expect(got[r]).toBeNaN();
        else if (!Number.isFinite(expected)) expect(got[r]).toBe(expected);
        else expect(Number.isFinite(got[r])).toBe(true);
      }
      return special;
    };
    const x = tf.tensor4d(xs, [1, n, n, 1]);
    const y = tf.tensor(ys, [1, ...A.outShape]);
    const ax = A.apply(x);
    const aty = A.adjoint(y);
    const raysHit = check(ax.dataSync() as Float32Array, t.rayStart, t.rayPixels, xs);
    const pixelsHit = check(aty.dataSync() as Float32Array, t.pixelStart, t.pixelRays, ys);
    expect(raysHit).toBeGreaterThan(13); // every angle sees each of the three pixels
    expect(pixelsHit).toBeGreaterThan(20); // each ray crosses the image
    tf.dispose([x, y, ax, aty]);
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('differentiates to second order: ∇ₓ⟨∇ₓ ½‖Ax‖², v⟩ = AᵀA v, under tape (customGrad), no tensors left', () => {
    const before = tf.memory().numTensors;
    const A = radon(24, { angles: 13 });
    const x = randn([2, 24, 24, 1], 31);
    const v = randn([2, 24, 24, 1], 32);
    const f = (u: tf.Tensor) => tf.mul(0.5, tf.sum(tf.square(A.apply(u))));
    const first = tf.grad(f);
    const second = tf.grad((u: tf.Tensor) => tf.sum(tf.mul(first(u), v)));
    const g1 = first(x);
    const g2 = second(x);
    const [atax, atav] = tf.tidy(() => [A.adjoint(A.apply(x)), A.adjoint(A.apply(v))]);
    const [d1, d2] = tf.tidy(() => [tf.sub(g1, atax), tf.sub(g2, atav)]);
    // the same passes in the same order: the taped result is the untaped one to float32 rounding of ½·2
    expect(norm(d1) / norm(atax)).toBeLessThan(1e-6);
    expect(norm(d2) / norm(atav)).toBeLessThan(1e-6);
    tf.dispose([x, v, g1, g2, atax, atav, d1, d2]);
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the other route on the other backend agrees within the sum of the two bounds (tables moved between backends)', async () => {
    const other = backend === 'wasm' ? 'cpu' : 'wasm';
    const before = tf.memory().numTensors;
    const n = 24;
    const A = radon(n, { angles: 13 });
    const t = geometry(n, 13);
    const [xs, ys] = tf.tidy(() => [randn([3, n, n, 1], 41), randn([3, ...A.outShape], 42)].map((r) => r.dataSync().slice() as Float32Array));
    const run = () => tf.tidy(() => [A.apply(tf.tensor4d(xs, [3, n, n, 1])), A.adjoint(tf.tensor(ys, [3, ...A.outShape]))].map((r) => r.dataSync().slice() as Float32Array));
    const here = run();
    await tf.setBackend(other);
    try {
      const there = run();
      const rays = 13 * A.detectors;
      const refA = reference(t.rayStart, t.rayPixels, t.rayWeights, xs, n * n, 3);
      const refT = reference(t.pixelStart, t.pixelRays, t.pixelWeights, ys, rays, 3);
      const pairs: Array<[Float32Array, Float32Array, Int32Array, { value: Float64Array; magnitude: Float64Array }, number]> = [
        [here[0], there[0], t.rayStart, refA, t.rayWidth],
        [here[1], there[1], t.pixelStart, refT, t.pixelWidth],
      ];
      for (const [a, b, start, ref, width] of pairs) {
        const rows = start.length - 1;
        let worst = 0;
        for (let i = 0; i < a.length; i++) {
          const m = start[(i % rows) + 1] - start[i % rows];
          const bound = U * Math.abs(ref.value[i]) + (m + 1) * D * ref.magnitude[i] + (((width + 1) * U) / (1 - (width + 1) * U)) * ref.magnitude[i];
          const diff = Math.abs(a[i] - b[i]);
          worst = Math.max(worst, bound > 0 ? diff / bound : diff > 0 ? Infinity : 0);
        }
        console.log(`${backend} vs ${other}: worst difference / bound ${worst.toFixed(3)}`);
        expect(worst).toBeLessThanOrEqual(1);
      }
    } finally {
      await tf.setBackend(backend);
    }
    A.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
