/**
 * A {@link SamplePool} whose samples run on worker processes anywhere, through BullMQ on
 * Redis: the coordinator side.
 *
 * @packageDocumentation
 */
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { defineOptions, opt, paramsToPlain, type PoolRequest, type SampleOutcome, type SamplePool } from '@bilevel/core';
import { BOOT, bridgePlan } from './internal/boot.js';
import type { FromBridge, ToBridge } from './internal/bridge.js';
import { outcomeFromWire, paramsToWire } from './internal/codec.js';
import { CONNECTION, type RedisConnection } from './internal/connection.js';

/** Options of {@link distributedPool}. */
export interface DistributedPoolOptions {
  /** Where Redis is (the workers' `startWorker` uses the same). */
  connection: RedisConnection;
  /** How many samples the task module defines (the coordinator does not import it). */
  samples: number;
  /** Queue name (default `'bilevel'`). */
  queue?: string;
  /** Run id: names the jobs and warm starts in Redis (default: a random UUID; restored by `loadState`). */
  run?: string;
  /** Seconds θ, warm starts and finished jobs are kept in Redis (default 7 days). */
  ttlSeconds?: number;
  /** How long to wait for one job, ms (default 1 hour). */
  jobTimeoutMs?: number;
  /** How many jobs run at once, for `size` (the workers decide; default 1). */
  size?: number;
}

/** Exported defaults of {@link distributedPool}. */
export const DISTRIBUTED_POOL_DEFAULTS = Object.freeze({ queue: 'bilevel', ttlSeconds: 7 * 24 * 3600, jobTimeoutMs: 3_600_000, size: 1 });

const POOL_OPTIONS = defineOptions<DistributedPoolOptions>('distributedPool', {
  connection: CONNECTION,
  samples: opt.integer({ min: 1 }, 'give the number of samples the task module defines'),
  queue: opt.custom("a queue name without ':'", (v) => typeof v === 'string' && v !== '' && !v.includes(':')),
  run: opt.custom("a run id without ':'", (v) => typeof v === 'string' && v !== '' && !v.includes(':')),
  ttlSeconds: opt.integer({ min: 1 }),
  jobTimeoutMs: opt.number({ gt: 0 }),
  size: opt.integer({ min: 1 }),
}, distributedPool);

/** What a distributed pool counted (for logs, tests and benchmarks). */
export interface DistributedStats {
  /** Jobs enqueued. */
  added: number;
  /** Jobs found finished in the queue and not issued again (a resumed coordinator). */
  reused: number;
}

/**
 * Connects to Redis and returns a {@link SamplePool} whose `run` enqueues one BullMQ job per
 * sample and waits for them (synchronously, like every pool: a bridge thread does the
 * asynchronous Redis work while the calling thread sleeps in `Atomics.wait`).
 *
 * - θ travels by reference: stored once per value under `bilevel:theta:<sha256>`; jobs
 *   carry the key. Sample data never travels: the workers' task module builds it.
 * - Warm starts live in Redis per sample (`bilevel:warm:<run>:<sample>:<call>`); each job
 *   names the key to read and the key to write, so a retried job reads the same warm start
 *   and any worker can take any job.
 * - Outcomes are summed by the caller in the order of the samples (`reduceSamples`), so
 *   the result is the single-process one bit for bit.
 * - Job ids are `<run>-c<call>-<θ key>-s<sample>`: a coordinator restarted from a
 *   checkpoint (which holds `saveState()`: run id, call counter, warm-start keys) finds the
 *   jobs that finished before it died and issues only the unfinished ones; a duplicate
 *   completion of one job id is never counted twice.
 *
 * @param options - {@link DistributedPoolOptions}.
 * @returns the pool with `stats`; `close()` it when done.
 * @example
 * ```ts
 * import { distributedPool } from '@bilevel/distributed';
 * const workers = await distributedPool({ connection: 'redis://10.0.0.5:6379', samples: 250 });
 * const { theta } = await train({ method: adam({ ... }), workers, theta0, budget: { iterations: 100 }, checkpoint });
 * await workers.close();
 * ```
 */
export async function distributedPool(options: DistributedPoolOptions): Promise<SamplePool & { readonly stats: DistributedStats; readonly runId: string }> {
  const where = 'distributedPool';
  const o = POOL_OPTIONS.withDefaults(options, DISTRIBUTED_POOL_DEFAULTS);
  if (o.connection == null || o.samples == null) throw new Error(`${where}: options 'connection' and 'samples' are required.`);
  const plan = bridgePlan(new URL('./internal/bridge' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url));
  const signalBuffer = new SharedArrayBuffer(4);
  const signal = new Int32Array(signalBuffer);
  const { port1, port2 } = new MessageChannel();
  let alive = true;
  const bridge = new Worker(BOOT, {
    eval: true,
    execArgv: plan.execArgv,
    workerData: { entry: plan.entry, tsx: plan.tsx, connection: o.connection, queue: o.queue, ttlSeconds: o.ttlSeconds, jobTimeoutMs: o.jobTimeoutMs, port: port2, signal: signalBuffer },
    transferList: [port2],
  });
  bridge.on('exit', () => {
    alive = false;
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
  bridge.on('error', () => {});
  bridge.unref();
  port1.unref();
  for (;;) {
    const m = receiveMessageOnPort(port1);
    if (m != null) {
      const msg = m.message as FromBridge;
      if (msg.type === 'ready') break;
      if (msg.type === 'failed') {
        await bridge.terminate();
        throw new Error(`${where}: cannot reach Redis at ${JSON.stringify(o.connection)}: ${msg.message}. Start it (redis-server --port 6379) or fix option 'connection'.`);
      }
    }
    if (!alive) throw new Error(`${where}: the bridge thread exited while connecting (see the error printed above).`);
    await new Promise((r) => setTimeout(r, 5));
  }

  let run = o.run ?? randomUUID();
  let calls = 0;
  const warm = new Map<number, string>();
  const stats: DistributedStats = { added: 0, reused: 0 };
  let nextId = 1;
  let closed = false;

  function runRequest(request: PoolRequest): SampleOutcome[] {
    if (closed) throw new Error(`${where}: the pool is closed.`);
    const { theta, samples: order, ...job } = request;
    const id = nextId++;
    calls += 1;
    const message: ToBridge = {
      type: 'run', id, run, call: calls, theta: JSON.stringify(paramsToWire(paramsToPlain(theta))),
      job: { ...job }, jobs: order.map((sample) => ({ sample, warmFrom: job.warmStart === false ? undefined : warm.get(sample) })),
    };
    const outcomes: Array<SampleOutcome | undefined> = new Array(order.length);
    const errors: Array<{ k: number; sample: number; message: string }> = [];
    let finished = false;
    let seen = Atomics.load(signal, 0);
    port1.postMessage(message);
    while (!finished) {
      for (let m = receiveMessageOnPort(port1); m != null; m = receiveMessageOnPort(port1)) {
        const msg = m.message as FromBridge;
        if (msg.type === 'result' && msg.id === id && outcomes[msg.k] == null) {
          outcomes[msg.k] = outcomeFromWire(msg.outcome);
          if (job.warmStart !== false) warm.set(order[msg.k], msg.warmTo);
        } else if (msg.type === 'error' && msg.id === id) errors.push(msg);
        else if (msg.type === 'done' && msg.id === id) {
          finished = true;
          stats.added += msg.added;
          stats.reused += msg.reused;
        }
      }
      if (!finished) {
        if (!alive) throw new Error(`${where}: the bridge thread died during a request; close the pool and start a new one.`);
        Atomics.wait(signal, 0, seen, 1000);
        seen = Atomics.load(signal, 0);
      }
    }
    if (errors.length > 0) {
      errors.sort((a, b) => a.k - b.k);
      const first = errors[0];
      throw new Error(`${where}: ${first.message.startsWith('sample ') ? first.message : `sample ${first.sample}: ${first.message}`}${errors.length > 1 ? ` (and ${errors.length - 1} more failed samples)` : ''}`);
    }
    return outcomes as SampleOutcome[];
  }

  return {
    kind: 'sample-pool',
    engine: 'bullmq',
    size: o.size,
    samples: o.samples,
    stats,
    get runId() {
      return run;
    },
    run: runRequest,
    saveState: () => ({ run, calls, warm: [...warm.entries()].sort((a, b) => a[0] - b[0]) }),
    loadState(state) {
      if (Array.isArray(state) && state.length === 0) {
        warm.clear();
        return;
      }
      const s = state as { run?: unknown; calls?: unknown; warm?: unknown };
      if (s == null || typeof s.run !== 'string' || !Number.isInteger(s.calls) || !Array.isArray(s.warm)) throw new Error(`${where}.loadState: expected the { run, calls, warm } object saveState() returned.`);
      run = s.run;
      calls = s.calls as number;
      warm.clear();
      for (const [k, v] of s.warm as Array<[number, string]>) warm.set(k, v);
    },
    async close() {
      if (closed) return;
      closed = true;
      port1.postMessage({ type: 'close' } satisfies ToBridge);
      await new Promise((r) => setTimeout(r, 50));
      await bridge.terminate();
    },
  } as SamplePool & { readonly stats: DistributedStats; readonly runId: string };
}
