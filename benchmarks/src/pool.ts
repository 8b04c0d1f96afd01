/**
 * bench:pool — the pool section of bench:peer (run after the peers by `bench:peer`, or alone):
 * a batch of 8 lower-level problems (FoE denoising 64×64, foe-task.ts) as one pooled
 * hypergradient inline, on 1 worker thread and on 2, timed INTERLEAVED in rounds like the peers
 * (the order of the sides alternates between rounds; a ratio is the median over rounds of the
 * per-round ratio), so host drift between minutes cancels. Every pool is started and warmed
 * before the rounds. Besides wall and CPU time, each worker's busy, CPU and run-queue time per
 * call (@bilevel/pool `timing()`), and the check that every call's hypergradient equals the
 * first one's bit for bit. Run it pinned to both CPUs:
 *
 *   cd benchmarks && taskset -c 0,1 npx tsx --conditions=@bilevel/source src/pool.ts
 *   BENCH_POOL_ROUNDS=8 BENCH_POOL_REPEATS=2 BENCH_POOL_WARMUP=8 (the defaults; 3 before 2026-12-02 04:00:
 *   V8's background compilation and GC settle only after ~8 calls, see benchmarks/README.md)
 */
import { loadavg } from 'node:os';
import { tf, initBackend, disposeParams } from '@bilevel/core';
import { benchTheta } from './pool/foe-task.js';
import { measurePool } from './pool/measure.js';
import { reportPool } from './pool/report.js';

const ROUNDS = Number(process.env.BENCH_POOL_ROUNDS ?? 8);
const REPEATS = Number(process.env.BENCH_POOL_REPEATS ?? 2);
const WARMUP = Number(process.env.BENCH_POOL_WARMUP ?? 8);

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm', log: false });
  const theta = benchTheta();
  const before = tf.memory().numTensors;
  const load0 = loadavg()[0];
  const m = await measurePool(theta, ROUNDS, REPEATS, WARMUP);
  reportPool(m, { tfjs: tf.version.tfjs, warmup: WARMUP, load: `${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}` });
  if (tf.memory().numTensors !== before) console.warn(`bench:pool: ${tf.memory().numTensors - before} tensors not freed`);
  disposeParams(theta);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
