/**
 * `@bilevel/distributed`: bilevel's per-sample hypergradient jobs on worker processes on any
 * number of machines, through BullMQ on Redis, with the same task module and the same
 * `workers` option as `@bilevel/pool`'s threads.
 *
 * @packageDocumentation
 */
export { distributedPool, DISTRIBUTED_POOL_DEFAULTS } from './distributed-pool.js';
export type { DistributedPoolOptions, DistributedStats } from './distributed-pool.js';
export { startWorker, DISTRIBUTED_WORKER_DEFAULTS } from './worker.js';
export type { DistributedWorkerOptions, DistributedWorker } from './worker.js';
export type { RedisConnection } from './internal/connection.js';
