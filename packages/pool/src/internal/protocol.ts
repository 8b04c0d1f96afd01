// Messages between a worker pool and its threads. Every message a thread posts is followed
// by Atomics.add + Atomics.notify on the shared signal word, so the pool can wait for it
// synchronously (Atomics.wait) and read it with receiveMessageOnPort.
import type { MessagePort } from 'node:worker_threads';
import type { PackedWarm, PlainParams, SampleJob, SampleOutcome } from '@bilevel/core';

/** What a thread is started with (`workerData`). */
export interface ThreadData {
  index: number;
  module: string;
  setup: unknown;
  backend: string;
  port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: [0] message counter, [1 + index] 1 while the thread lives. */
  signal: SharedArrayBuffer;
}

/** A sample's warm start (x and the strategy's own slots) packed into a shared buffer. */
export interface SharedWarm {
  layout: PackedWarm['layout'];
  buffer: SharedArrayBuffer;
}

/** One sample of a run, with the shared buffer holding its warm start (if any). */
export interface ThreadJob {
  sample: number;
  warm?: SharedWarm;
}

/** `pull`: the order in which the threads take the jobs (indices into `jobs`; the longest first). */
export type ToThread =
  | { type: 'run'; id: number; theta: PlainParams; job: Omit<SampleJob, 'sample'>; jobs: ThreadJob[]; pull: number[]; next: SharedArrayBuffer }
  | { type: 'close' };

export type FromThread =
  | { type: 'ready'; index: number; samples: number }
  | { type: 'failed'; index: number; message: string }
  | { type: 'result'; id: number; k: number; outcome: SampleOutcome; warm?: PackedWarm }
  | { type: 'error'; id: number; k: number; sample: number; message: string }
  | { type: 'done'; id: number; index: number; timing: ThreadReport };

/** What a thread measured of one request (epoch ms, comparable between threads; CPU and wait from schedstat). */
export interface ThreadReport {
  startedAt: number;
  endedAt: number;
  cpuMs?: number;
  waitMs?: number;
  samples: Array<{ sample: number; ms: number }>;
}

/** Posts `message` and wakes a pool waiting on the signal word. */
export function post(port: MessagePort, signal: Int32Array, message: FromThread): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}
