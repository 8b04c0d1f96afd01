import { tf, initBackend, lbfgs } from '@bilevel/core';
import type { Problem } from '@bilevel/core';
import { filterModelProblem, denoisingDataset, sampleImages, psnr, dctFilters, randomFilters } from '@bilevel/imaging';
type D = { y: tf.Tensor; clean: tf.Tensor };
await initBackend();
const ds = denoisingDataset({ images: Object.values(sampleImages()), cropSize: 40, count: 4, testCount: 4, sigma: 0.1, seed: 0 });
const data: D = { y: ds.train.noisy, clean: ds.train.clean };
const inits: Array<[string, tf.Tensor]> = [['dct24', dctFilters(5)], ['rand8', randomFilters({ size: 5, count: 8, seed: 0 })], ['rand8-3x3', randomFilters({ size: 3, count: 8, seed: 0 })]];
for (const [name, f] of inits) for (const b0 of [-5, -4, -3, -2]) {
  const foe = filterModelProblem({ filters: f, epsilon: 0.01, beta0: b0 });
  const r = lbfgs().solve(foe.problem as unknown as Problem<D>, foe.theta, data, { tol: 1e-3, tolMode: 'absolute', maxIter: 3000 });
  const p = psnr(r.x, data.clean);
  console.log(name, b0, r.iterations, r.status, p.mean.toFixed(2), p.perImage.map(v=>v.toFixed(2)).join(' '));
  r.x.dispose(); foe.dispose();
}
