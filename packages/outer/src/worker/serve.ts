import { paramsToArrays, disposeParams, type Data } from '@bilevel/core';
import { trainSteps, type TrainOptions } from '../train.js';
import type { MethodStateBase, ParamsArrays } from '../types.js';
import { copyArrays } from '../internal/util.js';
import { errorText, listen } from '../internal/port.js';
import { isProtocolMessage, type FromWorker, type MessagePortLike, type ToWorker } from './protocol.js';

/** What a {@link TrainingBuilder} returns: the options of one `train` run and what to free after it. */
export interface TrainingSetup<S extends MethodStateBase = MethodStateBase, D = Data> {
  /** `train` options (problem, strategy, data, loss or oracle, method, θ₀, budget, ...); `signal` is combined with `stop()`. */
  options: TrainOptions<S, D>;
  /** Called when the run has ended (success, stop or error): dispose θ₀, data, strategy. */
  dispose?: () => void;
}

/**
 * Builds a run inside the worker from the page's request (plain data: sizes, seeds,
 * hyper-parameters, image bytes), since problems, strategies and tensors cannot cross
 * `postMessage`.
 */
export type TrainingBuilder<R = unknown> = (request: R) => TrainingSetup<any, any> | Promise<TrainingSetup<any, any>>;

/**
 * Serves training runs on a port, inside a worker: for each start message it calls
 * `build(request)`, runs `trainSteps` on the options and posts one progress message per
 * upper-level iteration (iteration, loss, gradNorm, bound, eps, delta, step, work, …, and θ
 * as numbers when asked), then the outcome (status, message, final θ, history, work), or
 * the error text. A stop message aborts the run before its next iteration (status
 * `'aborted'`); `train` yields one event-loop turn before every iteration, so the stop is
 * delivered even though tfjs computes synchronously.
 *
 * @param port - `self` in a Web Worker, `parentPort` in a Node `worker_threads` worker, or a `MessagePort`.
 * @param build - the page's request → {@link TrainingSetup}.
 * @returns a function that stops listening (runs in progress finish).
 * @example
 * ```ts
 * // worker.ts (a Web Worker; in Node: import { parentPort } from 'node:worker_threads')
 * import { initBackend } from '@bilevel/core';
 * import { serveTraining, maid } from '@bilevel/outer';
 * serveTraining(self, async (request: { alpha0: number }) => {
 *   await initBackend({ backend: 'wasm', wasmPaths: '/tfjs-wasm/' });
 *   const { problem, strategy, data, loss, theta0, dispose } = makeRun(request);
 *   return { options: { method: maid({ tol0: 0.1, step0: 1 }), problem, strategy, data, loss, theta0, budget: { iterations: 50 } }, dispose };
 * });
 * ```
 */
export function serveTraining<R = unknown>(port: MessagePortLike, build: TrainingBuilder<R>): () => void {
  const flags = new Map<number, { aborted: boolean }>();
  const post = (message: FromWorker) => port.postMessage(message);

  async function run(id: number, request: R, withTheta: boolean): Promise<void> {
    const flag = { aborted: false };
    flags.set(id, flag);
    let setup: TrainingSetup | undefined;
    try {
      setup = await build(request);
      if (setup == null || typeof setup !== 'object' || setup.options == null) {
        throw new Error('serveTraining: build(request) must return { options, dispose? } with the train options.');
      }
      const { options } = setup;
      const own = options.signal;
      let lastTheta: ParamsArrays | undefined;
      const steps = trainSteps({
        ...options,
        signal: { get aborted() { return flag.aborted || own?.aborted === true; } },
        onProgress: (event, theta) => {
          lastTheta = theta;
          options.onProgress?.(event, theta);
        },
      });
      for (;;) {
        const next = await steps.next();
        if (next.done) {
          const result = next.value;
          const theta = paramsToArrays(result.theta);
          disposeParams(result.theta);
          post({ type: 'bilevel-train:done', id, outcome: { status: result.status, message: result.message, iterations: result.history.length, theta, history: result.history, work: result.work } });
          return;
        }
        // (train yields an event-loop turn before each iteration, where a stop message lands)
        post({ type: 'bilevel-train:progress', id, event: { ...next.value, phase: 'running', ...(withTheta && lastTheta != null ? { theta: copyArrays(lastTheta) } : {}) } });
      }
    } catch (e) {
      post({ type: 'bilevel-train:error', id, message: errorText(e) });
    } finally {
      flags.delete(id);
      try {
        setup?.dispose?.();
      } catch (e) {
        post({ type: 'bilevel-train:error', id, message: `serveTraining: dispose() of the run failed: ${errorText(e)}` });
      }
    }
  }

  return listen(port, 'message', (data) => {
    if (!isProtocolMessage(data)) return;
    const message = data as ToWorker;
    if (message.type === 'bilevel-train:start') void run(message.id, message.request as R, message.theta === true);
    else if (message.type === 'bilevel-train:stop') {
      const flag = flags.get(message.id);
      if (flag != null) flag.aborted = true;
    }
  });
}
