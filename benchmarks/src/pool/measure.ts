/**
 * The pool section of bench:peer, its measuring part: one pooled hypergradient of a batch of 8
 * lower-level problems (foe-task.ts) on three sides — inline (the calling thread), 1 worker
 * thread, 2 worker threads — timed INTERLEAVED in rounds by the same machinery as the peers
 * (peer/rounds.ts `alternate`: the sides' order alternates between rounds), after every pool was
 * started and warmed outside the timed region. Each call records its wall and process CPU ms
 * (ours.ts `block`), the pool's per-thread timing (@bilevel/pool `timing()`: busy, CPU and
 * run-queue ms of each worker, the samples it ran), and whether its hypergradient equals the
 * warm-up's bit for bit.
 */
import { readFileSync } from 'node:fs';
import { inlinePool, pooledHypergradient, type Params, type PooledResult, type SamplePool } from '@bilevel/core';
import { workerPool, type RunTiming } from '@bilevel/pool';
import { block } from '../peer/ours.js';
import { alternate, type Block } from '../peer/rounds.js';
import task from './foe-task.js';

export const SAMPLES = [0, 1, 2, 3, 4, 5, 6, 7];

/** One timed call of one side. */
export interface Call { timing: RunTiming; same: boolean }

export interface PoolSide {
  label: string;
  threads: number;
  blocks: Block[];
  /** Per round, the calls of its block (same order as blocks[r].ms). */
  calls: Call[][];
  /** The warm-up calls (untimed), wall ms each: the pool's start-up cost after `workerPool` resolved. */
  warmupMs: number[];
  /** The warm-up calls' process CPU outside the workers (inline: outside the calling thread), ms each: V8's GC and compiler threads settling. */
  warmupOutsideMs: number[];
  startMs: number;
}

export interface PoolMeasurement { sides: PoolSide[]; work: number; grad: Float32Array; rounds: number; reps: number }

/** This thread's CPU and run-queue ms (Linux schedstat), for the inline side. */
function mainClock(): { cpuMs: number; waitMs: number } {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return { cpuMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return { cpuMs: NaN, waitMs: NaN };
  }
}

const flat = (r: PooledResult) => {
  const parts = Object.keys(r.grad!).sort().map((k) => r.grad![k].dataSync());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const equalBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/**
 * Starts the pools (inline, then 1 and 2 worker threads), warms each with `warmup` calls, then
 * times `rounds` interleaved rounds of `reps` calls per side; closes the pools.
 */
export async function measurePool(theta: Params, rounds: number, reps: number, warmup: number): Promise<PoolMeasurement> {
  const module = new URL('./foe-task.ts', import.meta.url);
  const request = { theta, samples: SAMPLES, warmStart: false };
  const made: Array<{ label: string; threads: number; pool: SamplePool; startMs: number }> = [];
  let t0 = performance.now();
  made.push({ label: 'inline', threads: 0, pool: inlinePool(task()), startMs: performance.now() - t0 });
  for (const threads of [1, 2]) {
    t0 = performance.now();
    const pool = await workerPool({ module, threads });
    made.push({ label: `${threads} worker${threads > 1 ? 's' : ''}`, threads, pool, startMs: performance.now() - t0 });
  }
  try {
    let reference: Float32Array | undefined;
    let work = 0;
    const outside: number[][] = made.map(() => []);
    const warmups = made.map(({ pool }, s) => Array.from({ length: warmup }, () => {
      const c0 = process.cpuUsage();
      const clock = mainClock();
      const w0 = performance.now();
      const r = pooledHypergradient(pool, request);
      const ms = performance.now() - w0;
      const c = process.cpuUsage(c0);
      const worker = (pool as SamplePool & { timing?: () => RunTiming | undefined }).timing?.();
      const inside = worker != null ? worker.threads.reduce((a, t) => a + (t.cpuMs ?? NaN), 0) : mainClock().cpuMs - clock.cpuMs;
      outside[s].push((c.user + c.system) / 1000 - inside);
      const g = flat(r);
      reference ??= g;
      work = r.work.innerIterations + r.work.linearIterations;
      if (!equalBits(g, reference)) throw new Error('bench:pool: the warm-up hypergradients of two sides differ; the pool must reduce in a fixed order');
      r.dispose();
      return ms;
    }));
    const calls: Call[][][] = made.map(() => []);
    const sides = made.map((m, s) => ({
      block: (n: number) => {
        const round: Call[] = [];
        calls[s].push(round);
        let clock = mainClock();
        let w0 = performance.now();
        return block(() => {
          clock = mainClock();
          w0 = performance.now();
          return pooledHypergradient(m.pool, request);
        }, n, (r) => {
          const same = equalBits(flat(r), reference!);
          r.dispose();
          const worker = (m.pool as SamplePool & { timing?: () => RunTiming | undefined }).timing?.();
          const c = mainClock();
          // inline: the calling thread is the one worker
          const timing = worker ?? { wallMs: performance.now() - w0, threads: [{ thread: 0, startMs: 0, busyMs: performance.now() - w0, cpuMs: c.cpuMs - clock.cpuMs, waitMs: c.waitMs - clock.waitMs, samples: [] }] };
          round.push({ timing, same });
        });
      },
    }));
    const blocks = await alternate(sides, rounds, reps);
    return {
      sides: made.map((m, s) => ({ label: m.label, threads: m.threads, blocks: blocks[s], calls: calls[s], warmupMs: warmups[s], warmupOutsideMs: outside[s], startMs: m.startMs })),
      work, grad: reference!, rounds, reps,
    };
  } finally {
    for (const m of made) await m.pool.close();
  }
}
