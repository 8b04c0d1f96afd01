import { checkOptions, opt } from '@bilevel/core';
import { errorText, listen } from '../internal/port.js';
import { isProtocolMessage, type FromWorker, type MessagePortLike, type ToWorker, type TrainingOutcome, type TrainingProgress } from './protocol.js';

/** Options of {@link startTraining}. */
export interface StartTrainingOptions {
  /** Send θ (as numbers) with every progress event (default `false`: only the final θ). */
  theta?: boolean;
  /** Called for every progress event (besides the `events` iterator). */
  onProgress?: (event: TrainingProgress) => void;
}

/** A run in a worker, seen from the page. */
export interface TrainingRun {
  /** Progress events in order; the iteration ends with the run (and throws if it failed). Buffered until read. */
  events: AsyncIterable<TrainingProgress>;
  /** Asks the worker to stop before its next iteration; `result` then resolves with status `'aborted'`. */
  stop(): void;
  /** The outcome; rejects with the worker's error text, or when the worker exits or fails first. */
  result: Promise<TrainingOutcome>;
}

let nextId = 1;
const START_SCHEMA = { theta: opt.boolean(), onProgress: opt.func() };

/**
 * Starts a training run in a worker that runs {@link serveTraining}, and returns its
 * progress events, a stop that works, and the outcome.
 *
 * @param worker - a Web Worker, a Node `worker_threads` `Worker`, or a `MessagePort`.
 * @param request - plain data for the worker's builder (structured-clone-safe).
 * @param options - `theta` (send θ with every event), `onProgress`.
 * @returns `{ events, stop, result }`.
 * @example
 * ```ts
 * const worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module' });
 * const run = startTraining(worker, { alpha0: 0.05 }, { theta: true });
 * stopButton.onclick = () => run.stop();
 * for await (const e of run.events) plot(e.iteration, e.loss, e.work, e.eps);
 * const { status, theta } = await run.result;   // 'budget-iterations', 'aborted', ...
 * ```
 */
export function startTraining<R = unknown>(worker: MessagePortLike, request: R, options: StartTrainingOptions = {}): TrainingRun {
  if (worker == null || typeof worker.postMessage !== 'function') {
    throw new Error('startTraining: the first argument must be a Worker, a worker_threads Worker or a MessagePort (something with postMessage).');
  }
  checkOptions('startTraining', options, START_SCHEMA);
  const id = nextId++;
  const queue: TrainingProgress[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: Error | null = null;
  let resolveResult!: (o: TrainingOutcome) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<TrainingOutcome>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // a caller that only iterates `events` must not see an unhandled rejection
  result.catch(() => {});
  const unsubscribe: Array<() => void> = [];
  const finish = (outcome: TrainingOutcome | null, error: Error | null) => {
    if (finished) return;
    finished = true;
    failure = error;
    unsubscribe.forEach((u) => u());
    if (error != null) rejectResult(error);
    else resolveResult(outcome!);
    wake?.();
  };
  unsubscribe.push(listen(worker, 'message', (data) => {
    if (!isProtocolMessage(data) || (data as FromWorker).id !== id) return;
    const message = data as FromWorker;
    if (message.type === 'bilevel-train:progress') {
      queue.push(message.event);
      options.onProgress?.(message.event);
      wake?.();
    } else if (message.type === 'bilevel-train:done') finish(message.outcome, null);
    else if (message.type === 'bilevel-train:error') finish(null, new Error(message.message));
  }));
  // a worker that crashes or exits must not leave the page waiting forever
  if (typeof worker.on === 'function' || typeof worker.addEventListener === 'function') {
    unsubscribe.push(listen(worker, 'error', (e) => finish(null, new Error(`startTraining: the worker failed: ${errorText((e as { message?: unknown })?.message ?? e)}`))));
    if (typeof worker.on === 'function') {
      unsubscribe.push(listen(worker, 'exit', (code) => finish(null, new Error(`startTraining: the worker exited (code ${String(code)}) before the run finished.`))));
    }
  }
  const start: ToWorker = { type: 'bilevel-train:start', id, request, theta: options.theta === true };
  worker.postMessage(start);

  const events: AsyncIterable<TrainingProgress> = {
    [Symbol.asyncIterator]() {
      return {
        async next(): Promise<IteratorResult<TrainingProgress>> {
          for (;;) {
            if (queue.length > 0) return { value: queue.shift()!, done: false };
            if (finished) {
              if (failure != null) throw failure;
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = null;
          }
        },
      };
    },
  };
  return {
    events,
    stop: () => {
      if (!finished) worker.postMessage({ type: 'bilevel-train:stop', id } satisfies ToWorker);
    },
    result,
  };
}
