import { tf } from '@bilevel/core';
import { mulberry32 } from '@bilevel/outer';

/**
 * Piecewise-affine test images: a Voronoi partition of the square into `cells` regions from
 * seeded random sites, each region an affine ramp `a + b·i + c·j` (slopes up to ±`slope` across
 * the image), clipped to [0, 1]. TGV² should keep the ramps; TV turns them into staircases.
 */
export function piecewiseAffineImages(count: number, size: number, cells: number, seed: number, slope = 0.6): tf.Tensor4D {
  const rng = mulberry32(seed);
  const random = () => rng.next();
  const values = new Float32Array(count * size * size);
  for (let n = 0; n < count; n++) {
    const sites = Array.from({ length: cells }, () => ({
      i: random() * size,
      j: random() * size,
      a: 0.2 + 0.6 * random(),
      b: ((random() - 0.5) * 2 * slope) / size,
      c: ((random() - 0.5) * 2 * slope) / size,
    }));
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        let best = 0;
        let bestD = Infinity;
        sites.forEach((s, k) => {
          const d = (i - s.i) ** 2 + (j - s.j) ** 2;
          if (d < bestD) [best, bestD] = [k, d];
        });
        const s = sites[best];
        const v = s.a + s.b * (i - s.i) + s.c * (j - s.j);
        values[(n * size + i) * size + j] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return tf.tensor4d(values, [count, size, size, 1]);
}
