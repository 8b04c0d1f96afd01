import { it, expect } from 'vitest';
import { tf, lbfgs } from '@bilevel/core';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';
import { tgv, tgvImage, tgvProblem, symmetricGradient, smoothedTV, gradient2d } from '../src/index.js';

/** Float64 reference of the smoothed TGV² energy on one [h, w, 3] field (row-major values). */
function referenceTgv(z: Float32Array, b: number, h: number, w: number, alpha: number, beta: number, nu: number): number {
  const at = (n: number, i: number, j: number, c: number) => z[((n * h + i) * w + j) * 3 + c];
  // forward difference with Neumann boundary (0 on the last row / column)
  const dv = (n: number, i: number, j: number, c: number) => (i + 1 < h ? at(n, i + 1, j, c) - at(n, i, j, c) : 0);
  const dh = (n: number, i: number, j: number, c: number) => (j + 1 < w ? at(n, i, j + 1, c) - at(n, i, j, c) : 0);
  let first = 0;
  let second = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const gv = dv(n, i, j, 0) - at(n, i, j, 1);
        const gh = dh(n, i, j, 0) - at(n, i, j, 2);
        first += Math.sqrt(gv * gv + gh * gh + nu * nu);
        const e11 = dv(n, i, j, 1);
        const e22 = dh(n, i, j, 2);
        const e12 = 0.5 * (dh(n, i, j, 1) + dv(n, i, j, 2));
        second += Math.sqrt(e11 * e11 + e22 * e22 + 2 * e12 * e12 + nu * nu);
      }
    }
  }
  return alpha * (first + beta * second);
}

const scalarOf = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

describeEachBackend('TGV²', (backend) => {
  const n = backend === 'cpu' ? 6 : 10;

  it('energy equals a float64 reference computation', () => {
    const before = tf.memory().numTensors;
    const R = tgv({ nu: 0.05, alpha: 0.3, beta: 1.7 });
    const theta = R.init();
    const z = tf.tidy(() => tf.concat([tf.add(0.5, tf.mul(0.2, randn([2, n, n, 1], 1))), tf.mul(0.1, randn([2, n, n, 2], 2))], 3));
    const value = scalarOf(R.value(z, theta));
    const ref = referenceTgv(z.dataSync() as Float32Array, 2, n, n, 0.3, 1.7, 0.05);
    // float32 sum of 2·2·n² square roots, each with relative round-off ~1e-7: ≲ 1e-5 relative
    expect(Math.abs(value - ref) / ref).toBeLessThan(1e-5);
    tf.dispose([z, theta.logAlpha, theta.logBeta]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('w = 0 gives α·TV_ν(u) + αβνN; w = ∇u on an affine image makes the first term αν per pixel', () => {
    const before = tf.memory().numTensors;
    const [alpha, beta, nu] = [0.2, 3, 0.01];
    const R = tgv({ nu, alpha, beta });
    const theta = R.init();
    const u = tf.tidy(() => tf.add(0.5, tf.mul(0.2, randn([1, n, n, 1], 3))));
    const z0 = tf.tidy(() => tf.concat([u, tf.zeros([1, n, n, 2])], 3));
    const tv = smoothedTV({ nu, alpha });
    const thetaTv = tv.init();
    const expected = scalarOf(tv.value(u, thetaTv)) + alpha * beta * nu * n * n;
    // float32 sums of n² terms: relative round-off ≲ 1e-6
    expect(Math.abs(scalarOf(R.value(z0, theta)) - expected) / expected).toBeLessThan(1e-5);
    // affine u: ∇u is constant except on the Neumann boundary, so w = ∇u zeroes the first term's
    // gradients everywhere and E w vanishes away from the last two rows / columns
    const affine = tf.tidy(() => {
      const i = tf.range(0, n).reshape([1, n, 1, 1]);
      const j = tf.range(0, n).reshape([1, 1, n, 1]);
      return tf.add(tf.mul(0.03, i), tf.mul(-0.02, j));
    });
    const zAffine = tf.tidy(() => tf.concat([affine, gradient2d(affine)], 3));
    // β → 0 leaves the first term alone: exactly αν per pixel
    const firstOnly = tgv({ nu, alpha, beta: 1e-12 });
    const thetaFirst = firstOnly.init();
    const rAffine = scalarOf(firstOnly.value(zAffine, thetaFirst));
    expect(Math.abs(rAffine - alpha * nu * n * n) / (alpha * nu * n * n)).toBeLessThan(1e-5);
    const e = tf.tidy(() => symmetricGradient(gradient2d(affine)));
    const interior = scalarOf(tf.tidy(() => tf.max(tf.abs(tf.slice(e, [0, 0, 0, 0], [1, n - 2, n - 2, 3])))));
    expect(interior).toBeLessThan(1e-6); // exact zeros up to float32 differences of equal numbers
    tf.dispose([u, z0, affine, zAffine, e, theta.logAlpha, theta.logBeta, thetaTv.logAlpha, thetaFirst.logAlpha, thetaFirst.logBeta]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('denoising a piecewise-affine image: TGV² beats TV at each one’s best weight from a small grid', () => {
    const before = tf.memory().numTensors;
    const size = backend === 'cpu' ? 12 : 20;
    const clean = tf.tidy(() => {
      const i = tf.range(0, size).reshape([1, size, 1, 1]);
      const j = tf.range(0, size).reshape([1, 1, size, 1]);
      const ramp = tf.add(0.2, tf.mul(0.6 / size, tf.add(i, j)));
      const right = tf.cast(tf.greater(j, size / 2), 'float32'); // a vertical edge between two ramps
      return tf.add(tf.mul(right, ramp), tf.mul(tf.sub(1, right), tf.sub(1, ramp)));
    });
    const noisy = tf.tidy(() => tf.add(clean, tf.mul(0.05, randn(clean.shape, 9))));
    const errorOf = (x: tf.Tensor) => scalarOf(tf.tidy(() => tf.sum(tf.square(tf.sub(x, clean)))));
    let bestTv = Infinity;
    let bestTgv = Infinity;
    for (const alpha of [0.02, 0.05, 0.1]) {
      const tvBuilt = tgvProblem({ nu: 0.01, alpha, beta: 1e4 }); // huge β pins w ≈ 0: smoothed TV
      const tgvBuilt = tgvProblem({ nu: 0.01, alpha, beta: 2 });
      for (const [built, set] of [[tvBuilt, 0], [tgvBuilt, 1]] as const) {
        const r = lbfgs({ maxIter: 400 }).solve(built.problem, built.theta, { y: noisy }, { tol: 1e-4 });
        const u = tgvImage(r.x);
        const err = errorOf(u);
        u.dispose();
        if (set === 0) bestTv = Math.min(bestTv, err);
        else bestTgv = Math.min(bestTgv, err);
        r.x.dispose();
        built.dispose();
      }
    }
    console.log(`[${backend}] piecewise-affine ${size}²: squared error TV ${bestTv.toFixed(4)}, TGV² ${bestTgv.toFixed(4)}`);
    expect(bestTgv).toBeLessThan(bestTv);
    tf.dispose([clean, noisy]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects fields without 3 channels, unknown options and non-positive weights', () => {
    const before = tf.memory().numTensors;
    const R = tgv();
    const theta = R.init();
    const x = tf.zeros([1, 4, 4, 1]);
    expect(() => R.value(x, theta)).toThrow(/tgv\.value: 'z' has shape \[1,4,4,1\].*3\]/);
    expect(() => tgvImage(x)).toThrow(/tgvImage/);
    expect(() => tgv({ nu: 0 })).toThrow(/tgv: option 'nu' must be a finite number > 0/);
    expect(() => tgv({ beta: -1 })).toThrow(/tgv: option 'beta'/);
    expect(() => tgv({ betta: 1 } as never)).toThrow(/beta/);
    expect(() => tgvProblem({ xi: -1 })).toThrow(/tgvProblem/);
    const z = tf.zeros([1, 4, 4, 3]);
    expect(() => R.value(z, {})).toThrow(/logAlpha/);
    tf.dispose([x, z, theta.logAlpha, theta.logBeta]);
    // what the failing calls made was tidied away
    expect(tf.memory().numTensors).toBe(before);
  });

  it('problem constants and starting point', () => {
    const before = tf.memory().numTensors;
    const built = tgvProblem({ nu: 0.1, alpha: 0.2, beta: 2, xi: 0.05 });
    const y = randn([2, n, n, 1], 4);
    const z0 = built.problem.initialPoint(built.theta, { y });
    expect(z0.shape).toEqual([2, n, n, 3]);
    const u0 = tgvImage(z0);
    expect(scalarOf(tf.tidy(() => tf.max(tf.abs(tf.sub(u0, y)))))).toBe(0);
    expect(built.problem.mu(built.theta, { y })).toBeCloseTo(0.05, 6);
    // L = ‖I‖² + ξ + α(9 + 8β)/ν
    expect(built.problem.lipschitz(built.theta, { y })).toBeCloseTo(1 + 0.05 + (0.2 * (9 + 16)) / 0.1, 3);
    const plain = tgvProblem();
    expect(plain.problem.mu(plain.theta, { y })).toBeUndefined();
    plain.dispose();
    tf.dispose([y, z0, u0]);
    built.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
