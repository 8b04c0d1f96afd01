/**
 * The per-sample computation every engine runs: sample i's hypergradient (or value) at θ,
 * warm-started from sample i's previous solution, behind core's convergence policy. The
 * same code in this thread, in a worker thread and in a queue worker is what makes pooled
 * results equal to in-process ones bit for bit.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import { convergencePolicy, type ConvergencePolicy } from '../driver/policy.js';
import { hypergradientWithPolicy } from '../driver/run.js';
import type { PoolTask } from './task.js';
import type { Data } from '../problem.js';
import type { HypergradientRequest } from '../strategy.js';
import type { PlainParams, PlainTensor, PoolPolicy, PoolRequest, SampleOutcome } from './types.js';

/** Where a runner reads and writes one sample's warm start. */
export interface WarmAccess {
  /** The previous solution of the sample, if any. */
  get(): PlainTensor | undefined;
  /** Stores the new solution. */
  put(x: PlainTensor): void;
}

/** One sample's job as the runner sees it: the request without θ tensors, plus the sample. */
export type SampleJob = Omit<PoolRequest, 'theta' | 'samples'> & { sample: number };

/** Runs the jobs of one engine thread: {@link sampleRunner}. */
export interface SampleRunner {
  /** Computes one sample at θ (θ read, not consumed). */
  run(job: SampleJob, theta: Params, warm: WarmAccess): SampleOutcome;
  /** Frees the cached sample data. */
  dispose(): void;
}

function tensorsOf(value: unknown): tf.Tensor[] {
  if (value instanceof tf.Tensor) return [value];
  if (value == null || typeof value !== 'object') return [];
  return Object.values(value as Record<string, unknown>).filter((v): v is tf.Tensor => v instanceof tf.Tensor);
}

/** θ as tensors of this thread. */
export function paramsFromPlain(plain: PlainParams): Params {
  const out: Params = {};
  for (const k of Object.keys(plain).sort()) out[k] = tf.tensor(plain[k].values, plain[k].shape, 'float32');
  return out;
}

/** θ (or a gradient) as plain data. */
export function paramsToPlain(params: Params): PlainParams {
  const out: PlainParams = {};
  for (const k of Object.keys(params).sort()) out[k] = { shape: params[k].shape.slice(), values: Float32Array.from(params[k].dataSync() as Float32Array) };
  return out;
}

/**
 * The runner of one engine thread: caches each sample's data (built once by
 * `task.sample(i)`), keeps one convergence policy per mode (so `'warn'` prints once per
 * thread), and turns every failure into an error that names the sample.
 *
 * @param task - the task (from the module the thread imported).
 * @returns the {@link SampleRunner}.
 * @example
 * ```ts
 * const runner = sampleRunner(task);
 * const outcome = runner.run({ kind: 'hypergradient', sample: 3, tol: 1e-4 }, theta, warm);
 * ```
 */
export function sampleRunner(task: PoolTask): SampleRunner {
  const data = new Map<number, Data>();
  const policies = new Map<string, ConvergencePolicy>();
  const policyFor = (mode: PoolPolicy | undefined): ConvergencePolicy => {
    const key = JSON.stringify(mode ?? 'warn');
    let p = policies.get(key);
    if (p == null) {
      p = convergencePolicy(mode ?? 'warn', 'pool: later unconverged samples are flagged in their outcomes');
      policies.set(key, p);
    }
    return p;
  };
  const dataOf = (i: number): Data => {
    if (!data.has(i)) {
      if (!Number.isInteger(i) || i < 0 || i >= task.samples) throw new Error(`sample index ${i} is outside 0 … ${task.samples - 1} (the task defines ${task.samples} samples)`);
      const d = tf.tidy(() => {
        const built = task.sample(i);
        for (const t of tensorsOf(built)) tf.keep(t);
        return built as never;
      });
      data.set(i, d);
    }
    return data.get(i)!;
  };

  const resetStrategy = () => (task.strategy as { reset?: () => void }).reset?.();

  function run(job: SampleJob, theta: Params, warm: WarmAccess): SampleOutcome {
    const where = 'pool';
    // The strategy's own warm starts (x and the adjoint q of implicit, ...) would carry from
    // whatever sample this thread ran last, making results depend on the scheduling: forget
    // them; the pool warm-starts x per sample itself.
    resetStrategy();
    try {
      const d = dataOf(job.sample);
      const stored = job.warmStart === false ? undefined : warm.get();
      const x0 = stored == null ? undefined : tf.tensor(stored.values, stored.shape, 'float32');
      const request: HypergradientRequest<Data> = { problem: task.problem, theta, data: d, loss: task.loss, tol: job.tol, linearTol: job.linearTol, maxIter: job.maxIter, linearMaxIter: job.linearMaxIter, x0 };
      if (job.kind === 'value') return runValue(job, request, warm, x0);
      let result;
      try {
        result = hypergradientWithPolicy(where, task.strategy, request, policyFor(job.onNotConverged));
      } finally {
        x0?.dispose();
      }
      try {
        if (job.warmStart !== false) warm.put({ shape: result.x.shape.slice(), values: Float32Array.from(result.x.dataSync() as Float32Array) });
        return {
          sample: job.sample, value: result.value, grad: paramsToPlain(result.grad), bound: result.bound ?? NaN, valueBound: result.valueBound ?? NaN,
          work: result.work, converged: result.converged, status: result.status, message: result.message, residuals: { ...result.residuals },
        };
      } finally {
        result.dispose();
      }
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      throw new Error(`sample ${job.sample}: ${text}`, { cause: e });
    }
  }

  function runValue(job: SampleJob, request: HypergradientRequest<Data>, warm: WarmAccess, x0: tf.Tensor | undefined): SampleOutcome {
    if (typeof task.strategy.solve !== 'function') {
      x0?.dispose();
      throw new Error(`strategy '${task.strategy.name}' has no solve(); value-only requests need one`);
    }
    let solved;
    try {
      solved = task.strategy.solve(request);
    } finally {
      x0?.dispose();
    }
    try {
      policyFor(job.onNotConverged).settleSolve('pool', 'forward', solved, task.strategy.name, job.tol);
      if (job.warmStart !== false) warm.put({ shape: solved.x.shape.slice(), values: Float32Array.from(solved.x.dataSync() as Float32Array) });
      const value = tf.tidy(() => task.loss(solved.x, request.theta, request.data).dataSync()[0]);
      return {
        sample: job.sample, value, bound: NaN, valueBound: NaN, work: solved.work, converged: solved.converged,
        status: solved.converged ? 'converged' : 'forward-not-converged', message: solved.message, residuals: { forward: solved.residual },
      };
    } finally {
      solved.x.dispose();
    }
  }

  return {
    run,
    dispose() {
      resetStrategy();
      for (const d of data.values()) for (const t of tensorsOf(d)) t.dispose();
      data.clear();
    },
  };
}
