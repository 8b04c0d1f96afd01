/**
 * A worker process of a distributed pool: takes per-sample jobs from the queue, runs them
 * with core's per-sample runner (the same code as the thread pool and the in-process
 * pool), reads θ and its sample's warm start from Redis by key and writes the new warm
 * start back.
 *
 * @packageDocumentation
 */
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend, defineOptions, opt, paramsFromPlain, disposeParams, sampleRunner, taskFromModule, type BackendName, type Params, type PoolPolicy, type SampleWarm } from '@bilevel/core';
import { outcomeToWire, paramsFromWire, warmFromWire, warmToWire, type WireOutcome } from './internal/codec.js';
import { CONNECTION, redisOptions, type RedisConnection } from './internal/connection.js';
import type { JobData } from './internal/keys.js';

/** Options of {@link startWorker}. */
export interface DistributedWorkerOptions {
  /** Where Redis is. */
  connection: RedisConnection;
  /** Queue name (default `'bilevel'`); the coordinator's `distributedPool` uses the same. */
  queue?: string;
  /** The task module (as for `workerPool`): a URL, an absolute path or a package name. */
  module: string | URL;
  /** Plain data for a task module that exports a function. */
  setup?: unknown;
  /** tfjs backend of this process (default `'wasm'`). */
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  /** How long a job's lock lasts without renewal, ms (default 30 000): a killed worker's job is retried after about this long. */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for, ms (default 30 000). */
  stalledIntervalMs?: number;
  /** How often one job may stall (its worker died) before it fails (default 2). */
  maxStalledCount?: number;
  /** Seconds warm starts are kept in Redis (default 7 days). */
  ttlSeconds?: number;
  /** Called when a job starts (for logs and tests). */
  onJob?: (info: { id: string; sample: number; call: number }) => void;
}

/** Exported defaults of {@link startWorker}. */
export const DISTRIBUTED_WORKER_DEFAULTS = Object.freeze({ queue: 'bilevel', backend: 'wasm' as const, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 2, ttlSeconds: 7 * 24 * 3600 });

const WORKER_OPTIONS = defineOptions<DistributedWorkerOptions>('startWorker', {
  connection: CONNECTION,
  queue: opt.string(),
  module: opt.custom('a URL, an absolute path or a package name', (v) => v instanceof URL || typeof v === 'string'),
  setup: opt.any(),
  backend: opt.oneOf(['tensorflow', 'wasm', 'cpu']),
  lockDurationMs: opt.number({ gt: 0 }),
  stalledIntervalMs: opt.number({ gt: 0 }),
  maxStalledCount: opt.integer({ min: 0 }),
  ttlSeconds: opt.integer({ min: 1 }),
  onJob: opt.func(),
}, startWorker);

/** A running worker: {@link startWorker}'s result. */
export interface DistributedWorker {
  /** Jobs completed by this worker. */
  readonly processed: number;
  /** Stops taking jobs, finishes the current one, closes the connections. */
  close(): Promise<void>;
}

/**
 * Starts a worker in this process: one tfjs backend, one job at a time (run one process
 * per core; start as many processes on as many machines as Redis can reach).
 *
 * A job carries references only: the content address of θ, the keys of its sample's
 * previous and next warm start, the accuracies and the sample index; the task module
 * builds the sample's data itself. A job that throws (bad data, a strategy error) fails
 * for good (no retry: it would fail the same way) with a message naming the sample; a job
 * whose worker dies is retried by another worker once its lock expires (BullMQ's stalled
 * jobs), and gives the same result, since it depends only on θ, the sample and its warm start.
 *
 * @param options - {@link DistributedWorkerOptions}.
 * @returns the running worker.
 * @example
 * ```ts
 * // worker.ts, run as many times as there are cores: `node worker.js`
 * import { startWorker } from '@bilevel/distributed';
 * await startWorker({ connection: 'redis://10.0.0.5:6379', module: new URL('./task.js', import.meta.url) });
 * ```
 */
export async function startWorker(options: DistributedWorkerOptions): Promise<DistributedWorker> {
  const where = 'startWorker';
  const o = WORKER_OPTIONS.withDefaults(options, DISTRIBUTED_WORKER_DEFAULTS);
  if (o.connection == null || o.module == null) throw new Error(`${where}: options 'connection' and 'module' are required.`);
  const specifier = o.module instanceof URL ? o.module.href : isAbsolute(o.module) ? pathToFileURL(o.module).href : o.module;
  await initBackend({ backend: o.backend as BackendName, log: false });
  const task = await taskFromModule(await import(specifier), o.setup, specifier);
  const runner = sampleRunner(task);
  const redis = new Redis(redisOptions(o.connection, false));
  let cached: { key: string; theta: Params } | undefined;
  let processed = 0;

  const thetaOf = async (key: string): Promise<Params> => {
    if (cached?.key === key) return cached.theta;
    const text = await redis.get(key);
    if (text == null) throw new UnrecoverableError(`θ '${key}' is not in Redis (expired, or another Redis than the coordinator's)`);
    if (cached != null) disposeParams(cached.theta);
    cached = { key, theta: paramsFromPlain(paramsFromWire(JSON.parse(text))) };
    return cached.theta;
  };

  const processor = async (job: Job<JobData>): Promise<WireOutcome> => {
    const d = job.data;
    o.onJob?.({ id: String(job.id), sample: d.sample, call: d.call });
    const theta = await thetaOf(d.theta);
    const stored = d.warmFrom == null ? null : await redis.get(d.warmFrom);
    const warm: SampleWarm | undefined = stored == null ? undefined : warmFromWire(JSON.parse(stored));
    let next: SampleWarm | undefined;
    let outcome;
    try {
      outcome = runner.run({ ...d.job, onNotConverged: d.job.onNotConverged as PoolPolicy | undefined, sample: d.sample }, theta, { get: () => warm, put: (w) => (next = w) });
    } catch (e) {
      throw new UnrecoverableError(e instanceof Error ? e.message : String(e));
    }
    if (next != null) await redis.set(d.warmTo, JSON.stringify(warmToWire(next)), 'EX', o.ttlSeconds);
    processed += 1;
    return outcomeToWire(outcome);
  };

  const worker = new Worker<JobData, WireOutcome>(o.queue, processor, {
    connection: redisOptions(o.connection, true) as never,
    concurrency: 1,
    lockDuration: o.lockDurationMs,
    stalledInterval: o.stalledIntervalMs,
    maxStalledCount: o.maxStalledCount,
  });
  worker.on('error', (e) => console.error(`${where}: ${e.message}`));
  await worker.waitUntilReady();
  return {
    get processed() {
      return processed;
    },
    async close() {
      await worker.close();
      await redis.quit();
      runner.dispose();
      if (cached != null) disposeParams(cached.theta);
    },
  };
}
