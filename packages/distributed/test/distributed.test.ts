import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, Job } from 'bullmq';
import { tf, initBackend, inlinePool, disposeParams, pooledHypergradient, type SamplePool } from '@bilevel/core';
import { train, sgd, memoryStore, type CheckpointStore } from '@bilevel/outer';
import { distributedPool } from '../src/index.js';
import { testPoolTask as makeTask, startRedis, type TestRedis } from '@bilevel/testing/node';

const SETUP = { badSample: 9, samples: 10, size: 32 };
let PORT = 0;
let URL_ = '';
const WORKER = fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url));

let redis: TestRedis | undefined;
const workers: Array<{ proc: ChildProcess; lines: string[]; exit: Promise<NodeJS.Signals | number | null> }> = [];

function waitFor(proc: ChildProcess, lines: string[], pattern: RegExp, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not print ${pattern} within ${ms} ms; output: ${lines.join(' | ')}`)), ms);
    const check = () => {
      if (lines.some((l) => pattern.test(l))) {
        clearTimeout(timer);
        resolve();
      } else setTimeout(check, 20);
    };
    check();
    proc.once('exit', () => reject(new Error(`${what} exited early; output: ${lines.join(' | ')}`)));
  });
}

function startWorkerProcess(queue: string, dieOnCall?: number) {
  const args = ['--conditions=@bilevel/source', WORKER, URL_, queue, ...(dieOnCall == null ? [] : [String(dieOnCall)])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  proc.stdout!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter((l) => l !== '')));
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
  const w = { proc, lines, exit };
  workers.push(w);
  return w;
}

/** θ after 3 SGD iterations on minibatches of 4 of the 8 samples. */
async function sgdTheta(pool: SamplePool, iterations = 3, checkpoint?: { store: CheckpointStore; key: string; every: number }, resume = false, onProgress?: (e: { iteration: number }) => void) {
  const theta0 = { logAlpha: tf.scalar(-2) };
  const r = await train({ method: sgd({ step: 0.5, size: 8, batchSize: 4, tol: 1e-4, seed: 7 }), workers: pool, theta0, budget: { iterations }, checkpoint, resume, onProgress });
  theta0.logAlpha.dispose();
  const theta = Array.from(r.theta.logAlpha.dataSync());
  disposeParams(r.theta);
  return theta;
}

const QUEUE = 'bilevel-test';
let single: number[] | undefined;
/** θ of the single-process run (inline pool), computed once. */
async function singleProcess(): Promise<number[]> {
  if (single == null) {
    const reference = inlinePool(makeTask(SETUP));
    single = await sgdTheta(reference);
    await reference.close();
  }
  return single;
}
let group: ReturnType<typeof startWorkerProcess>[] = [];

describe('distributedPool: BullMQ on Redis, three worker processes', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    redis = await startRedis();
    PORT = redis.port;
    URL_ = redis.url;
    // three workers on one queue; the third SIGKILLs itself in the middle of its first job of call 2
    group = [startWorkerProcess(QUEUE), startWorkerProcess(QUEUE), startWorkerProcess(QUEUE, 2)];
    await Promise.all(group.map((w, i) => waitFor(w.proc, w.lines, /^ready/, 60_000, `worker ${i}`)));
  });
  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode == null && w.proc.signalCode == null) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exit));
    await redis?.stop();
  });

  it('a worker killed mid-run: its job is retried elsewhere and θ after 3 iterations equals the single-process θ bit for bit', async () => {
    const before = tf.memory().numTensors;
    const expected = await singleProcess();
    const queue = QUEUE;
    const pool = await distributedPool({ connection: URL_, samples: 10, queue });
    const t0 = performance.now();
    const got = await sgdTheta(pool);
    const ms = performance.now() - t0;
    await pool.close();
    const killed = await group[2].exit;
    const dying = group[2].lines.find((l) => l.startsWith('dying '))!.slice('dying '.length);
    const q = new Queue(queue, { connection: { host: '127.0.0.1', port: PORT } });
    const job = await Job.fromId(q, dying);
    const state = await job?.getState();
    await q.close();
    const retriedBy = group.slice(0, 2).findIndex((w) => w.lines.includes(`job ${dying}`));
    console.log(`[distributed] 3 sgd iterations (12 jobs) on 3 workers, one SIGKILLed mid-job ${dying} (exit: ${String(killed)}; retried by worker ${retriedBy}, attempts started ${job?.attemptsStarted}, state ${state}): θ ${got[0]} vs single-process ${expected[0]}, ${ms.toFixed(0)} ms; jobs started per worker ${group.map((w) => w.lines.filter((l) => l.startsWith('job ')).length).join(', ')}`);
    expect(killed).toBe('SIGKILL');
    expect(retriedBy).toBeGreaterThanOrEqual(0);
    expect(state).toBe('completed');
    expect(got).toEqual(expected);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a coordinator that dies after finishing work it had not checkpointed: the resumed run re-issues only the unfinished jobs', async () => {
    const queue = QUEUE;
    const expected = await singleProcess();
    // the first coordinator's checkpoints stop after iteration 1, while it runs iteration 2 (its 4 jobs finish in Redis)
    const inner = memoryStore();
    let crashed = false;
    const store: CheckpointStore = {
      read: (k) => inner.read(k),
      write: async (k, bytes) => (crashed ? undefined : inner.write(k, bytes)),
      append: async (k, bytes) => (crashed ? undefined : inner.append ? inner.append(k, bytes) : undefined),
    };
    const first = await distributedPool({ connection: URL_, samples: 10, queue });
    // nothing the first coordinator writes after iteration 1 reaches the store
    await sgdTheta(first, 2, { store, key: 'run', every: 1 }, false, (e) => {
      if (e.iteration >= 1) crashed = true;
    });
    await first.close();
    const second = await distributedPool({ connection: URL_, samples: 10, queue });
    const resumed = await sgdTheta(second, 3, { store: inner, key: 'run', every: 1 }, true);
    console.log(`[distributed] resumed coordinator: ${second.stats.reused} jobs found finished (not re-issued), ${second.stats.added} issued; θ ${resumed[0]} vs ${expected[0]}`);
    await second.close();
    expect(second.stats.reused).toBe(4);
    expect(second.stats.added).toBe(4);
    expect(resumed).toEqual(expected);
  });

  it('a sample that fails deterministically fails the step at once, naming the sample', async () => {
    const queue = QUEUE;
    const pool = await distributedPool({ connection: URL_, samples: 10, queue });
    const theta = { logAlpha: tf.scalar(-1) };
    const t0 = performance.now();
    expect(() => pooledHypergradient(pool, { theta, samples: [3, 9] })).toThrow(/distributedPool: sample 9: the file of sample 9 is corrupt/);
    expect(performance.now() - t0).toBeLessThan(20_000);
    theta.logAlpha.dispose();
    await pool.close();
  });
});
