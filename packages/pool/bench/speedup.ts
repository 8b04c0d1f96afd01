// A batch of 8 lower-level problems (FoE denoising, 64×64) on 1 and 2 worker threads:
// median wall time of one pooled hypergradient of the batch, cold starts (no warm start),
// so every repetition does the same work.
//   cd packages/pool && taskset -c 0,1 npx tsx --conditions=@bilevel/source bench/speedup.ts [reps]
import { readdirSync, readFileSync } from 'node:fs';
import { tf, initBackend, pooledHypergradient, disposeParams } from '@bilevel/core';
import { workerPool } from '../src/index.js';
import { benchTheta } from './foe-task.js';

const reps = Number(process.argv[2] ?? 5);
const samples = [0, 1, 2, 3, 4, 5, 6, 7];
await initBackend({ backend: 'wasm', log: false });
const theta = benchTheta();
// CPU time of every thread of this process (utime + stime, in clock ticks of 10 ms), by thread id.
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    out.set(tid, Number(fields[11]) + Number(fields[12]));
  }
  return out;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<number, { median: number; all: number[]; grad: number[]; work: number; busiest: number; total: number }> = {};
for (const threads of [1, 2]) {
  const pool = await workerPool({ module: new URL('./foe-task.ts', import.meta.url), threads });
  const first = pooledHypergradient(pool, { theta, samples, warmStart: false });
  const grad = Array.from(Object.values(first.grad!)[0].dataSync().slice(0, 4));
  const work = first.work.innerIterations + first.work.linearIterations;
  first.dispose();
  const times: number[] = [];
  const before = threadTicks();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    pooledHypergradient(pool, { theta, samples, warmStart: false }).dispose();
    times.push(performance.now() - t0);
  }
  const after = threadTicks();
  const deltas = [...after].map(([tid, t]) => (t - (before.get(tid) ?? 0)) * 10).sort((a, b) => b - a);
  // the pool threads are the busiest ones; the calling thread sleeps in Atomics.wait
  const busiest = deltas[0] / reps;
  const total = deltas.slice(0, threads).reduce((a, b) => a + b, 0) / reps;
  await pool.close();
  results[threads] = { median: median(times), all: times.map((t) => Math.round(t)), grad, work, busiest, total };
  console.log(`threads ${threads}: median ${median(times).toFixed(0)} ms over ${reps} (${times.map((t) => t.toFixed(0)).join(', ')}); CPU per request: busiest thread ${busiest.toFixed(0)} ms, pool threads together ${total.toFixed(0)} ms; work ${work} inner+linear iterations, grad[0..3] ${grad.map((g) => g.toPrecision(7)).join(' ')}`);
}
console.log(`speed-up 2 vs 1 threads, wall clock: ${(results[1].median / results[2].median).toFixed(2)}×; from CPU time (1-thread CPU / busiest of 2 threads: what 2 free cores give, memory bandwidth aside): ${(results[1].total / results[2].busiest).toFixed(2)}×; same gradient: ${JSON.stringify(results[1].grad) === JSON.stringify(results[2].grad)}`);
disposeParams(theta);
void tf;
