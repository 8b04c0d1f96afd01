/**
 * The README's model × strategy × method table, run in Node on wasm through the page's own code
 * path (`preparePlayground` + `train`, camera, 48×48, σ = 0.1, 10 iterations): the same θ as the
 * worker in Chromium, with work, PSNR and wall / CPU time per run.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-playground table
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend, paramsToArrays } from '@bilevel/core';
import { train, type ProgressEvent } from '@bilevel/outer';
import { decodePng } from '@bilevel/imaging';
import { preparePlayground } from '../src/run.js';

await initBackend({ backend: 'wasm' });
const image = decodePng(readFileSync(fileURLToPath(new URL('../../../packages/imaging/data/camera.png', import.meta.url))));
for (const model of ['tv', 'foe'] as const) {
  for (const strategy of ['implicit', 'unrolled', 'equilibrium', 'jfb'] as const) {
    for (const method of ['maid', 'adam'] as const) {
      const setup = preparePlayground({ model, strategy, method, iterations: 10, crop: 48, sigma: 0.1, seed: 0 }, image);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      let last: ProgressEvent | undefined;
      const r = await train({ ...setup.options, onProgress: (e) => { last = e; } });
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const psnr = last != null ? setup.frame(paramsToArrays(r.theta), last).psnr : setup.start.initialPsnr;
      console.log(`${model} | ${strategy} | ${method}: ${r.status} after ${r.history.length}, ${psnr.toFixed(2)} dB, work ${r.work.innerIterations + r.work.linearIterations}, ${seconds.toFixed(1)} s wall, ${((c.user + c.system) / 1e6).toFixed(1)} s CPU (noisy ${setup.start.noisyPsnr.toFixed(2)}, x̂(θ₀) ${setup.start.initialPsnr.toFixed(2)} dB)`);
      setup.dispose();
    }
  }
}
