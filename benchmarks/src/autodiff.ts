/**
 * Throughput of the autodiff primitives on a smoothed Field-of-Experts energy
 *   Φ(x; θ) = ½‖x − y‖² + Σ_k e^{α_k} Σ_pixels log(1 + (c_k ∗ x)²)
 * at 96×96 with 30 filters 7×7, batch 1 and 8, on every backend asked for.
 *
 * Prints, per backend and batch: ms per gradient / HVP / mixed product (benchmark.js
 * means), the convolution GFLOP/s achieved (FLOPs counted from the conv kernels that
 * tf.profile records in one call, so the count is exact for the convolutions and ignores
 * the cheap elementwise work), and the HVP / gradient and mixed / gradient cost ratios.
 *
 *   npx --yes pnpm@9 --filter @bilevel/benchmarks start                 # wasm and cpu
 *   BENCH_BACKENDS=wasm BENCH_SIZE=96 npx --yes pnpm@9 --filter @bilevel/benchmarks start
 */
import Benchmark from 'benchmark';
import { tf, initBackend, grad, hvp, mixedProduct, disposeParams } from '@bilevel/core';
import { foeEnergy, foeInputs } from './foe.js';

const SIZE = Number(process.env.BENCH_SIZE ?? 96);
const FILTERS = Number(process.env.BENCH_FILTERS ?? 30);
const KERNEL = Number(process.env.BENCH_KERNEL ?? 7);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'wasm,cpu').split(',') as Array<'wasm' | 'cpu' | 'tensorflow'>;
const BATCHES = (process.env.BENCH_BATCHES ?? '1,8').split(',').map(Number);
// The cpu backend is 15–40× slower than wasm: fewer samples keep the run short.
const MAX_TIME_S: Record<string, number> = { wasm: 2, cpu: 1, tensorflow: 2 };

/** Convolution FLOPs of one call, read from the kernels tf.profile records. */
async function convFlops(fn: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const info = await tf.profile(() => fn());
  tf.dispose(info.result as tf.Tensor[]);
  let flops = 0;
  for (const k of info.kernels) {
    const [a, b] = k.inputShapes as number[][];
    const out = (k.outputShapes as number[][])[0];
    if (k.name === 'Conv2D') {
      // out [B,H,W,Co], filter [kh,kw,Ci,Co]
      flops += 2 * out.reduce((p, q) => p * q, 1) * b[0] * b[1] * b[2];
    } else if (k.name === 'Conv2DBackpropInput') {
      // inputs dy [B,H,W,Co], filter [kh,kw,Ci,Co]; out [B,H,W,Ci]
      flops += 2 * a.reduce((p, q) => p * q, 1) * b[0] * b[1] * b[2];
    } else if (k.name === 'Conv2DBackpropFilter') {
      // inputs x [B,H,W,Ci], dy [B,Ho,Wo,Co]; out filter [kh,kw,Ci,Co]
      flops += 2 * b.reduce((p, q) => p * q, 1) * out[0] * out[1] * out[2];
    }
  }
  return flops;
}

interface Row { backend: string; batch: number; op: string; ms: number; gflops: number; rme: number }

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const backend of BACKENDS) {
    await initBackend({ backend, log: false });
    for (const batch of BATCHES) {
      const { x, y, v, theta } = foeInputs(batch, SIZE, KERNEL, FILTERS);
      const energy = foeEnergy(y);
      const ops: Record<string, () => tf.Tensor[]> = {
        gradient: () => [grad((z) => energy(z, theta), x)],
        hvp: () => [hvp((z) => energy(z, theta), x, v)],
        mixed: () => Object.values(mixedProduct(energy, x, theta, v)),
      };
      const before = tf.memory().numTensors;
      for (const [op, fn] of Object.entries(ops)) {
        tf.dispose(fn()); // warm-up (wasm compiles kernels lazily)
        const flops = await convFlops(fn);
        const bench = new Benchmark(op, () => {
          const out = fn();
          out[0].dataSync(); // wait for the result
          tf.dispose(out);
        }, { maxTime: MAX_TIME_S[backend] ?? 2, minSamples: 3 });
        bench.run();
        const ms = bench.stats.mean * 1000;
        rows.push({ backend, batch, op, ms, gflops: flops / (ms * 1e6), rme: bench.stats.rme });
      }
      if (tf.memory().numTensors !== before) throw new Error(`benchmark leaked ${tf.memory().numTensors - before} tensors`);
      tf.dispose([x, y, v]);
      disposeParams(theta);
    }
  }
  console.log(`\nSmoothed FoE energy, ${SIZE}×${SIZE}, ${FILTERS} filters ${KERNEL}×${KERNEL} (tfjs ${tf.version.tfjs})`);
  console.log('backend  batch  op         ms/call    ±%    conv GFLOP/s   ratio to gradient');
  for (const r of rows) {
    const g = rows.find((q) => q.backend === r.backend && q.batch === r.batch && q.op === 'gradient')!;
    console.log(
      `${r.backend.padEnd(8)} ${String(r.batch).padStart(5)}  ${r.op.padEnd(9)} ${r.ms.toFixed(2).padStart(9)} ${r.rme.toFixed(1).padStart(5)} ${r.gflops.toFixed(2).padStart(14)} ${(r.ms / g.ms).toFixed(2).padStart(19)}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
