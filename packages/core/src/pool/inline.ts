/**
 * The in-process engine: the reference every other pool is compared with.
 *
 * @packageDocumentation
 */
import type { PoolTask } from './task.js';
import type { SampleWarm, SamplePool } from './types.js';
import { sampleRunner } from './runner.js';
import { warmStateFromJson, warmStateToJson } from './warm-state.js';

/**
 * A {@link SamplePool} that runs every sample in this thread, one after another, with the
 * same per-sample code and warm starts as the worker engines: their results must equal its
 * results bit for bit.
 *
 * @param task - a task from {@link definePoolTask} (the object the task module exports).
 * @returns the pool.
 * @example
 * ```ts
 * const pool = inlinePool(task);
 * const r = pooledHypergradient(pool, { theta, samples: [0, 1, 2, 3] });
 * ```
 */
export function inlinePool<D>(task: PoolTask<D>): SamplePool {
  if (task == null || task.kind !== 'pool-task') throw new Error('inlinePool: pass a task made by definePoolTask({ problem, strategy, loss, samples, sample }).');
  const runner = sampleRunner(task as unknown as PoolTask);
  const warm = new Map<number, SampleWarm>();
  let closed = false;
  return {
    kind: 'sample-pool',
    engine: 'inline',
    size: 1,
    samples: task.samples,
    run(request) {
      if (closed) throw new Error('inlinePool: the pool is closed.');
      const { theta, samples, ...job } = request;
      return samples.map((sample) => runner.run({ ...job, sample }, theta, { get: () => warm.get(sample), put: (w) => warm.set(sample, w) }));
    },
    saveState: () => warmStateToJson(warm),
    loadState(state) {
      warm.clear();
      for (const [k, v] of warmStateFromJson('inlinePool', state)) warm.set(k, v);
    },
    async close() {
      closed = true;
      runner.dispose();
    },
  };
}
