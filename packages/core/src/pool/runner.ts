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
import { hypergradientWithPolicy, valueWithPolicy } from '../driver/run.js';
import type { PoolTask } from './task.js';
import type { Data } from '../problem.js';
import type { HypergradientRequest } from '../strategy.js';
import type { PlainParams, PoolPolicy, PoolRequest, SampleOutcome, SampleWarm } from './types.js';
import type { WarmState } from '../driver/warm.js';

/** Where a runner reads and writes one sample's warm start ({@link SampleWarm}: x and the strategy's own). */
export interface WarmAccess {
  /** The sample's warm start, if any. */
  get(): SampleWarm | undefined;
  /** Stores the new one. */
  put(warm: SampleWarm): void;
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

  type Warmable = { reset?: () => void; warmState?: () => WarmState; loadWarmState?: (state: WarmState) => void };
  const strategy = task.strategy as typeof task.strategy & Warmable;
  const keepsOwn = typeof strategy.warmState === 'function' && typeof strategy.loadWarmState === 'function';
  const resetStrategy = () => strategy.reset?.();
  // The strategy's own warm starts (its x, the adjoint q of implicit, ...) are the SAMPLE's: loaded
  // from the sample's stored state before its job and saved with it after, so that a result
  // depends on the sample's history only, never on which sample this thread ran before.
  const enter = (stored: SampleWarm | undefined) => {
    if (stored == null || !keepsOwn) return resetStrategy();
    const own: WarmState = {};
    for (const [slot, t] of Object.entries(stored)) if (slot !== 'x') own[slot] = { shape: t.shape.slice(), values: Float32Array.from(t.values) };
    strategy.loadWarmState!(own);
  };
  const leave = (x: tf.Tensor): SampleWarm => {
    const own = keepsOwn ? strategy.warmState!() : {};
    const out: SampleWarm = {};
    for (const [slot, t] of Object.entries(own)) if (slot !== 'x') out[slot] = t;
    out.x = { shape: x.shape.slice(), values: Float32Array.from(x.dataSync() as Float32Array) };
    return out;
  };

  function run(job: SampleJob, theta: Params, warm: WarmAccess): SampleOutcome {
    const where = 'pool';
    try {
      const d = dataOf(job.sample);
      const stored = job.warmStart === false ? undefined : warm.get();
      enter(stored);
      const x0 = stored?.x == null ? undefined : tf.tensor(stored.x.values, stored.x.shape, 'float32');
      const request: HypergradientRequest<Data> = { problem: task.problem, theta, data: d, loss: task.loss, tol: job.tol, linearTol: job.linearTol, maxIter: job.maxIter, linearMaxIter: job.linearMaxIter, x0 };
      if (job.kind === 'value') return runValue(job, request, warm, x0);
      let result;
      try {
        result = hypergradientWithPolicy(where, task.strategy, request, policyFor(job.onNotConverged));
      } finally {
        x0?.dispose();
      }
      try {
        if (job.warmStart !== false) warm.put(leave(result.x));
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

  // Forward solve and loss only: `strategy.value` (with the rule's forward-only valueBound),
  // else a bare `solve` (no value bound).
  function runValue(job: SampleJob, request: HypergradientRequest<Data>, warm: WarmAccess, x0: tf.Tensor | undefined): SampleOutcome {
    const policy = policyFor(job.onNotConverged);
    if (typeof task.strategy.value === 'function') {
      let r;
      try {
        r = valueWithPolicy('pool', task.strategy, request, policy);
      } finally {
        x0?.dispose();
      }
      try {
        if (job.warmStart !== false) warm.put(leave(r.x));
        return {
          sample: job.sample, value: r.value, bound: NaN, valueBound: r.valueBound ?? NaN, work: r.work, converged: r.converged,
          status: r.status, message: r.message, residuals: { forward: r.residuals.forward },
        };
      } finally {
        r.dispose();
      }
    }
    if (typeof task.strategy.solve !== 'function') {
      x0?.dispose();
      throw new Error(`strategy '${task.strategy.name}' has no value() or solve(); value-only requests need one`);
    }
    let solved;
    try {
      solved = task.strategy.solve(request);
    } finally {
      x0?.dispose();
    }
    try {
      policy.settleSolve('pool', 'forward', solved, task.strategy.name, job.tol);
      if (job.warmStart !== false) warm.put(leave(solved.x));
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
