/**
 * The user's side of a pool: a task module that a worker imports. It defines the
 * lower-level problem, the strategy, the per-sample loss and how to build sample `i`'s
 * data, so nothing that is code has to cross a thread or a machine: the coordinator sends
 * only θ and sample indices.
 *
 * @packageDocumentation
 */
import type { Data, Problem, FixedPointProblem } from '../problem.js';
import type { Loss, Strategy } from '../strategy.js';
import { defineOptions, opt } from '../options.js';

/** What a task module defines (see {@link definePoolTask}). */
export interface PoolTask<D = Data> {
  readonly kind: 'pool-task';
  /** The lower-level problem (`defineProblem` or `defineFixedPoint`). */
  problem: Problem<D> | FixedPointProblem<D>;
  /** How the solution map is differentiated. */
  strategy: Strategy;
  /** The loss of ONE sample, ℓ(x, θ; dataᵢ); the pool averages (or sums) over samples. */
  loss: Loss<D>;
  /** How many samples there are (indices 0 … samples − 1). */
  samples: number;
  /** Builds the data of sample `index` in the worker (kept for later calls). */
  sample(index: number): D;
}

/** What {@link definePoolTask} takes. */
export type PoolTaskSpec<D = Data> = Omit<PoolTask<D>, 'kind'>;

const TASK_OPTIONS = defineOptions<PoolTaskSpec<unknown>>('definePoolTask', {
  problem: opt.any(),
  strategy: opt.any(),
  loss: opt.func('pass (x, theta, data) => scalar tensor of one sample'),
  samples: opt.integer({ min: 1 }, 'give the number of samples'),
  sample: opt.func('pass (index) => data of that sample'),
});

/**
 * Declares a pool task: the default export of a module that pool workers import.
 *
 * The pooled hypergradient of a batch B is `(1/|B|) Σ_{i ∈ B} ∇θ ℓ(x̂ᵢ(θ), θ; dataᵢ)`
 * (or the plain sum), each term computed by `strategy` on `problem` with sample i's data,
 * summed in the order of B.
 *
 * @param spec - problem, strategy, per-sample loss, sample count, and `sample(i)`.
 * @returns the task (validated).
 * @example
 * ```ts
 * // task.ts — `workerPool({ module: new URL('./task.ts', import.meta.url), threads: 2 })`
 * export default definePoolTask({
 *   problem, strategy: implicit({ inner: lbfgs(), linear: cg() }),
 *   loss: (x, theta, d) => tf.mean(tf.square(tf.sub(x, d.clean))),
 *   samples: 8,
 *   sample: (i) => ({ noisy: noisyImage(i), clean: cleanImage(i) }),
 * });
 * ```
 */
export function definePoolTask<D = Data>(spec: PoolTaskSpec<D>): PoolTask<D> {
  const where = 'definePoolTask';
  if (spec == null || typeof spec !== 'object') throw new Error(`${where}: pass { problem, strategy, loss, samples, sample }.`);
  TASK_OPTIONS.check(spec as PoolTaskSpec<unknown>);
  const kind = (spec.problem as { kind?: string } | undefined)?.kind;
  if (kind !== 'energy' && kind !== 'fixed-point') throw new Error(`${where}: option 'problem' must come from defineProblem(...) or defineFixedPoint(...).`);
  if (spec.strategy == null || typeof spec.strategy.compute !== 'function') throw new Error(`${where}: option 'strategy' must be a strategy such as implicit({ inner, linear }).`);
  if (typeof spec.loss !== 'function') throw new Error(`${where}: option 'loss' must be a function (x, theta, data) => scalar tensor of one sample.`);
  if (!Number.isInteger(spec.samples) || spec.samples < 1) throw new Error(`${where}: option 'samples' must be a positive integer (the number of samples), got ${String(spec.samples)}.`);
  if (typeof spec.sample !== 'function') throw new Error(`${where}: option 'sample' must be a function (index) => data of that sample.`);
  return { kind: 'pool-task', ...spec };
}

/**
 * The task a module defines: its default export (or its `task` export), a
 * {@link PoolTask} or a function `(setup) => PoolTask | Promise<PoolTask>`.
 *
 * @param namespace - the imported module.
 * @param setup - plain data passed to a task function.
 * @param specifier - the module's name, for messages.
 * @returns the task.
 * @example
 * ```ts
 * const task = await taskFromModule(await import(specifier), { size: 32 }, specifier);
 * ```
 */
export async function taskFromModule(namespace: Record<string, unknown>, setup: unknown, specifier: string): Promise<PoolTask> {
  const exported = namespace.default ?? namespace.task;
  const value = typeof exported === 'function' ? await (exported as (s: unknown) => unknown)(setup) : exported;
  if (value == null || (value as { kind?: unknown }).kind !== 'pool-task') {
    throw new Error(`pool task '${specifier}': the module must \`export default definePoolTask({ problem, strategy, loss, samples, sample })\` (or a function of the setup data returning one).`);
  }
  return value as PoolTask;
}
