/**
 * A {@link SamplePool} on Node `worker_threads`: one tfjs backend per thread, the samples of
 * a request spread over the threads, results summed in a fixed order.
 *
 * @packageDocumentation
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { tf, defineOptions, opt, paramsToPlain, warmStateFromJson, warmStateToJson, packWarm, unpackWarm, type PackedWarm, type PoolRequest, type SampleOutcome, type SamplePool, type SampleWarm } from '@bilevel/core';
import { BOOT, bootPlan, moduleSpecifier } from './internal/boot.js';
import type { FromThread, SharedWarm, ThreadJob, ThreadReport, ToThread } from './internal/protocol.js';
import { epochMs } from './internal/clock.js';
import type { RunTiming } from './timing.js';

/** Options of {@link workerPool}. */
export interface WorkerPoolOptions {
  /** The task module: `new URL('./task.js', import.meta.url)`, an absolute path, or a package name. Its default export is a `definePoolTask(...)` (or a function of `setup` returning one). */
  module: string | URL;
  /** Threads (default: the machine's available parallelism). */
  threads?: number;
  /** Plain data passed to a task module that exports a function. */
  setup?: unknown;
  /** The tfjs backend of every thread (default: this thread's backend, else `'wasm'`). */
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  /** How long a thread may take to start, in ms (default 120 000). */
  startTimeoutMs?: number;
}

/** Exported defaults of {@link workerPool}. */
export const WORKER_POOL_DEFAULTS = Object.freeze({ startTimeoutMs: 120_000 });

const WORKER_POOL_OPTIONS = defineOptions<WorkerPoolOptions>('workerPool', {
  module: opt.custom('a URL, an absolute path or a package name', (v) => v instanceof URL || typeof v === 'string'),
  threads: opt.integer({ min: 1 }),
  setup: opt.any(),
  backend: opt.oneOf(['tensorflow', 'wasm', 'cpu']),
  startTimeoutMs: opt.number({ gt: 0 }),
}, workerPool);

/** A {@link SamplePool} on worker threads, which also says where each request's time went. */
export interface WorkerPool extends SamplePool {
  /** The per-thread timing of the last `run` (undefined before the first): see {@link RunTiming}. */
  timing(): RunTiming | undefined;
}

interface Thread {
  worker: Worker;
  port: MessagePort;
}

/**
 * Starts `threads` worker threads, each of which starts its own tfjs backend and imports the
 * task module, and returns a {@link SamplePool} over them.
 *
 * `run` is synchronous (the upper-level methods call their oracle synchronously): the calling
 * thread posts the request, then sleeps in `Atomics.wait` until the threads have answered.
 * Each thread pulls the next sample from a shared counter, longest first by the previous request's timing (load balancing); each sample's
 * warm start (its x and the strategy's own, e.g. the adjoint q) lives in a `SharedArrayBuffer`
 * that whichever thread runs the sample reads and overwrites in place, so results do not depend on the assignment: `run` returns exactly
 * what {@link inlinePool} returns for the same task, θ and history.
 *
 * Why not piscina: its API is asynchronous (a promise per task), and bilevel's oracle
 * contract is synchronous; blocking on a promise is impossible in JavaScript, while
 * `Atomics.wait` + `receiveMessageOnPort` make a synchronous pool in ~150 lines with no
 * dependency. A thread that throws fails the request with an error naming the sample.
 *
 * @param options - {@link WorkerPoolOptions}.
 * @returns the pool; `close()` it when done (its threads do not keep the process alive);
 *   `timing()` says, after each `run`, how long each thread was busy, its CPU time and its wait for a CPU.
 * @example
 * ```ts
 * import { workerPool } from '@bilevel/pool';
 * import { pooledHypergradient } from '@bilevel/core';
 * const pool = await workerPool({ module: new URL('./task.js', import.meta.url), threads: 2 });
 * const r = pooledHypergradient(pool, { theta, samples: [0, 1, 2, 3, 4, 5, 6, 7], tol: 1e-4 });
 * r.dispose();
 * await pool.close();
 * ```
 */
export async function workerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const where = 'workerPool';
  const o = WORKER_POOL_OPTIONS.withDefaults(options, WORKER_POOL_DEFAULTS);
  if (o.module == null) throw new Error(`${where}: option 'module' is required (the task module the threads import).`);
  const module = moduleSpecifier(where, o.module);
  const count = o.threads ?? availableParallelism();
  const current = tf.getBackend();
  const backend = o.backend ?? (current === 'tensorflow' || current === 'cpu' ? current : 'wasm');
  const plan = bootPlan(where, new URL('./internal/thread' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url), module);
  const signalBuffer = new SharedArrayBuffer(4 * (1 + count));
  const signal = new Int32Array(signalBuffer);
  const threads: Thread[] = [];
  for (let index = 0; index < count; index++) {
    const { port1, port2 } = new MessageChannel();
    Atomics.store(signal, 1 + index, 1);
    const worker = new Worker(BOOT, {
      eval: true,
      execArgv: plan.execArgv,
      workerData: { entry: plan.entry, tsx: plan.tsx, index, module, setup: o.setup, backend, port: port2, signal: signalBuffer },
      transferList: [port2],
    });
    worker.on('exit', () => Atomics.store(signal, 1 + index, 0));
    worker.on('error', () => {});
    worker.unref();
    port1.unref();
    threads.push({ worker, port: port1 });
  }
  const stopAll = async () => {
    await Promise.all(threads.map((t) => t.worker.terminate()));
  };

  // Start-up is asynchronous (the caller awaits the pool): poll without blocking the event loop.
  let samples = -1;
  const ready = new Set<number>();
  const started = Date.now();
  while (ready.size < count) {
    for (const [index, t] of threads.entries()) {
      for (let m = receiveMessageOnPort(t.port); m != null; m = receiveMessageOnPort(t.port)) {
        const msg = m.message as FromThread;
        if (msg.type === 'failed') {
          await stopAll();
          throw new Error(`${where}: thread ${index} could not load task module '${module}': ${msg.message}`);
        }
        if (msg.type === 'ready') {
          ready.add(index);
          if (samples >= 0 && msg.samples !== samples) {
            await stopAll();
            throw new Error(`${where}: the task module '${module}' defines ${msg.samples} samples in thread ${index} but ${samples} in another; it must be deterministic.`);
          }
          samples = msg.samples;
        }
      }
      if (!ready.has(index) && Atomics.load(signal, 1 + index) === 0) {
        await stopAll();
        throw new Error(`${where}: thread ${index} exited while loading task module '${module}' (see the error printed above).`);
      }
    }
    if (Date.now() - started > o.startTimeoutMs) {
      await stopAll();
      throw new Error(`${where}: the threads did not load task module '${module}' within ${o.startTimeoutMs} ms; raise option 'startTimeoutMs' or check the module.`);
    }
    if (ready.size < count) await new Promise((r) => setTimeout(r, 5));
  }

  const warm = new Map<number, SharedWarm>();
  let nextId = 1;
  let closed = false;
  let last: RunTiming | undefined;
  // ms each sample took last time, per request kind: the threads take the longest first
  const cost = new Map<string, number>();

  function run(request: PoolRequest): SampleOutcome[] {
    if (closed) throw new Error(`${where}: the pool is closed.`);
    const { theta, samples: order, ...job } = request;
    const id = nextId++;
    const jobs: ThreadJob[] = order.map((sample) => ({ sample, warm: job.warmStart === false ? undefined : warm.get(sample) }));
    const costOf = (k: number) => cost.get(`${job.kind}:${order[k]}`) ?? Infinity;
    const pull = order.map((_, k) => k).sort((a, b) => costOf(b) - costOf(a) || a - b);
    const message: ToThread = { type: 'run', id, theta: paramsToPlain(theta), job, jobs, pull, next: new SharedArrayBuffer(4) };
    const outcomes: Array<SampleOutcome | undefined> = new Array(order.length);
    const errors: Array<{ k: number; sample: number; message: string }> = [];
    const done = new Set<number>();
    const reports: ThreadReport[] = new Array(count);
    let seen = Atomics.load(signal, 0);
    const postedAt = epochMs();
    for (const t of threads) t.port.postMessage(message);
    while (done.size < count) {
      for (const [index, t] of threads.entries()) {
        for (let m = receiveMessageOnPort(t.port); m != null; m = receiveMessageOnPort(t.port)) {
          const msg = m.message as FromThread;
          if (msg.type === 'result' && msg.id === id) {
            outcomes[msg.k] = msg.outcome;
            if (msg.warm != null) warm.set(order[msg.k], storeWarm(msg.warm));
          } else if (msg.type === 'error' && msg.id === id) errors.push(msg);
          else if (msg.type === 'done' && msg.id === id) {
            done.add(index);
            reports[index] = msg.timing;
          }
        }
        if (!done.has(index) && Atomics.load(signal, 1 + index) === 0) {
          throw new Error(`${where}: thread ${index} died during a request (samples ${order.join(', ')}); the pool cannot continue — close it and start a new one.`);
        }
      }
      if (done.size < count) {
        Atomics.wait(signal, 0, seen, 250);
        seen = Atomics.load(signal, 0);
      }
    }
    for (const r of reports) for (const x of r.samples) cost.set(`${job.kind}:${x.sample}`, x.ms);
    last = {
      wallMs: epochMs() - postedAt,
      threads: reports.map((r, thread) => ({ thread, startMs: r.startedAt - postedAt, busyMs: r.endedAt - r.startedAt, cpuMs: r.cpuMs, waitMs: r.waitMs, samples: r.samples })),
    };
    if (errors.length > 0) {
      errors.sort((a, b) => a.k - b.k);
      throw new Error(`${where}: ${errors[0].message}${errors.length > 1 ? ` (and ${errors.length - 1} more failed samples: ${errors.slice(1).map((e) => e.sample).join(', ')})` : ''}`);
    }
    return outcomes as SampleOutcome[];
  }

  return {
    kind: 'sample-pool',
    engine: 'worker-threads',
    size: count,
    samples,
    run,
    timing: () => last,
    saveState: () => warmStateToJson(new Map<number, SampleWarm>([...warm].map(([k, v]) => [k, unpackWarm(v.layout, new Float32Array(v.buffer))]))),
    loadState(state) {
      warm.clear();
      for (const [k, v] of warmStateFromJson(where, state)) warm.set(k, storeWarm(packWarm(v)));
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of threads) t.port.postMessage({ type: 'close' } satisfies ToThread);
      await stopAll();
    },
  };
}

function storeWarm(packed: PackedWarm): SharedWarm {
  const buffer = new SharedArrayBuffer(4 * packed.values.length);
  new Float32Array(buffer).set(packed.values);
  return { layout: packed.layout.map(([slot, shape]) => [slot, shape.slice()]), buffer };
}
