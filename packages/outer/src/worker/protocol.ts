/**
 * The messages `serveTraining` and `startTraining` exchange: plain, structured-clone-safe
 * objects (numbers, strings, arrays), so any `postMessage` carries them.
 *
 * @packageDocumentation
 */
import type { Work } from '@bilevel/core';
import type { ParamsArrays, StopReason } from '../types.js';
import type { ProgressEvent } from '../train.js';

/**
 * What both ends need of a port: `postMessage` plus one listener style. A Web Worker
 * (`new Worker(...)` outside, `self` inside), a `MessagePort`, a Node `worker_threads`
 * `Worker` or its `parentPort` all qualify.
 */
export interface MessagePortLike {
  postMessage(message: unknown): void;
  addEventListener?(type: string, listener: (event: unknown) => void): void;
  removeEventListener?(type: string, listener: (event: unknown) => void): void;
  start?(): void;
  on?(type: string, listener: (data: unknown) => void): unknown;
  off?(type: string, listener: (data: unknown) => void): unknown;
  removeListener?(type: string, listener: (data: unknown) => void): unknown;
}

/** One upper-level iteration, as it crosses the worker boundary. */
export interface TrainingProgress extends ProgressEvent {
  /** `'running'` on progress events (`status` keeps train's per-iteration convergence status). */
  phase: 'running';
  /** The optimised variable after the iteration, when the run was started with `theta: true`. */
  theta?: ParamsArrays;
}

/** The end of a run, as it crosses the worker boundary. */
export interface TrainingOutcome {
  /** Why it stopped; `'aborted'` after `stop()`. */
  status: StopReason;
  message: string;
  /** Iterations done (across resumes). */
  iterations: number;
  /** Final parameters in model space, as numbers. */
  theta: ParamsArrays;
  history: ProgressEvent[];
  work: Work;
}

/** Messages from the page to the worker. */
export type ToWorker =
  | { type: 'bilevel-train:start'; id: number; request: unknown; theta: boolean }
  | { type: 'bilevel-train:stop'; id: number };

/** Messages from the worker to the page. */
export type FromWorker =
  | { type: 'bilevel-train:progress'; id: number; event: TrainingProgress }
  | { type: 'bilevel-train:done'; id: number; outcome: TrainingOutcome }
  | { type: 'bilevel-train:error'; id: number; message: string };

/** True for a message of this protocol (other traffic on the same port is ignored). */
export function isProtocolMessage(data: unknown): data is ToWorker | FromWorker {
  return typeof data === 'object' && data != null && typeof (data as { type?: unknown }).type === 'string' && (data as { type: string }).type.startsWith('bilevel-train:');
}
