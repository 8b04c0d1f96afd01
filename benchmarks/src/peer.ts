/**
 * Ours vs a peer: the smoothed Field-of-Experts energy of autodiff.ts (96×96, 30 filters 7×7,
 * batch 1 and 8) differentiated by bilevel/tfjs (wasm) and by JAX (CPU, jit), on identical
 * inputs, in one run. Prints ms per gradient / HVP / mixed product for both, the ratio
 * ours/JAX, and the largest relative difference between the two results (a correctness
 * cross-check: both must compute the same derivatives).
 *
 * JAX runs single-threaded by default (`PEER_THREADS=1`), like tfjs-wasm in Node, so the ratio
 * compares the kernels, not the core count; `PEER_THREADS=0` lets XLA use every core.
 *
 *   npx --yes pnpm@9 bench:peer                       # installs JAX into benchmarks/.bench/venv once
 *   BENCH_BATCHES=1 npx --yes pnpm@9 bench:peer
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { tf, initBackend, grad, hvp, mixedProduct, disposeParams } from '@bilevel/core';
import { foeEnergy, foeInputs } from './foe.js';

const SIZE = Number(process.env.BENCH_SIZE ?? 96);
const FILTERS = Number(process.env.BENCH_FILTERS ?? 30);
const KERNEL = Number(process.env.BENCH_KERNEL ?? 7);
const BATCHES = (process.env.BENCH_BATCHES ?? '1,8').split(',').map(Number);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 20);
const THREADS = Number(process.env.PEER_THREADS ?? 1);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = join(root, '.bench', 'venv', 'bin', 'python');

const arrays = (t: tf.Tensor) => ({ shape: t.shape, values: Array.from(t.dataSync()) });

/** Median ms of `repeats` calls after one warm-up call. */
function time(fn: () => tf.Tensor[], repeats: number): { ms: number; out: Float32Array[] } {
  const warm = fn();
  const out = warm.map((t) => t.dataSync() as Float32Array);
  tf.dispose(warm);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const r = fn();
    for (const t of r) t.dataSync();
    times.push(performance.now() - t0);
    tf.dispose(r);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], out };
}

/** max |a − b| / max |b|: the largest difference relative to the peer's scale. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-30);
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm', log: false });
  const dir = join(root, '.bench');
  mkdirSync(dir, { recursive: true });
  const cases = BATCHES.map((batch) => ({ batch, ...foeInputs(batch, SIZE, KERNEL, FILTERS) }));
  const input = join(dir, 'peer-input.json');
  const output = join(dir, 'peer-output.json');
  writeFileSync(input, JSON.stringify({ cases: cases.map((c) => ({ batch: c.batch, x: arrays(c.x), y: arrays(c.y), v: arrays(c.v), filters: arrays(c.theta.filters), alpha: arrays(c.theta.alpha) })) }));

  const env = { ...process.env, ...(THREADS > 0 ? { XLA_FLAGS: `--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=${THREADS}`, OMP_NUM_THREADS: String(THREADS) } : {}) };
  execFileSync(python, [join(root, 'peer', 'foe_jax.py'), input, output, String(REPEATS)], { stdio: 'inherit', env });
  const peer = JSON.parse(readFileSync(output, 'utf8')) as {
    jax: string;
    results: Array<{ batch: number; ms: Record<string, number>; outputs: Record<string, number[]> }>;
  };

  const rows: string[] = [];
  for (const c of cases) {
    const energy = foeEnergy(c.y);
    const p = peer.results.find((r) => r.batch === c.batch)!;
    const ops: Record<string, [() => tf.Tensor[], (out: Float32Array[]) => number]> = {
      gradient: [() => [grad((z) => energy(z, c.theta), c.x)], (o) => relDiff(o[0], p.outputs.gradient)],
      hvp: [() => [hvp((z) => energy(z, c.theta), c.x, c.v)], (o) => relDiff(o[0], p.outputs.hvp)],
      mixed: [
        () => {
          const m = mixedProduct(energy, c.x, c.theta, c.v);
          return [m.filters, m.alpha];
        },
        (o) => Math.max(relDiff(o[0], p.outputs.mixedFilters), relDiff(o[1], p.outputs.mixedAlpha)),
      ],
    };
    const before = tf.memory().numTensors;
    for (const [op, [fn, check]] of Object.entries(ops)) {
      const ours = time(fn, REPEATS);
      const diff = check(ours.out);
      rows.push(`| ${c.batch} | ${op} | ${ours.ms.toFixed(1)} | ${p.ms[op].toFixed(1)} | ${(ours.ms / p.ms[op]).toFixed(2)} | ${diff.toExponential(1)} |`);
    }
    if (tf.memory().numTensors !== before) throw new Error(`peer benchmark leaked ${tf.memory().numTensors - before} tensors`);
  }
  console.log(`\nSmoothed FoE energy, ${SIZE}×${SIZE}, ${FILTERS} filters ${KERNEL}×${KERNEL}: bilevel (tfjs ${tf.version.tfjs}, wasm) vs JAX ${peer.jax} (CPU, ${THREADS > 0 ? `${THREADS} thread${THREADS > 1 ? 's' : ''}` : 'all cores'}), median of ${REPEATS} calls`);
  console.log('| batch | op | ours ms | JAX ms | ours/JAX | max rel. difference |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  for (const c of cases) {
    tf.dispose([c.x, c.y, c.v]);
    disposeParams(c.theta);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
