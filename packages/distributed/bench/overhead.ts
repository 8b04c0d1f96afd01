// Distributed engine on this machine: 1, 2, 4 local worker processes through BullMQ/Redis.
//  - overhead per job: 64 tiny jobs (one L-BFGS step each), worker time not spent in the strategy;
//  - speed-up: one pooled hypergradient of 8 FoE denoising problems (@bilevel/pool's bench task).
// Each configuration is warmed up first (2 untimed requests: every worker has JIT-compiled the
// solver and built the samples it met), then timed over `reps` requests (median wall time), with
// the CPU time of every process beside it (/proc/<pid>/stat: the workers, this coordinator with
// its bridge thread, redis-server), since on a shared machine wall time measures the load too.
//   cd packages/distributed && taskset -c 0,1 npx tsx --conditions=@bilevel/source bench/overhead.ts [reps]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, inlinePool, pooledHypergradient, disposeParams, type PoolRequest, type SamplePool } from '@bilevel/core';
import { startRedis } from '@bilevel/testing/node';
import { distributedPool } from '../src/index.js';
import tiny from './tiny-task.js';
import foeTask, { benchTheta } from '../../../benchmarks/src/pool/foe-task.js';

const reps = Number(process.argv[2] ?? 5);
const redis = await startRedis();
const redisPid = redis.pid;
await initBackend({ backend: 'wasm', log: false });

/** CPU ms (user + system, all threads) a process has used. */
function cpuMs(pid: number | undefined): number {
  if (pid == null) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Timed {
  /** The first request on fresh workers: their JIT and wasm tier-up, and building the samples they meet. */
  cold: number;
  wall: number;
  compute: number;
  workers: number[];
  coordinator: number;
  redis: number;
}
/** `reps` timed requests after 2 untimed ones; medians, and the CPU per request of each process. */
function measure(pool: SamplePool, request: Omit<PoolRequest, 'kind'>, pids: number[]): Timed {
  const t = performance.now();
  pooledHypergradient(pool, request).dispose();
  const cold = performance.now() - t;
  pooledHypergradient(pool, request).dispose();
  const walls: number[] = [];
  const computes: number[] = [];
  const w0 = pids.map(cpuMs);
  const c0 = selfCpu();
  const r0 = cpuMs(redisPid);
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = pooledHypergradient(pool, request);
    walls.push(performance.now() - t0);
    computes.push(r.outcomes.reduce((s, o) => s + o.work.timeMs, 0));
    r.dispose();
  }
  return {
    cold,
    wall: median(walls),
    compute: median(computes),
    workers: pids.map((p, k) => (cpuMs(p) - w0[k]) / reps),
    coordinator: (selfCpu() - c0) / reps,
    redis: (cpuMs(redisPid) - r0) / reps,
  };
}

const tinySamples = Array.from({ length: 64 }, (_, i) => i);
const tinyTheta = { logAlpha: tf.scalar(-1) };
const foeTheta = benchTheta();
const foeSamples = [0, 1, 2, 3, 4, 5, 6, 7];
const requests = {
  tiny: { theta: tinyTheta, samples: tinySamples, warmStart: false },
  foe: { theta: foeTheta, samples: foeSamples, warmStart: false },
} as const;
const inline = { tiny: inlinePool(tiny), foe: inlinePool(foeTask()) };
const inlineMs = { tiny: measure(inline.tiny, requests.tiny, []).wall, foe: measure(inline.foe, requests.foe, []).wall };
console.log(`in process (median of ${reps} after 2 warm-ups): 64 tiny jobs ${inlineMs.tiny.toFixed(0)} ms; 8 FoE problems ${inlineMs.foe.toFixed(0)} ms`);

const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const procs: ChildProcess[] = [];
const ready = (p: ChildProcess) =>
  new Promise<void>((resolve, reject) => {
    let text = '';
    const onData = (b: Buffer) => {
      text += b.toString();
      if (/ready/.test(text)) {
        p.stdout!.off('data', onData);
        p.stdout!.resume();
        resolve();
      }
    };
    p.stdout!.on('data', onData);
    p.once('exit', () => reject(new Error(`exited: ${text}`)));
  });
const f = (x: number) => x.toFixed(0);
let oneCpu = NaN;
let oneWall = NaN;
for (const count of [1, 2, 4]) {
  for (const name of ['tiny', 'foe'] as const) {
    const module = name === 'tiny' ? new URL('./tiny-task.ts', import.meta.url) : new URL('../../../benchmarks/src/pool/foe-task.ts', import.meta.url);
    const queue = `bench-${name}-${count}`;
    const t0 = performance.now();
    const group = Array.from({ length: count }, () => spawn(process.execPath, ['--conditions=@bilevel/source', worker, redis.url, queue, fileURLToPath(module)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    procs.push(...group);
    await Promise.all(group.map(ready));
    const startMs = performance.now() - t0;
    const pool = await distributedPool({ connection: redis.url, samples: name === 'tiny' ? 64 : 8, queue });
    const m = measure(pool, requests[name], group.map((p) => p.pid!));
    const workerCpu = m.workers.reduce((a, b) => a + b, 0);
    const cpu = `CPU per request: workers ${m.workers.map(f).join(' + ')} ms, coordinator ${f(m.coordinator)} ms, redis ${f(m.redis)} ms`;
    if (name === 'tiny') {
      const overhead = (m.wall * count - m.compute) / 64;
      console.log(`${count} worker(s): 64 tiny jobs ${f(m.wall)} ms wall (in process ${f(inlineMs.tiny)}); overhead per job ${overhead.toFixed(2)} ms (worker time not in the strategy), ${(workerCpu / 64).toFixed(2)} ms worker CPU per job; ${cpu}; workers started in ${f(startMs)} ms (not timed)`);
    } else {
      if (count === 1) {
        oneWall = m.wall;
        oneCpu = workerCpu;
      }
      const busiest = Math.max(...m.workers);
      console.log(`${count} worker(s): 8 FoE problems ${f(m.wall)} ms wall (first request on fresh workers ${f(m.cold)} ms; speed-up vs 1 worker ${(oneWall / m.wall).toFixed(2)}×, vs in process ${(inlineMs.foe / m.wall).toFixed(2)}×; from CPU, 1-worker CPU / busiest worker: ${(oneCpu / busiest).toFixed(2)}×); ${cpu}`);
    }
    await pool.close();
    await Promise.all(group.map((p) => new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    })));
  }
}
disposeParams(foeTheta);
tinyTheta.logAlpha.dispose();
for (const p of procs) if (p.exitCode == null && p.signalCode == null) p.kill('SIGTERM');
await redis.stop();
process.exit(0);
