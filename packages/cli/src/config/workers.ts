/**
 * Config schema, part 4: where the per-crop hypergradients are computed — in this process on
 * the whole batch (no `workers`, the default), crop by crop on threads of this machine
 * (`@bilevel/pool`), or crop by crop on worker processes of any machine through Redis
 * (`@bilevel/distributed`). The same config drives all three.
 *
 * @packageDocumentation
 */
import { z } from 'zod';

/** Crop by crop in this thread: the reference the other engines equal bit for bit. */
export const inlineWorkers = z.strictObject({
  kind: z.literal('inline'),
}).describe("crop by crop in this thread (inlinePool, @bilevel/core): the reference 'threads' and 'redis' equal bit for bit");

/** Worker threads of this process. */
export const threadWorkers = z.strictObject({
  kind: z.literal('threads'),
  count: z.int().min(1).max(256).optional().describe('worker threads (default: the available cores)'),
}).describe('worker threads of this machine (@bilevel/pool workerPool)');

/** Worker processes on any machine, through BullMQ on Redis. */
export const redisWorkers = z.strictObject({
  kind: z.literal('redis'),
  url: z.string().regex(/^rediss?:\/\/\S+$/, { error: 'must be a Redis URL such as redis://127.0.0.1:6379' }).default('redis://127.0.0.1:6379').describe('the Redis server the workers reach'),
  queue: z.string().regex(/^[^:\s]+$/, { error: "must be a queue name without ':' or spaces" }).default('bilevel').describe('the BullMQ queue (the workers of `bilevel worker` use the same config)'),
  processes: z.int().min(0).max(256).default(0).describe('worker processes `bilevel train` starts on this machine (0: start them with `bilevel worker <config>` on each machine)'),
}).describe('worker processes on any machine, through BullMQ on Redis (@bilevel/distributed)');

/** Every engine. */
export const WORKERS_SCHEMAS = [inlineWorkers, threadWorkers, redisWorkers] as const;

/** The `workers` field. */
export const workersSchema = z.discriminatedUnion('kind', WORKERS_SCHEMAS)
  .describe('compute the hypergradient crop by crop on threads or worker processes (default: the whole batch in this process)');

/** A validated `workers` field. */
export type WorkersConfig = z.output<typeof workersSchema>;
