// Distributed engine on this machine: in process, and 1, 2, 4 local worker processes through
// BullMQ/Redis, timed INTERLEAVED in rounds like bench:peer (benchmarks/src/peer/rounds.ts: every
// configuration is started and warmed first, then each round runs one block of requests per
// configuration, the order alternating between rounds; a ratio is the median over rounds of the
// per-round ratio), so host drift between minutes cancels:
//  - overhead per job: 64 tiny jobs (one L-BFGS step each), worker time not spent in the strategy;
//  - speed-up: one pooled hypergradient of 8 FoE denoising problems (bench:pool's task).
// Beside the wall time, the CPU time per request of every process (/proc/<pid>/stat: the workers,
// this coordinator with its bridge thread, redis-server), since on a shared machine wall time
// measures the load too.
//   cd packages/distributed && taskset -c 0,1 npx tsx --conditions=@bilevel/source bench/overhead.ts [rounds]
//   (rounds: default 6; BENCH_REPEATS requests per block, default 2; 2 warm-up requests per configuration)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, inlinePool, pooledHypergradient, disposeParams, type PoolRequest, type SamplePool } from '@bilevel/core';
import { startRedis } from '@bilevel/testing/node';
import { distributedPool } from '../src/index.js';
import tiny from './tiny-task.js';
import foeTask, { benchTheta } from '../../../benchmarks/src/pool/foe-task.js';
import { alternate, median, ratioOfRounds, type Block } from '../../../benchmarks/src/peer/rounds.js';

const rounds = Number(process.argv[2] ?? 6);
const reps = Number(process.env.BENCH_REPEATS ?? 2);
const load0 = loadavg()[0];
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
const f = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);

/** One configuration: a pool and its worker processes (none in process). */
interface Config { label: string; count: number; pool: SamplePool; pids: number[]; startMs: number; cold: number }
/** Per round of one configuration: the block (wall ms per request; cpuMs = busiest worker's CPU per request), and CPU per request of each process. */
interface RoundCpu { workers: number[]; coordinator: number; redis: number; compute: number[] }

function warm(c: Config, request: Omit<PoolRequest, 'kind'>) {
  const t = performance.now();
  pooledHypergradient(c.pool, request).dispose();
  c.cold = performance.now() - t;
  pooledHypergradient(c.pool, request).dispose();
}

/** A block of `n` requests: wall ms each, and the CPU per request of every process over the block. */
function timedBlock(c: Config, request: Omit<PoolRequest, 'kind'>, n: number, cpus: RoundCpu[]): Block {
  const w0 = c.pids.map(cpuMs);
  const c0 = selfCpu();
  const r0 = cpuMs(redisPid);
  const ms: number[] = [];
  const compute: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = pooledHypergradient(c.pool, request);
    ms.push(performance.now() - t0);
    compute.push(r.outcomes.reduce((s, o) => s + o.work.timeMs, 0));
    r.dispose();
  }
  const workers = c.pids.map((p, k) => (cpuMs(p) - w0[k]) / n);
  const coordinator = (selfCpu() - c0) / n;
  cpus.push({ workers, coordinator, redis: (cpuMs(redisPid) - r0) / n, compute });
  // in process, the coordinator is the one worker
  const busiest = c.pids.length > 0 ? Math.max(...workers) : coordinator;
  return { ms, cpuMs: ms.map(() => busiest) };
}

const tinySamples = Array.from({ length: 64 }, (_, i) => i);
const tinyTheta = { logAlpha: tf.scalar(-1) };
const foeTheta = benchTheta();
const foeSamples = [0, 1, 2, 3, 4, 5, 6, 7];
const requests = {
  tiny: { theta: tinyTheta, samples: tinySamples, warmStart: false },
  foe: { theta: foeTheta, samples: foeSamples, warmStart: false },
} as const;
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

console.log(`Distributed pool (BullMQ on a local redis-server), load average ${f2(load0)}; ${rounds} interleaved rounds of ${reps} requests per configuration (order alternating), every configuration started and warmed by 2 requests first; ratios: median over rounds of the per-round ratio (range)`);
for (const name of ['tiny', 'foe'] as const) {
  const module = name === 'tiny' ? new URL('./tiny-task.ts', import.meta.url) : new URL('../../../benchmarks/src/pool/foe-task.ts', import.meta.url);
  const configs: Config[] = [{ label: 'in process', count: 0, pool: name === 'tiny' ? inlinePool(tiny) : inlinePool(foeTask()), pids: [], startMs: 0, cold: NaN }];
  for (const count of [1, 2, 4]) {
    const queue = `bench-${name}-${count}`;
    const t0 = performance.now();
    const group = Array.from({ length: count }, () => spawn(process.execPath, ['--conditions=@bilevel/source', worker, redis.url, queue, fileURLToPath(module)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    procs.push(...group);
    await Promise.all(group.map(ready));
    const pool = await distributedPool({ connection: redis.url, samples: name === 'tiny' ? 64 : 8, queue });
    configs.push({ label: `${count} worker${count > 1 ? 's' : ''}`, count, pool, pids: group.map((p) => p.pid!), startMs: performance.now() - t0, cold: NaN });
  }
  for (const c of configs) warm(c, requests[name]);
  const cpus: RoundCpu[][] = configs.map(() => []);
  const blocks = await alternate(configs.map((c, i) => ({ block: (n: number) => timedBlock(c, requests[name], n, cpus[i]) })), rounds, reps);
  const one = 1;
  console.log(name === 'tiny'
    ? '\n64 tiny jobs (one L-BFGS step each)\n| configuration | wall ms | overhead per job ms (worker time not in the strategy) | worker CPU per job ms | coordinator + redis CPU per request ms | started in ms |\n| --- | --- | --- | --- | --- | --- |'
    : '\n8 FoE denoising problems (64×64), one pooled hypergradient\n| configuration | wall ms | speed-up vs 1 worker, wall (rounds) | from CPU (1-worker CPU / busiest worker) | vs in process, wall | worker CPU per request ms | coordinator + redis CPU ms | first request on fresh workers ms | started in ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [i, c] of configs.entries()) {
    const wall = median(blocks[i].flatMap((b) => b.ms));
    const workerCpu = c.pids.map((_, k) => median(cpus[i].map((r) => r.workers[k])));
    const side = `${f(median(cpus[i].map((r) => r.coordinator)))} + ${f(median(cpus[i].map((r) => r.redis)))}`;
    if (name === 'tiny') {
      const overhead = median(blocks[i].flatMap((b, r) => b.ms.map((ms, j) => (ms * Math.max(c.count, 1) - cpus[i][r].compute[j]) / 64)));
      const perJob = c.count > 0 ? f2(workerCpu.reduce((a, b) => a + b, 0) / 64) : '—';
      console.log(`| ${c.label} | ${f(wall)} | ${f2(overhead)} | ${perJob} | ${side} | ${c.count > 0 ? f(c.startMs) : '—'} |`);
    } else {
      const vs1 = i === one ? '1.00' : (() => { const r = ratioOfRounds(blocks[one], blocks[i]); return `**${f2(r.wall)}×** (${f2(r.wallMin)}–${f2(r.wallMax)})`; })();
      const cpu = f2(ratioOfRounds(blocks[one], blocks[i]).cpu);
      const inl = f2(ratioOfRounds(blocks[0], blocks[i]).wall);
      console.log(`| ${c.label} | ${f(wall)} | ${vs1} | ${cpu}× | ${inl}× | ${c.count > 0 ? workerCpu.map(f).join(' + ') : '—'} | ${side} | ${c.count > 0 ? f(c.cold) : '—'} | ${c.count > 0 ? f(c.startMs) : '—'} |`);
    }
  }
  for (const c of configs) await c.pool.close();
  const group = procs.splice(0);
  await Promise.all(group.map((p) => new Promise<void>((resolve) => {
    if (p.exitCode != null || p.signalCode != null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  })));
}
console.log(`(load average ${f2(load0)} → ${f2(loadavg()[0])}; on a shared machine the CPU columns say what free cores give)`);
disposeParams(foeTheta);
tinyTheta.logAlpha.dispose();
await redis.stop();
process.exit(0);
