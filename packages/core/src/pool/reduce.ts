/**
 * The fixed-order reduction of per-sample outcomes, and the pooled hypergradient built on
 * it.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import { addWork, type Work } from '../work.js';
import { defineOptions, opt } from '../options.js';
import type { PoolPolicy, PoolRequest, SampleOutcome, SamplePool } from './types.js';
import { isSamplePool } from './types.js';

/** The reduced result of a batch: what {@link pooledHypergradient} returns. */
export interface PooledResult {
  /** Σ wᵢ ℓᵢ in the order of the samples. */
  value: number;
  /** Σ wᵢ ∇θℓᵢ (absent for value-only requests). The caller owns it (`dispose()`). */
  grad?: Params;
  /** Σ wᵢ boundᵢ: a bound on the gradient error of the average (triangle inequality); NaN when a sample has none. */
  bound: number;
  /** Σ wᵢ valueBoundᵢ. */
  valueBound: number;
  /** Sum of the samples' work. */
  work: Work;
  /** Whether every sample converged. */
  converged: boolean;
  /** `'converged'`, or the status of the first unconverged sample. */
  status: string;
  /** The first unconverged sample's message (prefixed with its index), or the first message. */
  message: string;
  /** The per-sample outcomes, in order. */
  outcomes: SampleOutcome[];
  dispose(): void;
}

/**
 * Sums per-sample outcomes in their given order: `value = Σ wᵢ vᵢ`, `grad = Σ wᵢ gᵢ`,
 * with `wᵢ = 1/n` (`'mean'`) or 1 (`'sum'`), accumulated in float64 and rounded to float32
 * once, so the result depends only on the outcomes and their order, never on which worker
 * finished first.
 *
 * @param outcomes - one per sample, in the order to sum.
 * @param reduce - `'mean'` (default) or `'sum'`.
 * @returns the {@link PooledResult} (its `grad` tensors are the caller's).
 * @example
 * ```ts
 * const r = reduceSamples(pool.run({ kind: 'hypergradient', theta, samples: [0, 1, 2] }));
 * r.dispose();
 * ```
 */
export function reduceSamples(outcomes: readonly SampleOutcome[], reduce: 'mean' | 'sum' = 'mean'): PooledResult {
  if (outcomes.length === 0) throw new Error('reduceSamples: no outcomes to reduce; ask for at least one sample.');
  const w = reduce === 'mean' ? 1 / outcomes.length : 1;
  let value = 0;
  let bound = 0;
  let valueBound = 0;
  const sums = new Map<string, { shape: number[]; acc: Float64Array }>();
  const withGrad = outcomes[0].grad != null;
  for (const o of outcomes) {
    value += w * o.value;
    bound += w * o.bound;
    valueBound += w * o.valueBound;
    if (!withGrad) continue;
    if (o.grad == null) throw new Error(`reduceSamples: sample ${o.sample} has no gradient while sample ${outcomes[0].sample} has one.`);
    for (const k of Object.keys(o.grad).sort()) {
      const g = o.grad[k];
      let s = sums.get(k);
      if (s == null) {
        s = { shape: g.shape.slice(), acc: new Float64Array(g.values.length) };
        sums.set(k, s);
      }
      if (g.values.length !== s.acc.length) throw new Error(`reduceSamples: gradient '${k}' of sample ${o.sample} has ${g.values.length} entries, expected ${s.acc.length}.`);
      for (let j = 0; j < g.values.length; j++) s.acc[j] += w * g.values[j];
    }
  }
  let grad: Params | undefined;
  if (withGrad) {
    grad = {};
    for (const [k, s] of sums) grad[k] = tf.tensor(Float32Array.from(s.acc), s.shape, 'float32');
  }
  const bad = outcomes.find((o) => !o.converged);
  return {
    value,
    grad,
    bound,
    valueBound,
    work: addWork(...outcomes.map((o) => o.work)),
    converged: bad == null,
    status: bad == null ? 'converged' : bad.status,
    message: bad == null ? outcomes[0].message : `sample ${bad.sample}: ${bad.message}`,
    outcomes: outcomes.slice(),
    dispose: () => {
      if (grad != null) for (const t of Object.values(grad)) t.dispose();
    },
  };
}

/** Options of {@link pooledHypergradient}. */
export interface PooledHypergradientOptions extends Omit<PoolRequest, 'kind'> {
  /** `'hypergradient'` (default) or `'value'` (forward solves and losses only). */
  kind?: PoolRequest['kind'];
  /** `'mean'` (default: the average over the samples) or `'sum'`. */
  reduce?: 'mean' | 'sum';
}

const POLICY = opt.custom(
  "'warn', 'error', 'tighten' or { tighten: { retries, factor } }",
  (v) => v === 'warn' || v === 'error' || v === 'tighten' || (v != null && typeof v === 'object' && 'tighten' in (v as object)),
  '{ fallback } cannot cross a thread: put the fallback strategy in the task module',
);
const POOLED_OPTIONS = defineOptions<PooledHypergradientOptions>('pooledHypergradient', {
  kind: opt.oneOf(['hypergradient', 'value']),
  theta: opt.any(),
  samples: opt.custom('an array of sample indices (integers ≥ 0)', (v) => Array.isArray(v) && v.length > 0 && v.every((i) => Number.isInteger(i) && i >= 0)),
  tol: opt.number({ gt: 0 }),
  linearTol: opt.number({ gt: 0 }),
  maxIter: opt.integer({ min: 1 }),
  linearMaxIter: opt.integer({ min: 1 }),
  warmStart: opt.boolean(),
  onNotConverged: POLICY,
  reduce: opt.oneOf(['mean', 'sum']),
}, pooledHypergradient);

/**
 * The hypergradient of a batch computed sample by sample on a {@link SamplePool}:
 * `∇F_B(θ) = (1/|B|) Σ_{i ∈ B} ∇θ ℓ(x̂ᵢ(θ), θ; dataᵢ)`, summed by {@link reduceSamples} in the
 * order of `samples`.
 *
 * @param pool - the engine (`inlinePool`, `workerPool`, `distributedPool`).
 * @param options - θ, the sample indices, accuracies, `reduce`.
 * @returns the {@link PooledResult}; the caller disposes it.
 * @example
 * ```ts
 * const pool = await workerPool({ module: new URL('./task.ts', import.meta.url), threads: 2 });
 * const r = pooledHypergradient(pool, { theta, samples: [0, 1, 2, 3, 4, 5, 6, 7], tol: 1e-4 });
 * console.log(r.value, r.converged);
 * r.dispose();
 * await pool.close();
 * ```
 */
export function pooledHypergradient(pool: SamplePool, options: PooledHypergradientOptions): PooledResult {
  if (!isSamplePool(pool)) throw new Error('pooledHypergradient: the first argument must be a pool (inlinePool(task), workerPool(...) from @bilevel/pool, ...).');
  const o = POOLED_OPTIONS.check(options);
  if (o.theta == null || typeof o.theta !== 'object' || o.theta instanceof tf.Tensor) throw new Error("pooledHypergradient: option 'theta' must be a tree of tensors such as { logAlpha: tf.scalar(0) }.");
  if (o.samples == null) throw new Error("pooledHypergradient: option 'samples' is required (the indices of the batch).");
  for (const i of o.samples) if (i >= pool.samples) throw new Error(`pooledHypergradient: sample ${i} is outside 0 … ${pool.samples - 1} (the task defines ${pool.samples} samples).`);
  const { reduce, kind, ...rest } = o;
  const outcomes = pool.run({ ...rest, kind: kind ?? 'hypergradient', onNotConverged: rest.onNotConverged as PoolPolicy | undefined } as PoolRequest);
  return reduceSamples(outcomes, reduce);
}
