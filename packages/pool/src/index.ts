/**
 * `@bilevel/pool`: a minibatch's lower-level solves on every core, through Node
 * `worker_threads` (one tfjs backend per thread), with results summed in a fixed order.
 *
 * @packageDocumentation
 */
export { workerPool, WORKER_POOL_DEFAULTS } from './worker-pool.js';
export type { WorkerPoolOptions } from './worker-pool.js';
export type { WorkerPool } from './worker-pool.js';
export { summarizeTiming } from './timing.js';
export type { RunTiming, ThreadTiming } from './timing.js';
