// The coordinator's bridge thread: the asynchronous BullMQ/Redis side of a synchronous
// pool. It stores θ under its content address, enqueues the jobs that are not already in
// the queue (a resumed coordinator finds the finished ones and re-issues nothing for them),
// waits for each job, and posts the outcomes to the calling thread.
import { workerData, type MessagePort } from 'node:worker_threads';
import { Queue, QueueEvents, Job } from 'bullmq';
import { Redis } from 'ioredis';
import { contentKey, type WireOutcome } from './codec.js';
import { redisOptions, type RedisConnection } from './connection.js';
import { THETA_PREFIX, jobId, warmKey, type JobData } from './keys.js';

export interface BridgeData {
  connection: RedisConnection;
  queue: string;
  ttlSeconds: number;
  jobTimeoutMs: number;
  port: MessagePort;
  signal: SharedArrayBuffer;
}

export type ToBridge =
  | { type: 'run'; id: number; run: string; call: number; theta: string; job: JobData['job']; jobs: Array<{ sample: number; warmFrom?: string }> }
  | { type: 'close' };

export type FromBridge =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; k: number; outcome: WireOutcome; warmTo: string; reused: boolean }
  | { type: 'error'; id: number; k: number; sample: number; message: string }
  | { type: 'done'; id: number; added: number; reused: number };

const data = workerData as BridgeData;
const signal = new Int32Array(data.signal);
const { port } = data;

function post(message: FromBridge): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

const parse = (v: unknown): WireOutcome => (typeof v === 'string' ? JSON.parse(v) : v) as WireOutcome;

async function main(): Promise<void> {
  const queue = new Queue<JobData, WireOutcome>(data.queue, { connection: redisOptions(data.connection, false) as never });
  const events = new QueueEvents(data.queue, { connection: redisOptions(data.connection, true) as never });
  const redis = new Redis(redisOptions(data.connection, false));
  // every waiting job listens on the queue's 'closing' event: a batch of hundreds is normal
  queue.setMaxListeners(0);
  events.setMaxListeners(0);
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), redis.ping()]);
  } catch (e) {
    post({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  post({ type: 'ready' });

  const run = async (m: Extract<ToBridge, { type: 'run' }>) => {
    let added = 0;
    let reused = 0;
    try {
      const key = contentKey(THETA_PREFIX, m.theta);
      await redis.set(key, m.theta, 'EX', data.ttlSeconds, 'NX');
      const specs = m.jobs.map(({ sample, warmFrom }) => {
        const jd: JobData = { run: m.run, call: m.call, sample, theta: key, warmFrom, warmTo: warmKey(m.run, sample, m.call), job: m.job };
        return { name: 'sample', data: jd, opts: { jobId: jobId(m.run, m.call, key, sample), removeOnComplete: { age: data.ttlSeconds }, removeOnFail: { age: data.ttlSeconds } } };
      });
      const existing = await Promise.all(specs.map((s) => Job.fromId<JobData, WireOutcome>(queue, s.opts.jobId)));
      const fresh = specs.filter((_, k) => existing[k] == null);
      reused = specs.length - fresh.length;
      const made = fresh.length > 0 ? await queue.addBulk(fresh) : [];
      added = made.length;
      const byId = new Map<string, Job<JobData, WireOutcome>>();
      for (const j of [...existing, ...made]) if (j != null) byId.set(String(j.id), j);
      await Promise.all(specs.map(async (s, k) => {
        const job = byId.get(s.opts.jobId)!;
        try {
          const value = parse(await job.waitUntilFinished(events, data.jobTimeoutMs));
          post({ type: 'result', id: m.id, k, outcome: value, warmTo: s.data.warmTo, reused: existing[k] != null });
        } catch (e) {
          post({ type: 'error', id: m.id, k, sample: s.data.sample, message: e instanceof Error ? e.message : String(e) });
        }
      }));
    } catch (e) {
      post({ type: 'error', id: m.id, k: -1, sample: -1, message: e instanceof Error ? e.message : String(e) });
    } finally {
      post({ type: 'done', id: m.id, added, reused });
    }
  };

  port.on('message', (m: ToBridge) => {
    if (m.type === 'run') void run(m);
    else if (m.type === 'close') {
      void Promise.all([queue.close(), events.close(), redis.quit()]).finally(() => port.close());
    }
  });
}

void main();
