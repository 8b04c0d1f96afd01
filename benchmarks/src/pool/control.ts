/**
 * bench:pool's control: the same 8 FoE problems (foe-task.ts) solved with NO pool — two
 * independent Node processes, each with its own V8 (heap, GC and compiler threads) and its own
 * tfjs backend, running the task in process (`inlinePool`). Per round: one process runs all 8
 * problems ("alone"), and both processes run 4 each at the same moment ("together": the split
 * the 2-worker pool takes, longest first by the alone run's ms per problem). The ratio
 * alone / together (median over rounds of the per-round ratio, the order alternating between
 * rounds) is what two cores give this workload when nothing is shared but the hardware (caches,
 * memory bandwidth) and the kernel's scheduler: the ceiling of the 1 → 2 worker speed-up.
 * Each process reports its own wall, CPU and run-queue ms (/proc/self/schedstat) per call.
 *
 *   cd benchmarks && taskset -c 0,1 npx tsx --conditions=@bilevel/source src/pool/control.ts
 *   BENCH_CONTROL_ROUNDS=8 BENCH_CONTROL_WARMUP=8 (the defaults)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { initBackend, inlinePool, pooledHypergradient, disposeParams, type SamplePool } from '@bilevel/core';
import task, { benchTheta } from './foe-task.js';

const ROUNDS = Number(process.env.BENCH_CONTROL_ROUNDS ?? 8);
const WARMUP = Number(process.env.BENCH_CONTROL_WARMUP ?? 8);
const ALL = [0, 1, 2, 3, 4, 5, 6, 7];

interface Done { wallMs: number; cpuMs: number; waitMs: number }

/** CPU ms of the whole process (every thread: GC and compiler threads included) and run-queue ms of the main thread, which solves. */
function processClock(): { cpuMs: number; waitMs: number } {
  const wait = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
  const c = process.cpuUsage();
  return { cpuMs: (c.user + c.system) / 1000, waitMs: wait / 1e6 };
}

async function child(): Promise<void> {
  await initBackend({ backend: 'wasm', log: false });
  const theta = benchTheta();
  const pool: SamplePool = inlinePool(task());
  process.on('message', (m: { samples: number[] } | 'exit') => {
    if (m === 'exit') {
      disposeParams(theta);
      void pool.close().then(() => process.exit(0));
      return;
    }
    const c0 = processClock();
    const t0 = performance.now();
    const r = pooledHypergradient(pool, { theta, samples: m.samples, warmStart: false });
    const wallMs = performance.now() - t0;
    r.dispose();
    const c = processClock();
    process.send!({ wallMs, cpuMs: c.cpuMs - c0.cpuMs, waitMs: c.waitMs - c0.waitMs } satisfies Done);
  });
  process.send!('ready');
}

const ask = (p: ChildProcess, samples: number[]) => new Promise<Done>((resolve) => {
  p.once('message', (m) => resolve(m as Done));
  p.send({ samples });
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const load0 = loadavg()[0];
  const self = fileURLToPath(import.meta.url);
  const procs = [0, 1].map(() => fork(self, ['child'], { execArgv: ['--conditions=@bilevel/source', '--import', 'tsx'] }));
  await Promise.all(procs.map((p) => new Promise((r) => p.once('message', r))));
  // warm both processes to their steady state (JIT, wasm tier-up), then time the split of 4 + 4
  // problems the pool would take: longest first by one process's ms per problem
  const ms = new Array(8).fill(0);
  for (let w = 0; w < WARMUP; w++) await Promise.all(procs.map((p) => ask(p, ALL)));
  for (const k of ALL) ms[k] = (await ask(procs[0], [k])).wallMs;
  const split: number[][] = [[], []];
  const load = [0, 0];
  for (const k of [...ALL].sort((a, b) => ms[b] - ms[a] || a - b)) {
    const t = load[0] <= load[1] ? 0 : 1;
    split[t].push(k);
    load[t] += ms[k];
  }
  split.forEach((s) => s.sort((a, b) => a - b));
  const alone: Done[] = [];
  const together: Done[][] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = async () => alone.push(await ask(procs[0], ALL));
    const b = async () => together.push(await Promise.all(procs.map((p, i) => ask(p, split[i]))));
    if (r % 2 === 0) { await a(); await b(); } else { await b(); await a(); }
    ratios.push(alone[r].wallMs / Math.max(...together[r].map((d) => d.wallMs)));
  }
  for (const p of procs) p.send('exit');
  const f0 = (x: number) => x.toFixed(0);
  console.log(`\nControl: the same 8 FoE problems without a pool — 2 independent Node processes (own V8, GC and compiler threads, own wasm backend), in process; ${WARMUP} warm-up calls each, ${ROUNDS} interleaved rounds; load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
  console.log(`  ms per problem (one process): ${ms.map(f0).join(', ')}; split ${split.map((s) => s.join(',')).join(' | ')}`);
  console.log(`  alone (1 process, 8 problems): wall ${f0(median(alone.map((d) => d.wallMs)))} ms, process CPU ${f0(median(alone.map((d) => d.cpuMs)))} ms, main thread waiting for a CPU ${f0(median(alone.map((d) => d.waitMs)))} ms`);
  const slow = together.map((t) => t.reduce((x, y) => (y.wallMs > x.wallMs ? y : x)));
  console.log(`  together (2 processes, 4 + 4 at once): wall of the slower ${f0(median(slow.map((d) => d.wallMs)))} ms, process CPU ${together[0].map((_, i) => f0(median(together.map((t) => t[i].cpuMs)))).join(' + ')} ms, main threads waiting for a CPU ${together[0].map((_, i) => f0(median(together.map((t) => t[i].waitMs)))).join(' + ')} ms`);
  const cpuAlone = median(alone.map((d) => d.cpuMs));
  const cpuTogether = median(together.map((t) => t[0].cpuMs + t[1].cpuMs));
  console.log(`  CPU of the 8 problems: alone ${f0(cpuAlone)} ms, together ${f0(cpuTogether)} ms (${((cpuTogether / cpuAlone - 1) * 100).toFixed(1)} % more: shared caches / memory and two sets of V8 background threads)`);
  console.log(`  ceiling, alone / together (median over rounds of the per-round ratio): **${median(ratios).toFixed(2)}×** (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; in time order ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
}

if (process.argv[2] === 'child') void child();
else main().catch((e) => {
  console.error(e);
  process.exit(1);
});
