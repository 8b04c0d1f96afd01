// Distributed engine on this machine: 1, 2, 4 local worker processes through BullMQ/Redis.
//  - overhead per job: 64 tiny jobs (one L-BFGS step each) minus the same jobs in process;
//  - speed-up: one pooled hypergradient of 8 FoE denoising problems (@bilevel/pool's bench task).
//   cd packages/distributed && npx tsx --conditions=@bilevel/source bench/overhead.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, inlinePool, pooledHypergradient, disposeParams } from '@bilevel/core';
import { distributedPool } from '../src/index.js';
import tiny from './tiny-task.js';
import foeTask, { benchTheta } from '../../pool/bench/foe-task.js';

const port = 21000 + Math.floor(Math.random() * 9000);
const url = `redis://127.0.0.1:${port}`;
const procs: ChildProcess[] = [];
const waitLine = (p: ChildProcess, pattern: RegExp) =>
  new Promise<void>((resolve, reject) => {
    let text = '';
    p.stdout!.on('data', (b: Buffer) => {
      text += b.toString();
      if (pattern.test(text)) resolve();
    });
    p.once('exit', () => reject(new Error(`exited: ${text}`)));
  });
const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
procs.push(redis);
await waitLine(redis, /Ready to accept connections/);
await initBackend({ backend: 'wasm', log: false });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (f: () => unknown, reps: number) => {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
};
/** Wall time of one request and the compute time the jobs reported (their strategies' own clocks). */
const timed = (pool: Parameters<typeof pooledHypergradient>[0], options: Parameters<typeof pooledHypergradient>[1]) => {
  const t0 = performance.now();
  const r = pooledHypergradient(pool, options);
  const wall = performance.now() - t0;
  const compute = r.outcomes.reduce((s, o) => s + o.work.timeMs, 0);
  r.dispose();
  return { wall, compute };
};

const tinySamples = Array.from({ length: 64 }, (_, i) => i);
const tinyTheta = { logAlpha: tf.scalar(-1) };
const inlineTiny = inlinePool(tiny);
const inlineTinyMs = time(() => pooledHypergradient(inlineTiny, { theta: tinyTheta, samples: tinySamples, warmStart: false }).dispose(), 3);
const foeTheta = benchTheta();
const foeSamples = [0, 1, 2, 3, 4, 5, 6, 7];
const inlineFoe = inlinePool(foeTask());
const inlineFoeMs = time(() => pooledHypergradient(inlineFoe, { theta: foeTheta, samples: foeSamples, warmStart: false }).dispose(), 1);
console.log(`in process: 64 tiny jobs ${inlineTinyMs.toFixed(0)} ms; 8 FoE problems ${inlineFoeMs.toFixed(0)} ms`);

const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const rows: string[] = [];
let one = NaN;
for (const count of [1, 2, 4]) {
  for (const [name, module] of [['tiny', new URL('./tiny-task.ts', import.meta.url)], ['foe', new URL('../../pool/bench/foe-task.ts', import.meta.url)]] as const) {
    const queue = `bench-${name}-${count}`;
    const group = Array.from({ length: count }, () => spawn(process.execPath, ['--conditions=@bilevel/source', worker, url, queue, fileURLToPath(module)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    procs.push(...group);
    await Promise.all(group.map((p) => waitLine(p, /ready/)));
    const pool = await distributedPool({ connection: url, samples: name === 'tiny' ? 64 : 8, queue });
    if (name === 'tiny') {
      const runs = [0, 1, 2].map(() => timed(pool, { theta: tinyTheta, samples: tinySamples, warmStart: false }));
      const wall = median(runs.map((r) => r.wall));
      const overhead = median(runs.map((r) => (r.wall * count - r.compute) / 64));
      rows.push(`${count} worker(s): 64 tiny jobs ${wall.toFixed(0)} ms wall (${(wall / 64).toFixed(2)} ms per job); overhead per job (worker-time not spent in the strategy: queue, Redis, events, (de)serialisation) ${overhead.toFixed(2)} ms`);
    } else {
      const ms = time(() => pooledHypergradient(pool, { theta: foeTheta, samples: foeSamples, warmStart: false }).dispose(), 1);
      if (count === 1) one = ms;
      rows.push(`${count} worker(s): 8 FoE problems ${ms.toFixed(0)} ms (speed-up vs 1 worker ${(one / ms).toFixed(2)}×, vs in process ${(inlineFoeMs / ms).toFixed(2)}×)`);
    }
    console.log(rows[rows.length - 1]);
    await pool.close();
    for (const p of group) p.kill('SIGTERM');
  }
}
disposeParams(foeTheta);
tinyTheta.logAlpha.dispose();
for (const p of procs) p.kill('SIGTERM');
process.exit(0);
